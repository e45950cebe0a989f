//! Expiry reminders against a real SMTP server (aiosmtpd, `tests/python/smtp_sink.py`) and a
//! webhook receiver in this process: exactly one mail and one signed webhook per expiring key,
//! across two servers on one data dir, a restart and a cron run; none for keys that expire later
//! or were revoked; retries, then a recorded failure.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::util::{HttpServer, TestDir};

/// A real SMTP server run by Python's aiosmtpd, saving each message to a folder.
struct SmtpSink {
    child: Child,
    port: u16,
    folder: PathBuf,
}

impl SmtpSink {
    /// Starts the sink, or None (after saying why) when aiosmtpd is missing outside CI.
    fn start(dir: &TestDir) -> Option<SmtpSink> {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let has_aiosmtpd = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            let why = format!(
                "{python} has no aiosmtpd: run `{python} -m pip install -r tests/python/requirements.txt`"
            );
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os("DOCWARD_REQUIRE_ALL").is_some();
            assert!(!required, "{why}");
            eprintln!("skipping the reminder test: {why}");
            return None;
        }
        let folder = dir.path().join("mail");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smtp_sink.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(&folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start: {line:?}"));
        Some(SmtpSink {
            child,
            port,
            folder,
        })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order, decoded (headers and text body).
    fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.folder)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "txt"));
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the webhook receiver saw.
#[derive(Debug, Clone)]
struct Delivery {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    status: u16,
}

impl Delivery {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on a loopback port. Paths under `/flaky/` refuse the first attempt of
/// each delivery with 503; paths under `/down/` always answer 500; others answer 204.
struct Receiver {
    base: String,
    seen: Arc<Mutex<Vec<Delivery>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&seen);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(
                    move |uri: axum::http::Uri,
                          headers: axum::http::HeaderMap,
                          body: axum::body::Bytes| {
                        let state = Arc::clone(&state);
                        async move { receive(&state, uri.path(), &headers, &body) }
                    },
                );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Receiver {
            base: format!("http://{addr}"),
            seen,
            stop: Some(stop_tx),
        }
    }

    fn seen(&self) -> Vec<Delivery> {
        self.seen.lock().unwrap().clone()
    }

    /// The deliveries to `prefix` that were accepted.
    fn accepted(&self, prefix: &str) -> Vec<Delivery> {
        self.seen()
            .into_iter()
            .filter(|d| d.path.starts_with(prefix) && d.status < 300)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn receive(
    seen: &Mutex<Vec<Delivery>>,
    path: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> axum::http::StatusCode {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let mut seen = seen.lock().unwrap();
    let delivery = headers.get("x-docward-delivery").cloned();
    let earlier = seen
        .iter()
        .filter(|d| d.headers.get("x-docward-delivery") == delivery.as_ref())
        .count();
    let status = if path.starts_with("/down/") || (path.starts_with("/flaky/") && earlier == 0) {
        if path.starts_with("/down/") { 500 } else { 503 }
    } else {
        204
    };
    seen.push(Delivery {
        path: path.to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// Whether `delivery` carries a valid signature under `secret`, made within the last minute.
fn signed_by(delivery: &Delivery, secret: &str) -> bool {
    let timestamp = &delivery.headers["x-docward-timestamp"];
    let age = docward::clock::now() - timestamp.parse::<i64>().unwrap();
    let Some(hex) = delivery.headers["x-docward-signature"].strip_prefix("sha256=") else {
        return false;
    };
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&delivery.body);
    (0..60).contains(&age) && mac.verify_slice(&bytes).is_ok()
}

/// Creates a key named `name` with extra arguments; returns (id, token, display prefix).
fn key(dir: &TestDir, tenant: &str, name: &str, extra: &[&str]) -> (String, String, String) {
    let mut args = vec![
        "key",
        "create",
        "--tenant",
        tenant,
        "--name",
        name,
        "--env",
        "live",
        "--scope",
        "mcp:search",
        "--json",
    ];
    args.extend(extra);
    let created = dir.cmd(&args).run().json();
    let field = |name: &str| created[name].as_str().unwrap().to_owned();
    (field("id"), field("token"), field("prefix"))
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reminder_records(dir: &TestDir) -> Vec<Value> {
    dir.cmd(&["reminders", "list", "--json"])
        .run()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

const SERVER_SECRET: &str = "server-wide-secret-for-the-test-0123456789";

#[test]
fn one_mail_and_one_signed_webhook_per_expiring_key_across_two_servers_and_a_restart() {
    let dir = TestDir::new();
    let Some(smtp) = SmtpSink::start(&dir) else {
        return;
    };
    let hooks = Receiver::start();
    dir.tenant("acme", "pro");
    dir.tenant("beta", "pro");
    let acme_hook = format!("{}/flaky/acme", hooks.base);
    let updated = dir
        .cmd(&[
            "tenant",
            "update",
            "acme",
            "--email",
            "ops@acme.test",
            "--webhook-url",
            &acme_hook,
            "--json",
        ])
        .run()
        .json();
    let tenant_secret = updated["webhook_secret"].as_str().unwrap().to_owned();
    assert!(tenant_secret.starts_with("whsec_"), "{updated}");
    assert_eq!(updated["email"], "ops@acme.test");
    // The secret is shown once: not by `show` or `list`, and not kept in the store.
    let shown = dir.cmd(&["tenant", "show", "acme", "--json"]).run().json();
    assert_eq!(shown["email"], "ops@acme.test");
    assert_eq!(shown["webhook_url"], acme_hook.as_str());
    assert!(shown.get("webhook_secret").is_none(), "{shown}");
    let listed = dir.cmd(&["tenant", "list"]).run().stdout();
    assert!(listed.contains("ops@acme.test"), "{listed}");

    let (soon, soon_token, prefix) =
        key(&dir, "acme", "Production Claude", &["--expires-in", "5d"]);
    let (later, ..) = key(&dir, "acme", "Later", &["--expires-in", "30d"]);
    let (revoked, ..) = key(&dir, "acme", "Revoked", &["--expires-in", "3d"]);
    dir.cmd(&["key", "revoke", &revoked]).run();
    let (forever, ..) = key(&dir, "acme", "Forever", &[]);
    let (beta_soon, ..) = key(&dir, "beta", "Beta CI", &["--expires-in", "2d"]);

    let smtp_url = smtp.url();
    let server_hook = format!("{}/server", hooks.base);
    let flags: Vec<&str> = vec![
        "--smtp-url",
        &smtp_url,
        "--mail-from",
        "Docward <reminders@docward.test>",
        "--webhook-url",
        &server_hook,
        "--webhook-secret",
        SERVER_SECRET,
        "--reminder-interval",
        "200ms",
        "--reminder-backoff",
        "50ms",
    ];
    let first = HttpServer::start(&dir, "live", &flags);
    let second = HttpServer::start(&dir, "live", &flags);
    wait_for("the reminders", Duration::from_secs(30), || {
        !smtp.messages().is_empty()
            && hooks.accepted("/flaky/").len() == 1
            && hooks.accepted("/server").len() == 2
    });
    // Many more scans by both servers, then a restart and a cron run, send nothing more.
    std::thread::sleep(Duration::from_secs(2));
    assert!(first.terminate().success());
    let restarted = HttpServer::start(&dir, "live", &flags);
    std::thread::sleep(Duration::from_secs(2));
    let mut cron = vec!["reminders", "run", "--json"];
    cron.extend(&flags[..8]);
    let ran = dir.cmd(&cron).run().json();
    assert_eq!(ran["sent"], 0, "{ran}");
    assert_eq!(ran["skipped"], 4, "{ran}");

    // Exactly one mail, to the tenant's address, about the key that expires within 7 days.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert!(mail.contains("X-Envelope-To: ops@acme.test"), "{mail}");
    assert!(mail.contains("reminders@docward.test"), "{mail}");
    for needle in [
        "Production Claude",
        prefix.as_str(),
        soon.as_str(),
        &format!("docward key rotate {soon}"),
    ] {
        assert!(mail.contains(needle), "{needle} missing from\n{mail}");
    }
    // Whole days left, rounded down: 5 when the scan ran within a second of the key's creation,
    // else 4.
    assert!(
        mail.contains("in 4 days") || mail.contains("in 5 days"),
        "days left missing from\n{mail}"
    );
    assert!(!mail.contains(&soon_token), "the token is in the mail");

    // The tenant's webhook: one delivery accepted, after one refused attempt, signed with the
    // tenant's secret; the server's webhook: one per expiring key of every tenant.
    let tenant_deliveries = hooks.accepted("/flaky/");
    assert_eq!(tenant_deliveries.len(), 1);
    let delivery = &tenant_deliveries[0];
    assert!(signed_by(delivery, &tenant_secret), "{delivery:?}");
    assert!(!signed_by(delivery, SERVER_SECRET));
    let body = delivery.json();
    assert_eq!(body["type"], "key.expiring");
    assert_eq!(body["key"]["id"], soon.as_str());
    assert_eq!(body["key"]["name"], "Production Claude");
    assert_eq!(body["rotate_command"], format!("docward key rotate {soon}"));
    assert!(!String::from_utf8_lossy(&delivery.body).contains(&soon_token));
    let attempts = hooks
        .seen()
        .iter()
        .filter(|d| d.path.starts_with("/flaky/"))
        .count();
    assert_eq!(attempts, 2, "one refused attempt, one retry");

    let server_deliveries = hooks.accepted("/server");
    let mut server_keys: Vec<String> = server_deliveries
        .iter()
        .map(|d| {
            assert!(signed_by(d, SERVER_SECRET), "{d:?}");
            d.json()["key"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    server_keys.sort();
    let mut expected = vec![soon.clone(), beta_soon.clone()];
    expected.sort();
    assert_eq!(server_keys, expected);
    for quiet in [&later, &revoked, &forever] {
        assert!(
            hooks
                .seen()
                .iter()
                .all(|d| !String::from_utf8_lossy(&d.body).contains(quiet.as_str())),
            "a reminder went out for {quiet}"
        );
    }

    // The store records each reminder as sent.
    let records = reminder_records(&dir);
    assert_eq!(records.len(), 4, "{records:#?}");
    assert!(records.iter().all(|r| r["state"] == "sent"), "{records:#?}");
    let tenant_webhook = records
        .iter()
        .find(|r| r["channel"] == "tenant_webhook")
        .unwrap();
    assert_eq!(tenant_webhook["attempts"], 2);

    // No secret reached a log.
    let logs = second.log() + &restarted.log();
    for secret in [tenant_secret.as_str(), SERVER_SECRET, soon_token.as_str()] {
        assert!(!logs.contains(secret), "a secret is in the server log");
    }
    assert!(logs.contains("sent an expiry reminder"), "{logs}");
}

#[test]
fn a_webhook_that_keeps_failing_is_retried_then_recorded_as_failed_and_left_alone() {
    let dir = TestDir::new();
    let hooks = Receiver::start();
    dir.tenant("acme", "pro");
    let down = format!("{}/down/acme", hooks.base);
    dir.cmd(&["tenant", "update", "acme", "--webhook-url", &down])
        .run();
    let (soon, ..) = key(&dir, "acme", "CI", &["--expires-in", "1d"]);
    let run = |dir: &TestDir| {
        dir.cmd(&[
            "reminders",
            "run",
            "--reminder-attempts",
            "3",
            "--reminder-backoff",
            "20ms",
        ])
    };
    let failed = run(&dir).run_fail();
    assert!(failed.stdout().contains("1 failed"), "{}", failed.dump());
    assert_eq!(hooks.seen().len(), 3, "three attempts");
    let records = reminder_records(&dir);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["key_id"], soon.as_str());
    assert_eq!(records[0]["state"], "failed");
    assert_eq!(records[0]["attempts"], 3);
    assert!(
        records[0]["error"].as_str().unwrap().contains("500"),
        "{records:?}"
    );
    // Given up on: a later run does not try again.
    let again = run(&dir).run();
    assert!(
        again.stdout().contains("0 sent, 0 failed"),
        "{}",
        again.dump()
    );
    assert_eq!(hooks.seen().len(), 3);
}

#[test]
fn contact_and_delivery_settings_are_checked_with_a_fix() {
    let dir = TestDir::new();
    dir.tenant("acme", "free");
    let bad_mail = dir
        .cmd(&["tenant", "update", "acme", "--email", "ops-at-acme"])
        .run_fail();
    assert!(
        bad_mail.stderr().contains("ops@example.com"),
        "{}",
        bad_mail.dump()
    );
    let bad_hook = dir
        .cmd(&["tenant", "update", "acme", "--webhook-url", "ftp://x/y"])
        .run_fail();
    assert!(
        bad_hook.stderr().contains("https://"),
        "{}",
        bad_hook.dump()
    );
    let rotate = dir
        .cmd(&["tenant", "update", "acme", "--rotate-webhook-secret"])
        .run_fail();
    assert!(
        rotate.stderr().contains("--webhook-url"),
        "{}",
        rotate.dump()
    );
    let no_secret = dir
        .cmd(&["reminders", "run", "--webhook-url", "http://127.0.0.1:9/x"])
        .run_fail();
    assert!(
        no_secret.stderr().contains("DOCWARD_WEBHOOK_SECRET"),
        "{}",
        no_secret.dump()
    );
    let bad_smtp = dir
        .cmd(&["reminders", "run", "--smtp-url", "mail.example.com"])
        .run_fail();
    assert!(
        bad_smtp.stderr().contains("smtps://"),
        "{}",
        bad_smtp.dump()
    );
    // Rotating the webhook secret shows a new one, once.
    let set = dir
        .cmd(&[
            "tenant",
            "update",
            "acme",
            "--webhook-url",
            "https://hooks.example.com/a",
            "--json",
        ])
        .run()
        .json();
    let rotated = dir
        .cmd(&[
            "tenant",
            "update",
            "acme",
            "--rotate-webhook-secret",
            "--json",
        ])
        .run()
        .json();
    assert_ne!(set["webhook_secret"], rotated["webhook_secret"]);
    assert!(rotated["webhook_secret"].as_str().is_some());
    let key_file = dir.data_dir().join("secrets").join("webhook.key");
    assert!(key_file.exists());
    // The store holds no secret: neither tenant secret appears in its files.
    for secret in [&set["webhook_secret"], &rotated["webhook_secret"]] {
        let secret = secret.as_str().unwrap();
        assert!(!dir_contains(&dir.data_dir().join("store"), secret));
    }
}

fn dir_contains(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            dir_contains(&path, needle)
        } else {
            std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        }
    })
}

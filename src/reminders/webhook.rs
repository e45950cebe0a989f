//! Signed webhook POSTs. The body is the reminder as JSON; `X-Docward-Timestamp` carries the Unix
//! time of the attempt and `X-Docward-Signature` is `sha256=` and the hex HMAC-SHA256, under the
//! webhook's secret, of `<timestamp>.<body>`. A failed attempt is retried with exponential
//! backoff; after the last one the reminder is recorded as failed.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::error::{ReminderError, ReminderResult};
use super::secret::hex;

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where and how to POST.
#[derive(Clone)]
pub struct WebhookTarget {
    /// http(s) URL.
    pub url: reqwest::Url,
    /// The signing secret (never logged).
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

/// Checks a webhook URL: http or https, with a host, without credentials.
pub fn parse_url(text: &str) -> ReminderResult<reqwest::Url> {
    let url = reqwest::Url::parse(text).map_err(|e| {
        ReminderError::WebhookConfig(format!(
            "webhook URL '{text}' is not a URL ({e}): give one such as https://hooks.example.com/docward"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ReminderError::WebhookConfig(format!(
            "webhook URL '{text}' must be http:// or https:// with a host, e.g. https://hooks.example.com/docward"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ReminderError::WebhookConfig(
            "the webhook URL carries a user name or password: docward signs its requests instead (X-Docward-Signature); remove the credentials from the URL".into(),
        ));
    }
    Ok(url)
}

/// `sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// How many attempts, and the pause before the second (doubled after each).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The first pause.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// The longest all attempts together can take.
    pub fn worst_case(&self) -> Duration {
        let mut total = ATTEMPT_TIMEOUT * self.attempts;
        let mut pause = self.backoff;
        for _ in 1..self.attempts {
            total += pause;
            pause = (pause * 2).min(MAX_BACKOFF);
        }
        total
    }
}

/// The HTTP client for webhooks (TLS by rustls; no redirects, so a signed body goes only where
/// it was meant to).
pub fn client() -> reqwest::Client {
    super::tls::install_provider();
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("docward/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the webhook client's settings are valid")
}

/// POSTs `body` until it is accepted (2xx) or the attempts run out. Returns the attempts made,
/// and the last error if none was accepted.
pub async fn deliver(
    client: &reqwest::Client,
    target: &WebhookTarget,
    delivery_id: &str,
    body: &[u8],
    policy: RetryPolicy,
) -> (u32, Result<(), String>) {
    let mut pause = policy.backoff;
    let attempts = policy.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let timestamp = crate::clock::now();
        let sent = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .header("x-docward-delivery", delivery_id)
            .header("x-docward-timestamp", timestamp.to_string())
            .header(
                "x-docward-signature",
                signature(&target.secret, timestamp, body),
            )
            .body(body.to_vec())
            .send()
            .await;
        let retry = match sent {
            Ok(response) if response.status().is_success() => return (attempt, Ok(())),
            Ok(response) => {
                let status = response.status();
                last = format!("the webhook answered {status}");
                // Client errors other than timeouts and rate limits will not change on retry.
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
            }
            Err(e) => {
                last = format!("the webhook could not be reached: {}", without_url(&e));
                true
            }
        };
        if !retry {
            return (attempt, Err(last));
        }
        if attempt < attempts {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }
    (attempts, Err(last))
}

/// reqwest's error text without the URL (which may carry a token in its query).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<webhook URL>");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        // Key "Jefe" (as in RFC 4231 case 2); checked against an independent HMAC below.
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        assert!(sig.starts_with("sha256="));
        assert_eq!(sig.len(), 7 + 64);
        assert_ne!(sig, signature("Jefe", 1, b"what do ya want for nothing?"));
        assert_ne!(sig, signature("Jefe", 0, b"what do ya want for nothing!"));
        assert_ne!(sig, signature("Jeff", 0, b"what do ya want for nothing?"));
        // HMAC-SHA256("Jefe", "0.what do ya want for nothing?") computed with Python's hmac.
        assert_eq!(
            signature("Jefe", 0, b"what do ya want for nothing?"),
            "sha256=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }

    #[test]
    fn webhook_urls_are_checked() {
        assert!(parse_url("https://hooks.example.com/x").is_ok());
        assert!(parse_url("http://127.0.0.1:9/x").is_ok());
        for bad in [
            "hooks.example.com",
            "ftp://x/y",
            "https://u:p@x/y",
            "not a url",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let policy = RetryPolicy {
            attempts: 3,
            backoff: Duration::from_secs(1),
        };
        assert_eq!(
            policy.worst_case(),
            ATTEMPT_TIMEOUT * 3 + Duration::from_secs(3)
        );
    }
}

//! `docward key ...`

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;

use docward::auth::inspect;
use docward::clock::{self, Timestamp};
use docward::domain::{Env, Scope, TokenType};
use docward::keys::{self, CreatedKey, NewKey};
use docward::store::{KeyRecord, KeyStatus, KeyStore};
use docward::token::Token;

use super::output::{print_json, print_table};
use super::{DEFAULT_ENV, hints};

/// A key that expires within this many seconds is flagged in listings.
const EXPIRES_SOON_SECS: i64 = 7 * 86_400;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; its token is printed once and never again
    Create {
        /// Owning tenant
        #[arg(long)]
        tenant: String,
        /// A label, e.g. "Production Claude Desktop"
        #[arg(long)]
        name: String,
        /// test or live: the key works only against a server of the same environment
        #[arg(long, default_value = DEFAULT_ENV)]
        env: Env,
        /// restricted (needs --scope) or unrestricted (every scope)
        #[arg(long = "type", default_value = "restricted", value_name = "TYPE")]
        token_type: TokenType,
        /// A scope: mcp:search, mcp:get_doc, mcp:list_repos, repo:read, repo:write (repeatable)
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<Scope>,
        /// Lifetime, e.g. 30s, 15m, 12h, 90d
        #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// Expiry as RFC 3339, e.g. 2027-03-01T00:00:00Z
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        /// Print one JSON object (including the token) instead of the bare token
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their tokens)
    List {
        /// Only this tenant's keys
        #[arg(long)]
        tenant: Option<String>,
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// Show one key by id or display prefix
    Show {
        /// Key id (key_...) or display prefix (dw_live_AbCd1234)
        id: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key now; final, and effective on the next request
    Revoke {
        /// Key id or display prefix
        id: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Replace a key with a new one; the old one keeps working for the grace period
    Rotate {
        /// Key id or display prefix
        id: String,
        /// How long the old key keeps working, e.g. 24h; 0s ends it now
        #[arg(long, default_value = "24h", value_name = "DURATION")]
        grace: String,
        /// Print one JSON object (including the new token)
        #[arg(long)]
        json: bool,
    },
    /// Check a token from DOCWARD_API_KEY or stdin: who it is, or why it is refused
    Verify {
        /// Also check the key against a server of this environment
        #[arg(long)]
        env: Option<Env>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// A key as shown to people and machines: never the token, never its hash.
#[derive(Serialize)]
struct KeyView {
    id: String,
    name: String,
    prefix: String,
    tenant: String,
    env: Env,
    #[serde(rename = "type")]
    token_type: TokenType,
    scopes: Vec<Scope>,
    created_at: String,
    last_used_at: Option<String>,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    rotated_to: Option<String>,
    status: KeyStatus,
    expires_soon: bool,
}

impl KeyView {
    fn new(key: &KeyRecord, now: Timestamp) -> KeyView {
        let status = key.status(now);
        KeyView {
            id: key.id.clone(),
            name: key.name.clone(),
            prefix: key.display(),
            tenant: key.tenant.clone(),
            env: key.env,
            token_type: key.token_type,
            scopes: key.effective_scopes(),
            created_at: clock::format(key.created_at),
            last_used_at: key.last_used_at.map(clock::format),
            expires_at: key.expires_at.map(clock::format),
            revoked_at: key.revoked_at.map(clock::format),
            rotated_to: key.rotated_to.clone(),
            status,
            expires_soon: status == KeyStatus::Active
                && key
                    .expires_at
                    .is_some_and(|at| at - now <= EXPIRES_SOON_SECS),
        }
    }

    fn status_cell(&self) -> String {
        if self.expires_soon {
            format!("{} (expires soon!)", self.status.as_str())
        } else {
            self.status.as_str().to_owned()
        }
    }

    fn scopes_cell(&self) -> String {
        if self.token_type == TokenType::Unrestricted {
            "all (unrestricted)".to_owned()
        } else {
            self.scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// The new key as printed once by `create` and `rotate --json`.
#[derive(Serialize)]
struct CreatedView<'a> {
    id: &'a str,
    token: &'a str,
    prefix: String,
    tenant: &'a str,
    name: &'a str,
    env: Env,
    #[serde(rename = "type")]
    token_type: TokenType,
    scopes: Vec<Scope>,
    created_at: String,
    expires_at: Option<String>,
}

impl<'a> CreatedView<'a> {
    fn new(created: &'a CreatedKey) -> Self {
        let r = &created.record;
        CreatedView {
            id: &r.id,
            token: created.token.expose(),
            prefix: r.display(),
            tenant: &r.tenant,
            name: &r.name,
            env: r.env,
            token_type: r.token_type,
            scopes: r.effective_scopes(),
            created_at: clock::format(r.created_at),
            expires_at: r.expires_at.map(clock::format),
        }
    }
}

const SHOWN_ONCE: &str =
    "This token is shown only once; store it in a secret manager. docward keeps only its hash.";

pub fn run(cmd: KeyCommand, store: &dyn KeyStore) -> Result<ExitCode> {
    let now = clock::now();
    match cmd {
        KeyCommand::Create {
            tenant,
            name,
            env,
            token_type,
            scopes,
            expires_in,
            expires_at,
            json,
        } => {
            let expires_at = match (expires_in, expires_at) {
                (Some(d), _) => {
                    let secs = clock::parse_duration(&d)
                        .map_err(anyhow::Error::msg)?
                        .as_secs();
                    if secs == 0 {
                        bail!("--expires-in must be longer than 0s");
                    }
                    Some(now + secs as i64)
                }
                (None, Some(t)) => Some(clock::parse_rfc3339(&t).map_err(anyhow::Error::msg)?),
                (None, None) => None,
            };
            let created = keys::create_key(
                store,
                NewKey {
                    tenant,
                    name,
                    env,
                    token_type,
                    scopes,
                    expires_at,
                },
                now,
            )
            .map_err(|e| hints::key_error(store, e))?;
            print_created(&created, json)?;
            eprintln!(
                "Created key {} ({}) for tenant '{}'. {SHOWN_ONCE}",
                created.record.id,
                created.record.display(),
                created.record.tenant
            );
        }
        KeyCommand::List { tenant, json } => {
            if let Some(t) = &tenant
                && store.tenant(t)?.is_none()
            {
                bail!("no tenant named '{t}': see `docward tenant list`");
            }
            let views: Vec<KeyView> = store
                .keys(tenant.as_deref())?
                .iter()
                .map(|k| KeyView::new(k, now))
                .collect();
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                eprintln!(
                    "No keys yet: create one with `docward key create --tenant NAME --name LABEL --env test --scope mcp:search`"
                );
            } else {
                print_key_table(&views)?;
            }
        }
        KeyCommand::Show { id, json } => {
            let view = KeyView::new(&keys::find_key(store, &id)?, now);
            if json {
                print_json(&view)?;
            } else {
                print_key_details(&view);
            }
        }
        KeyCommand::Revoke { id, json } => {
            let found = keys::find_key(store, &id)?;
            let successor = match &found.rotated_to {
                Some(next) => store.key(next)?,
                None => None,
            };
            if found.revoked_at.is_some() {
                return Err(hints::already_revoked(&found, successor.as_ref()));
            }
            let key = keys::revoke_key(store, &found.id, now)?;
            if json {
                print_json(&KeyView::new(&key, now))?;
            } else {
                println!(
                    "Revoked key {} ({}, '{}'): it is refused from the next request on.",
                    key.id,
                    key.display(),
                    key.name
                );
                print_rotation_relatives(store, &key, successor.as_ref(), now)?;
            }
        }
        KeyCommand::Rotate { id, grace, json } => {
            let grace = clock::parse_duration(&grace)
                .map_err(anyhow::Error::msg)?
                .as_secs() as i64;
            let old = keys::find_key(store, &id)?;
            if let Some(next) = &old.rotated_to {
                bail!(
                    "key {} was already rotated into {next}; rotate that one instead: `docward key rotate {next}`",
                    old.id
                );
            }
            let rotation = keys::rotate_key(store, &old.id, grace, now)
                .map_err(|e| hints::key_error(store, e))?;
            print_created(&rotation.new, json)?;
            let old = &rotation.old;
            let until = if grace == 0 {
                "it stops working now".to_owned()
            } else {
                format!(
                    "it keeps working until {}",
                    clock::format_short(old.expires_at.unwrap_or(now))
                )
            };
            eprintln!(
                "Rotated {} ({}) into {} ({}); {until}. {SHOWN_ONCE}\nNext: update the client with the new token, test it, then revoke the old key early with `docward key revoke {}` if you like.",
                old.id,
                old.display(),
                rotation.new.record.id,
                rotation.new.record.display(),
                old.id
            );
        }
        KeyCommand::Verify { env, json } => return verify(store, env, json, now),
    }
    Ok(ExitCode::SUCCESS)
}

/// After a revocation, names the keys of the same rotation that still work: the successor a
/// rotated key was replaced by, and a predecessor still in its grace period.
fn print_rotation_relatives(
    store: &dyn KeyStore,
    key: &KeyRecord,
    successor: Option<&KeyRecord>,
    now: Timestamp,
) -> Result<()> {
    if let Some(next) = successor.filter(|k| k.status(now) == KeyStatus::Active) {
        println!(
            "It had been rotated into {} ({}), which still works. To stop that one too: `docward key revoke {}`",
            next.id,
            next.display(),
            next.id
        );
    }
    let predecessor = store.keys(Some(&key.tenant))?.into_iter().find(|k| {
        k.rotated_to.as_deref() == Some(key.id.as_str()) && k.status(now) == KeyStatus::Active
    });
    if let Some(old) = predecessor {
        println!(
            "It replaced {} ({}), which still works until its grace period ends ({}). To stop that one too: `docward key revoke {}`",
            old.id,
            old.display(),
            old.expires_at
                .map_or_else(|| "never".to_owned(), clock::format_short),
            old.id
        );
    }
    Ok(())
}

fn print_created(created: &CreatedKey, json: bool) -> Result<()> {
    if json {
        print_json(&CreatedView::new(created))
    } else {
        println!("{}", created.token.expose());
        Ok(())
    }
}

fn print_key_table(views: &[KeyView]) -> Result<()> {
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.id.clone(),
                v.name.clone(),
                v.prefix.clone(),
                v.tenant.clone(),
                v.env.to_string(),
                v.token_type.to_string(),
                v.scopes_cell(),
                short(&v.created_at),
                v.last_used_at.as_deref().map_or("never".to_owned(), short),
                v.expires_at.as_deref().map_or("never".to_owned(), short),
                v.status_cell(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "NAME",
            "PREFIX",
            "TENANT",
            "ENV",
            "TYPE",
            "SCOPES",
            "CREATED",
            "LAST USED",
            "EXPIRES",
            "STATUS",
        ],
        &rows,
    )
}

/// Shortens an RFC 3339 time to `YYYY-MM-DD HH:MM` for tables.
fn short(rfc3339: &str) -> String {
    rfc3339
        .get(..16)
        .map_or(rfc3339.to_owned(), |s| s.replace('T', " "))
}

fn print_key_details(v: &KeyView) {
    println!("id:         {}", v.id);
    println!("name:       {}", v.name);
    println!("prefix:     {}", v.prefix);
    println!("tenant:     {}", v.tenant);
    println!("env:        {}", v.env);
    println!("type:       {}", v.token_type);
    println!("scopes:     {}", v.scopes_cell());
    println!("created:    {}", v.created_at);
    println!(
        "last used:  {}",
        v.last_used_at.as_deref().unwrap_or("never")
    );
    println!("expires:    {}", v.expires_at.as_deref().unwrap_or("never"));
    if let Some(at) = &v.revoked_at {
        println!("revoked:    {at}");
    }
    if let Some(id) = &v.rotated_to {
        println!("rotated to: {id}");
    }
    println!("status:     {}", v.status_cell());
}

/// Reads the token to verify: piped stdin first, then DOCWARD_API_KEY, then a prompt.
fn read_presented_token() -> Result<String> {
    let mut stdin = std::io::stdin();
    let piped = !stdin.is_terminal();
    if piped {
        let mut token = String::new();
        stdin
            .read_to_string(&mut token)
            .context("could not read the API key from stdin")?;
        if !token.trim().is_empty() {
            return Ok(token);
        }
    }
    if let Ok(token) = std::env::var("DOCWARD_API_KEY") {
        eprintln!("(checking the key in DOCWARD_API_KEY)");
        return Ok(token);
    }
    if piped {
        return Ok(String::new());
    }
    eprintln!("Paste the API key, then press Enter and Ctrl-D:");
    let mut token = String::new();
    stdin
        .read_to_string(&mut token)
        .context("could not read the API key from stdin")?;
    Ok(token)
}

fn verify(store: &dyn KeyStore, env: Option<Env>, json: bool, now: Timestamp) -> Result<ExitCode> {
    let presented = read_presented_token()?;
    // The record, when the token is well formed and known, so that a refused key is still described.
    let record = Token::parse(&presented).ok().and_then(|t| {
        store
            .key_by_hash(&t.hash())
            .ok()
            .flatten()
            .map(|k| (t.env(), k))
    });
    let server_env = env
        .or(record.as_ref().map(|(e, _)| *e))
        .unwrap_or(Env::Live);
    let verdict = inspect(store, &presented, server_env, now);
    let known = record.as_ref().map(|(_, k)| k);
    let view = known.map(|k| KeyView::new(k, now));
    if json {
        #[derive(Serialize)]
        struct Verdict<'a> {
            valid: bool,
            code: Option<&'static str>,
            error: Option<String>,
            fix: Option<String>,
            key: Option<&'a KeyView>,
        }
        print_json(&Verdict {
            valid: verdict.is_ok(),
            code: verdict.as_ref().err().map(|e| e.code()),
            error: verdict.as_ref().err().map(|e| e.to_string()),
            fix: verdict.as_ref().err().map(|e| hints::verify_fix(e, known)),
            key: view.as_ref(),
        })?;
    } else if let Some(v) = &view {
        print_key_details(v);
    }
    match verdict {
        Ok(p) => {
            if !json {
                let env_note = env.map_or(String::new(), |e| format!(" against a {e} server"));
                eprintln!(
                    "valid: key {} of tenant '{}' (plan {}){env_note}",
                    p.key_id, p.tenant, p.plan
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            if !json {
                eprintln!("refused ({}): {err}", err.code());
                eprintln!("{}", hints::verify_fix(&err, known));
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

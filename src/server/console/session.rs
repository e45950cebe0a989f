//! Sign-in links, session cookies and CSRF tokens. Secrets are 43 base62 characters from the
//! OS CSPRNG; the store keeps only their blake3 hashes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ConsoleState;
use super::pages;
use crate::clock::{self, Timestamp};
use crate::store::{ConsoleGrant, ConsoleSecret, KeyStore, StoreError};
use crate::token;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "docward_console";
/// How long a sign-in link works if no `--ttl` is given: 15 minutes.
pub const DEFAULT_LINK_TTL_SECS: i64 = 15 * 60;
/// How long a console session lasts: 12 hours.
pub const SESSION_TTL_SECS: i64 = 12 * 60 * 60;

const LINK_PREFIX: &str = "dwl_";
const SESSION_PREFIX: &str = "dws_";
const SECRET_LEN: usize = 43;

/// A sign-in link just made: its secret in clear, to print once.
pub struct SignInLink {
    /// The path to open, `/console/link/<secret>`.
    pub path: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Makes a one-time sign-in link for the operator (`tenant: None`) or one tenant.
pub fn create_link(
    store: &dyn KeyStore,
    tenant: Option<&str>,
    ttl_secs: i64,
    now: Timestamp,
) -> Result<SignInLink, StoreError> {
    let secret = new_secret(LINK_PREFIX)?;
    let grant = ConsoleGrant {
        tenant: tenant.map(str::to_owned),
        created_at: now,
        expires_at: now + ttl_secs.max(1),
    };
    store.put_console_grant(ConsoleSecret::Link, &hash(&secret), &grant)?;
    Ok(SignInLink {
        path: format!("/console/link/{secret}"),
        expires_at: grant.expires_at,
    })
}

fn new_secret(prefix: &str) -> Result<String, StoreError> {
    let body = token::random_base62(SECRET_LEN)
        .map_err(|e| StoreError::Remote(format!("no random secret: {e}")))?;
    Ok(format!("{prefix}{body}"))
}

fn hash(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

/// Whether `text` has the shape of a secret with `prefix` (checked before any store lookup, so
/// that an API key or junk never reaches it).
fn well_formed(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == SECRET_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A signed-in browser.
pub(crate) struct Session {
    /// `None` for the operator.
    pub(crate) tenant: Option<String>,
    /// The CSRF token its forms carry.
    pub(crate) csrf: String,
    hash: [u8; 32],
    secret_key: [u8; 32],
}

impl Session {
    /// Whether this session may see `tenant`.
    pub(crate) fn may_see(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|own| own == tenant)
    }

    /// Whether this is the operator.
    pub(crate) fn is_operator(&self) -> bool {
        self.tenant.is_none()
    }

    /// Checks a submitted CSRF token in constant time (blake3's `Hash` compares so).
    pub(crate) fn check_csrf(&self, submitted: Option<&str>) -> bool {
        let expected = csrf_hash(&self.secret_key);
        submitted
            .and_then(|s| blake3::Hash::from_hex(s).ok())
            .is_some_and(|given| given == expected)
    }
}

fn csrf_hash(secret_key: &[u8; 32]) -> blake3::Hash {
    blake3::keyed_hash(secret_key, b"docward console csrf v1")
}

/// The session behind the request's cookie, if any is valid now.
pub(crate) fn current(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Session>, Response> {
    let Some(secret) = cookie(headers) else {
        return Ok(None);
    };
    if !well_formed(&secret, SESSION_PREFIX) {
        return Ok(None);
    }
    let hashed = hash(&secret);
    let grant = state
        .store()
        .console_grant(ConsoleSecret::Session, &hashed, clock::now(), false)
        .map_err(|e| pages::store_error(&e))?;
    Ok(grant.map(|grant| {
        // The CSRF key is derived from the secret itself, so the store's copy cannot forge it.
        let secret_key = *blake3::hash(format!("csrf:{secret}").as_bytes()).as_bytes();
        Session {
            tenant: grant.tenant,
            csrf: csrf_hash(&secret_key).to_hex().to_string(),
            hash: hashed,
            secret_key,
        }
    }))
}

/// The session, or the "sign in first" page.
pub(crate) fn require(state: &ConsoleState, headers: &HeaderMap) -> Result<Session, Response> {
    current(state, headers)?.ok_or_else(pages::signed_out)
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

fn session_cookie(state: &ConsoleState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie text is ASCII")
}

/// `GET /console/link/{secret}`: trades a sign-in link for a session cookie; the link dies.
pub(crate) async fn redeem(
    State(state): State<Arc<ConsoleState>>,
    Path(secret): Path<String>,
) -> Response {
    if !well_formed(&secret, LINK_PREFIX) {
        return pages::link_refused();
    }
    let now = clock::now();
    let store_state = Arc::clone(&state);
    let outcome = tokio::task::spawn_blocking(move || -> Result<Option<String>, StoreError> {
        let store = store_state.store();
        let Some(link) = store.console_grant(ConsoleSecret::Link, &hash(&secret), now, true)?
        else {
            return Ok(None);
        };
        let session = new_secret(SESSION_PREFIX)?;
        let grant = ConsoleGrant {
            tenant: link.tenant,
            created_at: now,
            expires_at: now + SESSION_TTL_SECS,
        };
        store.put_console_grant(ConsoleSecret::Session, &hash(&session), &grant)?;
        Ok(Some(session))
    })
    .await;
    match outcome {
        Ok(Ok(Some(session))) => {
            tracing::info!("console: a sign-in link was used");
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            headers.insert(LOCATION, HeaderValue::from_static("/console/keys"));
            headers.insert(
                SET_COOKIE,
                session_cookie(&state, &session, SESSION_TTL_SECS),
            );
            response
        }
        Ok(Ok(None)) => pages::link_refused(),
        Ok(Err(e)) => pages::store_error(&e),
        Err(_) => pages::store_error(&StoreError::Remote("the sign-in task failed".into())),
    }
}

/// `POST /console/logout`: ends this session and clears its cookie.
pub(crate) async fn logout(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    form: axum::Form<Vec<(String, String)>>,
) -> Response {
    let session = match require(&state, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    if !session.check_csrf(field(&form, "csrf")) {
        return pages::csrf_refused();
    }
    if let Err(e) = state.store().end_console_grants(Some(&session.hash)) {
        return pages::store_error(&e);
    }
    let mut response = pages::signed_out_after_logout();
    response
        .headers_mut()
        .insert(SET_COOKIE, session_cookie(&state, "", 0));
    response
}

/// The first value of a form field.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_secrets_are_well_formed() {
        let good = format!("dwl_{}", "a".repeat(SECRET_LEN));
        assert!(well_formed(&good, LINK_PREFIX));
        assert!(!well_formed(&good, SESSION_PREFIX));
        assert!(!well_formed(
            &format!("dwl_{}", "a".repeat(42)),
            LINK_PREFIX
        ));
        assert!(!well_formed("dw_live_AbCdEfGh", LINK_PREFIX));
        assert!(!well_formed(
            &format!("dwl_{}!", "a".repeat(42)),
            LINK_PREFIX
        ));
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let session = |key: [u8; 32]| Session {
            tenant: None,
            csrf: csrf_hash(&key).to_hex().to_string(),
            hash: [0; 32],
            secret_key: key,
        };
        let (a, b) = (session([1; 32]), session([2; 32]));
        assert!(a.check_csrf(Some(&a.csrf)));
        assert!(!a.check_csrf(Some(&b.csrf)));
        assert!(!a.check_csrf(None));
        assert!(!a.check_csrf(Some("not hex")));
    }
}

//! The API keys page: list with an environment switch, create, the show-once dialog, rotate, and
//! revoke behind a confirmation.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ConsoleState;
use super::pages::{self, Frame, blocking, pick_tenant, render};
use super::session::{self, Session, field};
use super::snippets::{self, Snippet};
use crate::clock::{self, Timestamp};
use crate::domain::{Env, Scope, TokenType};
use crate::keys::{self, CreatedKey, KeyError, NewKey};
use crate::store::{KeyRecord, KeyStatus};

/// A key is "expiring soon" this long before its expiry: 7 days.
const EXPIRING_SOON_SECS: i64 = 7 * 86_400;

type Fields = Vec<(String, String)>;

/// One row of the key list.
struct KeyRow {
    id: String,
    name: String,
    display: String,
    env: &'static str,
    kind: &'static str,
    scopes: String,
    last_used: String,
    created: String,
    expires: String,
    status: &'static str,
    expiring_soon: bool,
    active: bool,
}

impl KeyRow {
    fn new(key: &KeyRecord, now: Timestamp) -> KeyRow {
        let status = key.status(now);
        KeyRow {
            id: key.id.clone(),
            name: key.name.clone(),
            display: key.display(),
            env: key.env.as_str(),
            kind: key.token_type.as_str(),
            scopes: match key.token_type {
                TokenType::Unrestricted => "all scopes".to_owned(),
                TokenType::Restricted => key
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            last_used: key
                .last_used_at
                .map_or_else(|| "never".to_owned(), clock::format_short),
            created: clock::format_short(key.created_at),
            expires: key
                .expires_at
                .map_or_else(|| "never".to_owned(), clock::format_short),
            status: status.as_str(),
            expiring_soon: status == KeyStatus::Active
                && key
                    .expires_at
                    .is_some_and(|at| at - now <= EXPIRING_SOON_SECS),
            active: status == KeyStatus::Active,
        }
    }
}

/// A scope checkbox of the create form.
struct ScopeBox {
    name: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    frame: Frame,
    rows: Vec<KeyRow>,
    env_filter: &'static str,
    scopes: Vec<ScopeBox>,
    has_tenant: bool,
}

#[derive(Template)]
#[template(path = "key_created.html")]
struct CreatedPage {
    frame: Frame,
    heading: String,
    key: String,
    row: KeyRow,
    snippets: Vec<Snippet>,
    old_key: Option<String>,
}

#[derive(Template)]
#[template(path = "revoke.html")]
struct RevokePage {
    frame: Frame,
    row: KeyRow,
}

fn env_filter(asked: Option<&str>) -> &'static str {
    match asked {
        Some("test") => "test",
        Some("live") => "live",
        _ => "all",
    }
}

fn keys_page(
    state: &ConsoleState,
    session: &Session,
    tenant_asked: Option<&str>,
    env_asked: Option<&str>,
) -> Result<KeysPage, Response> {
    let store = state.store();
    let (tenant, tenants) = pick_tenant(store, session, tenant_asked)?;
    let filter = env_filter(env_asked);
    let now = clock::now();
    let rows = if tenant.is_empty() {
        Vec::new()
    } else {
        store
            .keys(Some(&tenant))
            .map_err(|e| pages::store_error(&e))?
            .iter()
            .filter(|k| filter == "all" || k.env.as_str() == filter)
            .rev()
            .map(|k| KeyRow::new(k, now))
            .collect()
    };
    Ok(KeysPage {
        frame: Frame::new("API keys", "keys", session, tenants, &tenant),
        rows,
        env_filter: filter,
        scopes: Scope::ALL
            .into_iter()
            .map(|s| ScopeBox {
                name: s.as_str(),
                checked: s.as_str().starts_with("mcp:"),
            })
            .collect(),
        has_tenant: !tenant.is_empty(),
    })
}

/// `GET /console/keys`
pub(crate) async fn list(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Response {
    blocking(move || {
        let session = match session::require(&state, &headers) {
            Ok(s) => s,
            Err(page) => return page,
        };
        match keys_page(
            &state,
            &session,
            field(&query, "tenant"),
            field(&query, "env"),
        ) {
            Ok(mut page) => {
                page.frame.notice = field(&query, "notice").and_then(notice_text);
                render(StatusCode::OK, &page)
            }
            Err(page) => page,
        }
    })
    .await
}

/// The notices a redirect may ask for (fixed texts: nothing from the URL is echoed).
fn notice_text(code: &str) -> Option<String> {
    match code {
        "revoked" => {
            Some("The key was revoked. Clients using it are refused from their next call.".into())
        }
        _ => None,
    }
}

/// The signed-in session and a valid CSRF token, or the page to answer with.
fn checked(state: &ConsoleState, headers: &HeaderMap, form: &Fields) -> Result<Session, Response> {
    let session = session::require(state, headers)?;
    if !session.check_csrf(field(form, "csrf")) {
        return Err(pages::csrf_refused());
    }
    Ok(session)
}

/// `POST /console/keys`: creates a key and shows it once.
pub(crate) async fn create(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    blocking(move || {
        let session = match checked(&state, &headers, &form) {
            Ok(s) => s,
            Err(page) => return page,
        };
        let store = state.store();
        let (tenant, tenants) = match pick_tenant(store, &session, field(&form, "tenant")) {
            Ok(t) => t,
            Err(page) => return page,
        };
        let now = clock::now();
        let new = match parse_new_key(&form, &tenant, now) {
            Ok(new) => new,
            Err(message) => return form_error(&state, &session, &tenant, &message),
        };
        let env = new.env;
        match keys::create_key(store, new, now) {
            Ok(created) => {
                let frame = Frame::new("Your new API key", "keys", &session, tenants, &tenant);
                show_once(&state, frame, "Your new API key", &created, env, None)
            }
            Err(e) => form_error(&state, &session, &tenant, &key_error_text(&e)),
        }
    })
    .await
}

fn key_error_text(e: &KeyError) -> String {
    match e {
        KeyError::Store(store) if store.code() == "internal" => {
            "The key store failed; nothing was created. Try again.".to_owned()
        }
        other => other.to_string(),
    }
}

/// The keys page again, with the form's error on top.
fn form_error(state: &ConsoleState, session: &Session, tenant: &str, message: &str) -> Response {
    match keys_page(state, session, Some(tenant), None) {
        Ok(mut page) => {
            page.frame.error = Some(message.to_owned());
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(page) => page,
    }
}

fn parse_new_key(form: &Fields, tenant: &str, now: Timestamp) -> Result<NewKey, String> {
    if tenant.is_empty() {
        return Err("There is no tenant yet: create one with `docward tenant create NAME`.".into());
    }
    let env: Env = field(form, "env")
        .unwrap_or("")
        .parse()
        .map_err(|_| "Choose the environment: test or live.".to_owned())?;
    let token_type = match field(form, "type") {
        Some("restricted") => TokenType::Restricted,
        Some("unrestricted") => TokenType::Unrestricted,
        _ => return Err("Choose the key type: restricted or unrestricted.".into()),
    };
    let scopes = match token_type {
        // An unrestricted key holds every scope: the boxes are ignored.
        TokenType::Unrestricted => Vec::new(),
        TokenType::Restricted => form
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.parse::<Scope>())
            .collect::<Result<Vec<_>, _>>()?,
    };
    let expires_at = match field(form, "expiry").unwrap_or("90") {
        "never" => None,
        days => {
            let days: i64 = days
                .parse()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| "Choose an expiry from the list.".to_owned())?;
            Some(now + days * 86_400)
        }
    };
    Ok(NewKey {
        tenant: tenant.to_owned(),
        name: field(form, "name").unwrap_or("").to_owned(),
        env,
        token_type,
        scopes,
        expires_at,
    })
}

/// The show-once page: the key in clear, a copy button and each client's snippet.
fn show_once(
    state: &ConsoleState,
    frame: Frame,
    heading: &str,
    created: &CreatedKey,
    env: Env,
    old_key: Option<String>,
) -> Response {
    let key = created.token.expose().to_owned();
    tracing::info!(key = %created.record.display(), tenant = %created.record.tenant, "console: key created");
    render(
        StatusCode::OK,
        &CreatedPage {
            frame,
            heading: heading.to_owned(),
            snippets: snippets::all(&state.config.snippets, env, &key),
            key,
            row: KeyRow::new(&created.record, clock::now()),
            old_key,
        },
    )
}

/// A key this session may act on.
fn own_key(state: &ConsoleState, session: &Session, id: &str) -> Result<KeyRecord, Response> {
    match state.store().key(id) {
        Ok(Some(key)) if session.may_see(&key.tenant) => Ok(key),
        Ok(_) => Err(pages::not_found()),
        Err(e) => Err(pages::store_error(&e)),
    }
}

/// `POST /console/keys/{id}/rotate`: a new key now, the old one ending after the grace period.
pub(crate) async fn rotate(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    blocking(move || {
        let session = match checked(&state, &headers, &form) {
            Ok(s) => s,
            Err(page) => return page,
        };
        let key = match own_key(&state, &session, &id) {
            Ok(k) => k,
            Err(page) => return page,
        };
        let grace: i64 = match field(&form, "grace").unwrap_or("86400").parse() {
            Ok(g) if (0..=30 * 86_400).contains(&g) => g,
            _ => {
                return form_error(
                    &state,
                    &session,
                    &key.tenant,
                    "Choose a grace period from the list.",
                );
            }
        };
        let now = clock::now();
        match keys::rotate_key(state.store(), &key.id, grace, now) {
            Ok(rotation) => {
                let tenants = pick_tenant(state.store(), &session, Some(&key.tenant))
                    .map(|(_, t)| t)
                    .unwrap_or_default();
                let frame = Frame::new("Rotated API key", "keys", &session, tenants, &key.tenant);
                let ends = rotation
                    .old
                    .expires_at
                    .map_or_else(|| "now".to_owned(), clock::format_short);
                show_once(
                    &state,
                    frame,
                    "Your rotated API key",
                    &rotation.new,
                    key.env,
                    Some(format!(
                        "{} keeps working until {ends}.",
                        rotation.old.display()
                    )),
                )
            }
            Err(e) => form_error(&state, &session, &key.tenant, &key_error_text(&e)),
        }
    })
    .await
}

/// `GET /console/keys/{id}/revoke`: the confirmation step.
pub(crate) async fn confirm_revoke(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    blocking(move || {
        let session = match session::require(&state, &headers) {
            Ok(s) => s,
            Err(page) => return page,
        };
        let key = match own_key(&state, &session, &id) {
            Ok(k) => k,
            Err(page) => return page,
        };
        let tenants = pick_tenant(state.store(), &session, Some(&key.tenant))
            .map(|(_, t)| t)
            .unwrap_or_default();
        render(
            StatusCode::OK,
            &RevokePage {
                frame: Frame::new("Revoke API key", "keys", &session, tenants, &key.tenant),
                row: KeyRow::new(&key, clock::now()),
            },
        )
    })
    .await
}

/// `POST /console/keys/{id}/revoke`: revokes at once, then back to the list.
pub(crate) async fn revoke(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    blocking(move || {
        let session = match checked(&state, &headers, &form) {
            Ok(s) => s,
            Err(page) => return page,
        };
        let key = match own_key(&state, &session, &id) {
            Ok(k) => k,
            Err(page) => return page,
        };
        if let Err(e) = keys::revoke_key(state.store(), &key.id, clock::now()) {
            return form_error(&state, &session, &key.tenant, &key_error_text(&e));
        }
        tracing::info!(key = %key.display(), tenant = %key.tenant, "console: key revoked");
        let mut response = StatusCode::SEE_OTHER.into_response();
        let to = format!("/console/keys?tenant={}&notice=revoked", key.tenant);
        if let Ok(value) = HeaderValue::from_str(&to) {
            response.headers_mut().insert(LOCATION, value);
        }
        response
    })
    .await
}

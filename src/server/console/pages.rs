//! The frame every page shares, rendering, and the pages that answer a refusal.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::session::Session;
use crate::store::{KeyStore, StoreError};

/// What the shared layout needs: title, navigation, who is signed in, the CSRF token, the
/// tenant shown and the notices.
pub(crate) struct Frame {
    pub(crate) title: String,
    pub(crate) active: &'static str,
    pub(crate) signed_in: bool,
    pub(crate) who: String,
    pub(crate) csrf: String,
    /// `?tenant=NAME`, kept on navigation links.
    pub(crate) tq: String,
    /// Tenants the operator can switch between (empty for a tenant session).
    pub(crate) tenants: Vec<String>,
    /// The tenant shown.
    pub(crate) tenant: String,
    pub(crate) operator: bool,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

impl Frame {
    /// A frame for a signed-in page about `tenant`.
    pub(crate) fn new(
        title: &str,
        active: &'static str,
        session: &Session,
        tenants: Vec<String>,
        tenant: &str,
    ) -> Frame {
        Frame {
            title: title.to_owned(),
            active,
            signed_in: true,
            who: match &session.tenant {
                None => "operator".to_owned(),
                Some(t) => format!("tenant {t}"),
            },
            csrf: session.csrf.clone(),
            tq: if tenant.is_empty() {
                String::new()
            } else {
                format!("?tenant={tenant}")
            },
            tenants: if session.is_operator() {
                tenants
            } else {
                Vec::new()
            },
            tenant: tenant.to_owned(),
            operator: session.is_operator(),
            notice: None,
            error: None,
        }
    }

    fn bare(title: &str) -> Frame {
        Frame {
            title: title.to_owned(),
            active: "",
            signed_in: false,
            who: String::new(),
            csrf: String::new(),
            tq: String::new(),
            tenants: Vec::new(),
            tenant: String::new(),
            operator: false,
            notice: None,
            error: None,
        }
    }
}

/// The tenant a page shows: the session's own, or for the operator the one asked for (else the
/// first). `Err` is the page to answer with.
pub(crate) fn pick_tenant(
    store: &dyn KeyStore,
    session: &Session,
    asked: Option<&str>,
) -> Result<(String, Vec<String>), Response> {
    let all: Vec<String> = store
        .tenants()
        .map_err(|e| store_error(&e))?
        .into_iter()
        .map(|t| t.name)
        .collect();
    match &session.tenant {
        Some(own) => Ok((own.clone(), vec![own.clone()])),
        None => match asked.filter(|a| !a.is_empty()) {
            Some(a) if all.iter().any(|t| t == a) => Ok((a.to_owned(), all)),
            Some(a) => Err(message(
                StatusCode::NOT_FOUND,
                "No such tenant",
                &format!(
                    "There is no tenant named '{a}'. Pick one from the list, or create it with `docward tenant create {a}`."
                ),
            )),
            None => Ok((all.first().cloned().unwrap_or_default(), all)),
        },
    }
}

/// Renders a template as an HTML answer with `status`.
pub(crate) fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

/// Runs a handler's store work on the blocking pool (store calls may wait on the owner).
pub(crate) async fn blocking<F>(work: F) -> Response
where
    F: FnOnce() -> Response + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something failed",
            "The request failed inside the server; its log says why.",
        )
    })
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    frame: Frame,
    heading: String,
    body: String,
    sign_in_help: bool,
}

/// A page with a heading and one paragraph.
pub(crate) fn message(status: StatusCode, heading: &str, body: &str) -> Response {
    render(
        status,
        &MessagePage {
            frame: Frame::bare(heading),
            heading: heading.to_owned(),
            body: body.to_owned(),
            sign_in_help: false,
        },
    )
}

fn sign_in_message(status: StatusCode, heading: &str, body: &str) -> Response {
    render(
        status,
        &MessagePage {
            frame: Frame::bare(heading),
            heading: heading.to_owned(),
            body: body.to_owned(),
            sign_in_help: true,
        },
    )
}

/// No valid session.
pub(crate) fn signed_out() -> Response {
    sign_in_message(
        StatusCode::UNAUTHORIZED,
        "Sign in to the console",
        "This page needs a console session. API keys do not sign in here.",
    )
}

/// After signing out.
pub(crate) fn signed_out_after_logout() -> Response {
    sign_in_message(
        StatusCode::OK,
        "Signed out",
        "Your console session has ended.",
    )
}

/// A link that is unknown, used or expired.
pub(crate) fn link_refused() -> Response {
    sign_in_message(
        StatusCode::FORBIDDEN,
        "This sign-in link does not work",
        "Sign-in links work once and expire (15 minutes unless --ttl said otherwise). This one was used already, has expired, was ended by `docward console logout --all`, or was mistyped.",
    )
}

/// A form without the session's CSRF token.
pub(crate) fn csrf_refused() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "The form was refused",
        "The form did not carry this session's security token (it may be from an older session, or from another site). Reload the page and try again.",
    )
}

/// A POST from another origin.
pub(crate) fn refused_origin() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Request from another site refused",
        "Console forms are accepted only from the console's own address. Open the console at its public URL (docward serve --public-url) and submit the form there.",
    )
}

/// A Host that is not the console's.
pub(crate) fn refused_host() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Unknown host",
        "The console answers only on its own host names. Open it at the server's public URL, or start the server with --allowed-host for this name.",
    )
}

/// A page or key that does not exist (or belongs to a tenant this session cannot see).
pub(crate) fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing here, or it belongs to a tenant this session cannot see.",
    )
}

/// A store failure, said plainly without internals.
pub(crate) fn store_error(e: &StoreError) -> Response {
    tracing::warn!(error = %e, "console: store call failed");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "The key store is not available",
        "The server could not read or write its store just now. Try again in a moment; if it persists, see the server's log and `docward serve` docs.",
    )
}

//! RFC 9457 problem details: every refusal and error of the REST API as an
//! `application/problem+json` body carrying docward's stable `code` and the fix.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::docs::DocsError;
use crate::gate::{Code, Refusal};

/// The media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details object (RFC 9457) with docward's extension members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:docward:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong this time, naming the cause and the fix.
    pub detail: String,
    /// docward's stable machine-readable code (the same codes as over MCP).
    pub code: String,
    /// What the caller can do about it.
    pub fix: String,
    /// The scope that was missing, for `missing_scope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Seconds until a retry can succeed (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The daily limit, for `quota_exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// When the daily quota resets (RFC 3339), for `quota_exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
    /// The challenge to send as `WWW-Authenticate` (not part of the body).
    #[serde(skip)]
    challenge: Option<String>,
}

impl Problem {
    /// A problem with `status`, `code`, `detail` and `fix`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>, fix: &str) -> Problem {
        Problem {
            kind: format!("urn:docward:problem:{code}"),
            title: title(code, status),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            fix: fix.to_owned(),
            scope: None,
            retry_after: None,
            limit: None,
            resets_at: None,
            challenge: None,
        }
    }

    /// 400 for a request that cannot be read as the API describes it.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            detail,
            "fix the request as the detail says; /v1/openapi.json describes every parameter",
        )
    }

    /// 404 for a path under /v1 that is not part of the API.
    pub fn no_route() -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint under /v1",
            "see /v1/openapi.json for the endpoints",
        )
    }

    /// 405 for a method an endpoint does not take.
    pub fn method_not_allowed() -> Problem {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that HTTP method",
            "see /v1/openapi.json for the methods of each endpoint",
        )
    }

    /// 500 with a message safe to show; the cause goes to the server's log.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "REST request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to answer; the cause is in the server's log",
            "try again; if it persists, ask the server's operator to read its log",
        )
    }

    /// Adds a `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Problem {
        self.retry_after = Some(secs);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The title of each code.
fn title(code: &str, status: StatusCode) -> String {
    let known = match code {
        "missing_key" => "API key missing",
        "malformed_key" => "API key malformed",
        "bad_checksum" => "API key mistyped",
        "unknown_key" => "API key unknown",
        "key_revoked" => "API key revoked",
        "key_expired" => "API key expired",
        "wrong_env" => "API key of the other environment",
        "missing_scope" => "Scope missing",
        "rate_limited" => "Too many requests",
        "quota_exceeded" => "Daily quota used up",
        "key_in_url" => "API key in the URL",
        "duplicate_authorization" => "Several Authorization headers",
        "unknown_repo" => "Unknown repository",
        "unknown_doc" => "Unknown document",
        "unknown_job" => "Unknown job",
        "invalid_setting" => "Invalid setting",
        "index_locked" => "Repository busy",
        "source_missing" => "Source folder missing",
        "section_out_of_range" => "Section out of range",
        "empty_query" | "query_too_long" => "Unusable query",
        "internal" => "Server error",
        "not_found" => "No such endpoint",
        "method_not_allowed" => "Method not allowed",
        "body_timeout" => "Request body too slow",
        "bad_request" => "Bad request",
        _ => return status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    known.to_owned()
}

/// The fix for each gate refusal.
fn refusal_fix(refusal: &Refusal) -> String {
    match refusal.code {
        Code::MissingKey => "send `Authorization: Bearer <key>`; an operator creates keys with `docward key create`".to_owned(),
        Code::MalformedKey | Code::BadChecksum => {
            "paste the whole key again; it starts with dw_live_ or dw_test_".to_owned()
        }
        Code::UnknownKey => "use a key created on this server, or ask its operator for one".to_owned(),
        Code::KeyRevoked => "ask the operator for a new key (`docward key create`)".to_owned(),
        Code::KeyExpired => "use the key that replaced it, or ask for a new one (`docward key create` or `docward key rotate`)".to_owned(),
        Code::WrongEnv => "use a key of the server's environment".to_owned(),
        Code::MissingScope => match refusal.scope {
            Some(scope) => format!("use a key holding {scope} (`docward key create --scope {scope}`)"),
            None => "use a key holding the scope this endpoint needs".to_owned(),
        },
        Code::RateLimited => "wait the seconds in Retry-After, then retry".to_owned(),
        Code::QuotaExceeded => "wait until resets_at (00:00 UTC), or move the tenant to a higher plan (`docward tenant update --plan`)".to_owned(),
        Code::Internal => "try again; if it persists, ask the server's operator to read its log".to_owned(),
    }
}

impl Problem {
    /// A gate refusal, with the same code as over MCP, its status and its headers.
    pub fn from_refusal(refusal: &Refusal) -> Problem {
        let status = StatusCode::from_u16(refusal.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut problem = Problem::new(
            status,
            refusal.code.as_str(),
            refusal.message.clone(),
            &refusal_fix(refusal),
        );
        problem.scope = refusal.scope.map(|s| s.as_str().to_owned());
        problem.retry_after = refusal.retry_after_secs;
        problem.limit = refusal.limit;
        problem.resets_at = refusal.resets_at.clone();
        problem.challenge = match refusal.code {
            // RFC 6750 §3.1: no error code when no credentials were sent.
            Code::MissingKey => Some("Bearer realm=\"docward\"".to_owned()),
            code if code.is_invalid_token() => Some(format!(
                "Bearer realm=\"docward\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(&refusal.message)
            )),
            Code::MissingScope => Some(format!(
                "Bearer realm=\"docward\", error=\"insufficient_scope\", scope=\"{}\"",
                refusal.scope.map_or("", |s| s.as_str())
            )),
            _ => None,
        };
        problem
    }

    /// A docs library error. Messages that would show a server path are replaced by one that
    /// does not (the path goes to the server's log).
    pub fn from_docs(err: &DocsError) -> Problem {
        let code = err.code();
        match err {
            DocsError::UnknownRepo { .. } | DocsError::InvalidName(_) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown_repo",
                err.to_string(),
                "list the repositories with GET /v1/repos",
            ),
            DocsError::UnknownDoc { .. } => Problem::new(
                StatusCode::NOT_FOUND,
                code,
                err.to_string(),
                "use a path exactly as GET /v1/search returns it",
            ),
            DocsError::SectionOutOfRange { .. } => Problem::new(
                StatusCode::BAD_REQUEST,
                code,
                err.to_string(),
                "ask for a section below the document's total_sections",
            ),
            DocsError::EmptyQuery | DocsError::QueryTooLong { .. } => Problem::new(
                StatusCode::BAD_REQUEST,
                code,
                err.to_string(),
                "send a few words in q",
            ),
            DocsError::InvalidSetting(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                err.to_string(),
                "correct the setting the detail names and send the request again",
            ),
            DocsError::Locked => Problem::new(
                StatusCode::CONFLICT,
                code,
                err.to_string(),
                "retry after the seconds in Retry-After, when the indexing has finished",
            )
            .retry_after(5),
            DocsError::RepoExists(_) => Problem::new(
                StatusCode::CONFLICT,
                code,
                err.to_string(),
                "pick another name",
            ),
            DocsError::SourceMissing(path) => {
                tracing::warn!(path = %path.display(), "sync refused: the source folder is missing");
                Problem::new(
                    StatusCode::CONFLICT,
                    code,
                    "the repository's source folder is missing on the server, so it cannot be indexed again",
                    "ask the server's operator to restore the folder, or to remove the repo and add it again from its new place",
                )
            }
            DocsError::CorruptManifest { command, .. } | DocsError::IndexFormat { command, .. } => {
                tracing::error!(error = %err, "REST request hit damaged library data");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "the server's index data for this tenant needs a rebuild",
                    &format!("ask the server's operator to run `{command}`"),
                )
            }
            DocsError::Embedding(_) => {
                tracing::error!(error = %err, "the embedding model failed during a sync");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "the text index is up to date but some document vectors are missing, so search is partly lexical",
                    "sync again; if it keeps failing, ask the server's operator to check the model (`docward model status`)",
                )
            }
            DocsError::Index(_) | DocsError::Io { .. } | DocsError::Corrupt(_) => {
                Problem::internal(err)
            }
        }
    }
}

/// An auth-param value without quotes, backslashes or non-printable characters.
fn quoted(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".to_owned());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(value) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_source_names_no_server_path() {
        let err = DocsError::SourceMissing("/srv/secret/docs".into());
        let problem = Problem::from_docs(&err);
        assert_eq!(problem.status, 409);
        assert!(
            !problem.detail.contains("/srv/secret"),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn problems_carry_type_title_status_detail_code_and_fix() {
        let p = Problem::bad_request("limit must be 1-20");
        let v = serde_json::to_value(&p).unwrap();
        for field in ["type", "title", "status", "detail", "code", "fix"] {
            assert!(v.get(field).is_some(), "{field}: {v}");
        }
        assert_eq!(v["type"], "urn:docward:problem:bad_request");
        assert!(v.get("challenge").is_none());
    }
}

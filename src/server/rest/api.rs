//! The OpenAPI 3.1 document of the REST API, generated from the handlers' annotations and the
//! types' schemas, and the refusal responses every endpoint shares.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};

use super::problem::Problem;
use super::{reading, repos, usage};

/// Refusals every keyed endpoint can answer.
#[derive(IntoResponses)]
#[allow(dead_code)] // Never built: it only describes responses in the OpenAPI document.
pub enum KeyRefusals {
    /// The request cannot be read: a key in the URL, several `Authorization` headers, or a
    /// parameter that does not fit the schema.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The key is missing, malformed, mistyped, unknown, revoked, expired or of the other
    /// environment; `code` says which and `WWW-Authenticate` carries the challenge.
    #[response(
        status = 401,
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "The Bearer challenge"))
    )]
    Unauthorized(Problem),
    /// Too many calls per second (`rate_limited`) or the daily quota is used up
    /// (`quota_exceeded`); retry after `Retry-After` seconds.
    #[response(
        status = 429,
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds until a retry can succeed"))
    )]
    TooManyRequests(Problem),
    /// The server failed; the cause is in its log.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
}

/// The key lacks the scope the endpoint needs.
#[derive(IntoResponses)]
#[allow(dead_code)] // Never built: it only describes responses in the OpenAPI document.
pub enum ScopeRefusal {
    /// The key lacks the endpoint's scope (`missing_scope`; `scope` names it).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// What the path names does not exist for the key's tenant.
#[derive(IntoResponses)]
#[allow(dead_code)] // Never built: it only describes responses in the OpenAPI document.
pub enum NotFound {
    /// No such repository, document or job for the key's tenant.
    #[response(status = 404, content_type = "application/problem+json")]
    Missing(Problem),
}

/// Adds the Bearer scheme the endpoints' `security` refers to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("docward API key (dw_live_… or dw_test_…)")
                    .description(Some(
                        "A docward API key in `Authorization: Bearer`; the scopes each endpoint needs are listed in its security requirement",
                    ))
                    .build(),
            ),
        );
    }
}

/// The REST API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "docward REST API",
        description = "Documentation search and repository operations behind docward's scoped API keys. Every refusal is an RFC 9457 problem (`application/problem+json`) with docward's stable `code` and a `fix`.",
        license(name = "MIT"),
    ),
    paths(
        repos::list,
        repos::get,
        repos::patch,
        repos::sync,
        repos::job,
        reading::search,
        reading::doc,
        usage::usage,
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    tags(
        (name = "repos", description = "Repository metadata (repo:read) and operations (repo:write)"),
        (name = "docs", description = "Search and read documentation (mcp:search, mcp:get_doc)"),
        (name = "usage", description = "The tenant's usage and limits"),
    )
)]
pub struct ApiDoc;

/// The document, with the server's version.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_endpoint() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for path in [
            "/v1/repos",
            "/v1/repos/{name}",
            "/v1/repos/{name}/sync",
            "/v1/jobs/{id}",
            "/v1/search",
            "/v1/docs/{repo}/{path}",
            "/v1/usage",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        let refused = &doc["paths"]["/v1/search"]["get"]["responses"]["401"];
        assert!(
            refused["content"]["application/problem+json"].is_object(),
            "{refused}"
        );
    }
}

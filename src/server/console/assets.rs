//! The console's CSS and JS, compiled into the binary.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// `GET /console/assets/{name}`
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "console.css" => ([(CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response(),
        "console.js" => ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], JS).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

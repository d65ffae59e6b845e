//! The OpenAPI 3 description of the JSON API, written by hand in docs/openapi.json and
//! compiled in (nothing is fetched at build time). A test compares it with
//! [`super::api_routes`], so that a new route cannot go undocumented.

use axum::http::header;
use axum::response::IntoResponse;

/// The document as served.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// GET /api/v1/openapi.json (no login needed: it describes, it does not reveal data).
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

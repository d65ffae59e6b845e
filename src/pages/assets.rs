//! Static files compiled into the binary (no CDN, no files to install next to it): the
//! page style, the chart and import scripts, and the vendored uPlot (MIT, from the npm
//! registry; see static/vendor/uplot/SOURCE).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/charts.js"),
    ),
    (
        "import.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/import.js"),
    ),
    (
        "uplot.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uplot.css",
        "text/css; charset=utf-8",
        include_str!("../../static/vendor/uplot/uPlot.min.css"),
    ),
];

/// GET /static/{file}
pub async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

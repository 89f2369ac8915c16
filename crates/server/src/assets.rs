//! Static files compiled into the binary: no CDN, so the strict CSP can say `'self'`.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, ErrorCode};

/// Serves one embedded asset.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static str, &str) = match file.as_str() {
        "app.css" => (include_str!("../assets/app.css"), "text/css; charset=utf-8"),
        "calendar.js" => (
            include_str!("../assets/calendar.js"),
            "text/javascript; charset=utf-8",
        ),
        "htmx.min.js" => (
            include_str!("../assets/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return AppError::new(ErrorCode::NotFound).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

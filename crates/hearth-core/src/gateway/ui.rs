//! The Control UI page, embedded in the binary so the gateway serves it with no files on disk.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

use super::ApiError;
use crate::runtime::Runtime;

const PAGE: &str = include_str!("../../assets/control-ui.html");

pub(super) async fn page(State(rt): State<Arc<Runtime>>) -> Response {
    if !rt.live().config.gateway.control_ui.enabled {
        return ApiError::not_found("the Control UI is off (gateway.controlUi.enabled)")
            .into_response();
    }
    let mut response = Html(PAGE).into_response();
    let headers = response.headers_mut();
    // The page talks only to its own origin; nothing may frame it.
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        http::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    response
}

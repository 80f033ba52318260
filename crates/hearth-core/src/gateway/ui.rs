//! The Control UI, embedded in the binary so the gateway serves it with no files on disk.
//!
//! `build.rs` lists every file of the UI's build (`ui/dist`) in a table this module includes:
//! `/` and `/index.html` answer the page (never cached: it names the current assets), files
//! under `/assets/` carry a content hash in their names and are cached for good, anything else
//! the build holds (a favicon) is revalidated. Every answer has an ETag, so a browser that
//! already holds the file gets `304`. None of it needs the token: the page holds no secret and
//! authenticates over the WebSocket.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::ApiError;
use crate::runtime::Runtime;

/// One embedded file.
#[derive(Debug)]
pub(super) struct Asset {
    /// The URL path, e.g. `/assets/index-3f2a.js`.
    pub(super) path: &'static str,
    pub(super) content_type: &'static str,
    pub(super) bytes: &'static [u8],
    /// A quoted strong validator, e.g. `"9f86d081884c7d659a2feaa0"`.
    pub(super) etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/control_ui.rs"));

const INDEX: &str = "/index.html";
/// Hashed file names never change content: a year, and no revalidation.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
const CACHE_REVALIDATE: &str = "no-cache";

fn find(path: &str) -> Option<&'static Asset> {
    UI_FILES.iter().find(|a| a.path == path)
}

/// Whether `path` is a Control UI file, served without the token.
pub(super) fn is_public(method: &http::Method, path: &str) -> bool {
    (method == http::Method::GET || method == http::Method::HEAD)
        && (path == "/" || path.starts_with("/assets/") || find(path).is_some())
}

fn disabled(rt: &Runtime) -> Option<Response> {
    (!rt.live().config.gateway.control_ui.enabled).then(|| {
        ApiError::not_found("the Control UI is off (gateway.controlUi.enabled)").into_response()
    })
}

/// `/` and `/index.html`.
pub(super) async fn page(State(rt): State<Arc<Runtime>>, headers: HeaderMap) -> Response {
    if let Some(off) = disabled(&rt) {
        return off;
    }
    let Some(index) = find(INDEX) else {
        return ApiError::not_found("the Control UI is not in this build").into_response();
    };
    let mut response = file_response(index, CACHE_REVALIDATE, &headers);
    let csp = content_security_policy(host(&headers), UI_IS_FALLBACK);
    let out = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        out.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `/assets/*` and the build's other files; the router's fallback for everything else.
pub(super) async fn file(State(rt): State<Arc<Runtime>>, request: Request) -> Response {
    let path = request.uri().path();
    let method = request.method();
    let asset = (method == http::Method::GET || method == http::Method::HEAD)
        .then(|| find(path))
        .flatten()
        .filter(|a| a.path != INDEX);
    let Some(asset) = asset else {
        let what = if path.starts_with("/assets/") {
            "no such Control UI file"
        } else {
            "no such route"
        };
        return ApiError::not_found(what).into_response();
    };
    if let Some(off) = disabled(&rt) {
        return off;
    }
    let cache = if asset.path.starts_with("/assets/") {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    };
    file_response(asset, cache, request.headers())
}

/// The file, or `304` when the request's `If-None-Match` already names its ETag.
fn file_response(asset: &Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == asset.etag || tag == "*");
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(asset.bytes));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let out = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(asset.etag) {
        out.insert(header::ETAG, etag);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The request's `Host`, when it is a plain `host[:port]` safe to repeat in a header.
fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
}

/// The page talks only to its own origin (its WebSocket included) and nothing may frame it.
/// The minimal stand-in page has its script inline; the real build loads scripts from `/assets`.
fn content_security_policy(host: Option<&str>, inline_script: bool) -> String {
    let script = if inline_script {
        "'self' 'unsafe-inline'"
    } else {
        "'self'"
    };
    let sockets = host
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'{sockets}; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use hearth_config::{AuthMode, Config, SecretValue};
    use tower::ServiceExt as _;

    use super::*;
    use crate::StateDir;
    use crate::runtime::build_live;

    const TOKEN: &str = "ui-test-token";

    /// A runtime with token auth (a literal token: no secret store is opened).
    async fn runtime(home: &std::path::Path, enabled: bool) -> Arc<Runtime> {
        let mut config = Config::default();
        config.gateway.auth.mode = AuthMode::Token;
        config.gateway.auth.token = Some(SecretValue::Literal(TOKEN.to_owned()));
        config.gateway.control_ui.enabled = enabled;
        let home = StateDir::new(home);
        let http = reqwest::Client::new();
        let secrets = tokio::sync::OnceCell::new();
        let pref = hearth_secrets::Preference::File;
        let live = build_live(config, String::new(), &home, &secrets, pref, &http)
            .await
            .unwrap();
        let store = hearth_store::Store::open_memory().await.unwrap();
        let path = home.config_path();
        Arc::new(Runtime::new(home, path, live, store, secrets, pref, http))
    }

    fn get(path: &str, extra: &[(&str, &str)]) -> Request {
        let mut builder = Request::get(path).header("host", "127.0.0.1:18789");
        for (k, v) in extra {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    async fn send(rt: &Arc<Runtime>, request: Request) -> Response {
        super::super::app(rt.clone())
            .oneshot(request)
            .await
            .unwrap()
    }

    fn header<'a>(r: &'a Response, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    #[tokio::test]
    async fn the_page_is_served_without_a_token_with_its_policy() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path(), true).await;
        for path in ["/", "/index.html"] {
            let r = send(&rt, get(path, &[])).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
            assert_eq!(header(&r, "cache-control"), "no-cache");
            assert_eq!(header(&r, "x-frame-options"), "DENY");
            assert_eq!(header(&r, "referrer-policy"), "no-referrer");
            let csp = header(&r, "content-security-policy").to_owned();
            assert!(
                csp.contains("connect-src 'self' ws://127.0.0.1:18789 wss://127.0.0.1:18789"),
                "{csp}"
            );
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert_eq!(
                csp.contains("script-src 'self' 'unsafe-inline';"),
                UI_IS_FALLBACK,
                "{csp}"
            );
            let etag = header(&r, "etag").to_owned();
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&body[..], find(INDEX).unwrap().bytes);
            let again = send(&rt, get(path, &[("if-none-match", &etag)])).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        }
        // Other routes still want the token.
        let r = send(&rt, get("/readyz", &[])).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn assets_are_immutable_with_etags_and_unknown_ones_are_404() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path(), true).await;
        let r = send(&rt, get("/assets/nope-123.js", &[])).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "no token needed to be told"
        );
        let r = send(&rt, get("/elsewhere", &[])).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        for asset in UI_FILES.iter().filter(|a| a.path.starts_with("/assets/")) {
            let r = send(&rt, get(asset.path, &[])).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(header(&r, "cache-control"), CACHE_IMMUTABLE);
            assert_eq!(header(&r, "content-type"), asset.content_type);
            assert_eq!(header(&r, "etag"), asset.etag);
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&body[..], asset.bytes);
            let tags = format!("\"other\", W/{}", asset.etag);
            let r = send(&rt, get(asset.path, &[("if-none-match", &tags)])).await;
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
            assert_eq!(header(&r, "etag"), asset.etag);
        }
    }

    #[tokio::test]
    async fn a_disabled_ui_is_not_served() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path(), false).await;
        assert_eq!(
            send(&rt, get("/", &[])).await.status(),
            StatusCode::NOT_FOUND
        );
        if let Some(asset) = UI_FILES.iter().find(|a| a.path.starts_with("/assets/")) {
            assert_eq!(
                send(&rt, get(asset.path, &[])).await.status(),
                StatusCode::NOT_FOUND
            );
        }
    }

    #[test]
    fn the_policy_keeps_inline_scripts_for_the_stand_in_only() {
        let real = content_security_policy(Some("localhost:1"), false);
        assert!(real.contains("script-src 'self';"), "{real}");
        let fallback = content_security_policy(None, true);
        assert!(
            fallback.contains("script-src 'self' 'unsafe-inline';"),
            "{fallback}"
        );
        assert!(fallback.contains("connect-src 'self';"), "{fallback}");
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("evil\"; x"));
        assert_eq!(host(&headers), None);
    }
}

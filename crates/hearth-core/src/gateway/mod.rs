//! The gateway's one port: HTTP routes and the WebSocket protocol.
//!
//! [`app`] builds the router from the runtime (tests drive it with `oneshot`, no socket);
//! [`serve`] runs it on an already-bound listener until the shutdown token fires.
//! [`guard`] runs before every route: Origin check, lockout check, and the token check for
//! everything but `/health`, the Control UI's files (`ui`) and WebSocket upgrades (which
//! authenticate in their `connect` frame). Webhooks under `hooks.path` never reach it:
//! [`crate::hooks::intercept`] answers them first, with their own token.

pub mod auth;
mod error;
mod http_routes;
mod logs;
pub mod methods;
pub(crate) mod methods_agents;
mod methods_audit;
mod methods_channels;
mod methods_config;
mod methods_cron;
mod methods_desktop;
mod methods_hooks;
mod methods_sessions;
mod methods_usage;
mod onboarding;
mod openai;
mod providers_test;
mod ui;
mod ws;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::ApiError;

use crate::runtime::Runtime;

/// Largest request body of the OpenAI-compatible endpoint (images ride in it).
const MAX_COMPLETIONS_BODY: usize = 16 * 1024 * 1024;

/// Largest webhook body a platform may send.
const MAX_WEBHOOK_BODY: usize = 4 * 1024 * 1024;

fn is_channel_webhook(method: &http::Method, path: &str) -> bool {
    method == http::Method::POST
        && path.starts_with("/channels/")
        && path.ends_with("/webhook")
        && path.split('/').count() == 5
}

/// `POST /channels/<channel>/<account>/webhook`: a platform delivering events (Telegram in
/// webhook mode, Slack's Events API), handed to that account's adapter.
async fn channel_webhook(
    State(rt): State<Arc<Runtime>>,
    axum::extract::Path((channel, account)): axum::extract::Path<(String, String)>,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let Some(handle) = rt.channels.handle(&channel, &account) else {
        return (http::StatusCode::NOT_FOUND, "no such channel account").into_response();
    };
    let Some(adapter) = handle.adapter.get().cloned() else {
        return (
            http::StatusCode::SERVICE_UNAVAILABLE,
            "the channel account is starting",
        )
            .into_response();
    };
    let sink = Arc::new(crate::channels::inbound::Sink::new(rt.clone(), handle));
    let reply = adapter
        .webhook(hearth_channels::WebhookRequest { headers, body }, sink)
        .await;
    let status = http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::OK);
    (
        status,
        [(http::header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}

/// The router.
pub fn app(rt: Arc<Runtime>) -> Router {
    Router::new()
        .route("/health", get(http_routes::health))
        .route("/readyz", get(http_routes::readyz))
        .route("/v1/models", get(openai::models))
        .route(
            "/v1/chat/completions",
            post(openai::chat_completions).layer(DefaultBodyLimit::max(MAX_COMPLETIONS_BODY)),
        )
        .route(
            "/channels/{channel}/{account}/webhook",
            post(channel_webhook).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY)),
        )
        .route("/", get(root))
        .route("/index.html", get(ui::page))
        // `/assets/*` and the UI build's other files; everything else is a 404.
        .fallback(ui::file)
        .layer(middleware::from_fn_with_state(rt.clone(), guard))
        // Webhooks carry their own token (`hooks.token`), so they are answered ahead of the guard.
        .layer(middleware::from_fn_with_state(
            crate::hooks::Hooks::new(rt.clone()),
            crate::hooks::intercept,
        ))
        .with_state(rt)
}

/// Serves `app` on `listener` until `rt.shutdown` fires, then stops accepting and waits for
/// open HTTP requests (WebSocket connections close themselves on the same token).
pub async fn serve(listener: tokio::net::TcpListener, rt: Arc<Runtime>) -> std::io::Result<()> {
    let shutdown = rt.shutdown.clone();
    axum::serve(
        listener,
        app(rt).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}

/// `/`: the WebSocket endpoint for upgrades, the Control UI page otherwise.
async fn root(State(rt): State<Arc<Runtime>>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        ws::upgrade(rt, request).await
    } else {
        let headers = request.headers().clone();
        ui::page(State(rt), headers).await.into_response()
    }
}

fn is_websocket_upgrade(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The client's address; tests that call the router without a socket count as loopback.
pub(crate) fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

async fn guard(State(rt): State<Arc<Runtime>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Platform webhooks carry no gateway token: each adapter checks the platform's own proof
    // (Telegram's secret header, Slack's signature) before anything is accepted.
    if path == "/health" || is_channel_webhook(request.method(), path) {
        return next.run(request).await;
    }
    let live = rt.live();
    let headers = request.headers();
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        let port = rt
            .listen_addr()
            .map_or(live.config.gateway.port, |a| a.port());
        let loopback = rt.listen_addr().is_none_or(|a| a.ip().is_loopback());
        if !auth::origin_allowed(
            origin,
            host,
            port,
            loopback,
            &live.config.gateway.control_ui.allowed_origins,
        ) {
            tracing::warn!(%origin, %path, "refused a request from a foreign origin");
            return ApiError::forbidden_origin(origin).into_response();
        }
    }
    let ip = client_ip(&request);
    if let Some(wait) = rt.limiter.locked(ip) {
        return ApiError::locked_out(wait).into_response();
    }
    if ui::is_public(request.method(), path) {
        // The UI's files carry no data; the page authenticates over the WebSocket. Upgrades do too.
        return next.run(request).await;
    }
    let token = auth::bearer(headers);
    let password = headers
        .get("x-hearth-password")
        .and_then(|v| v.to_str().ok());
    if !live.auth.accepts(token, password) {
        if let Some(wait) = rt.limiter.record_failure(ip) {
            return ApiError::locked_out(wait).into_response();
        }
        return ApiError::unauthorized().into_response();
    }
    rt.limiter.record_success(ip);
    next.run(request).await
}

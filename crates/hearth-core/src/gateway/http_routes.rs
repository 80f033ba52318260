//! `/health` and `/readyz`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::runtime::Runtime;

/// Liveness: the process answers. No auth.
pub(super) async fn health(State(rt): State<Arc<Runtime>>) -> Json<serde_json::Value> {
    Json(json!({
        "ok": true,
        "version": crate::VERSION,
        "uptimeMs": u64::try_from(rt.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }))
}

/// Readiness: config loaded, store answering, providers known.
pub(super) async fn readyz(State(rt): State<Arc<Runtime>>) -> Response {
    let live = rt.live();
    let store = rt.store.ping().await;
    let providers = live.models.provider_infos();
    let available = providers.iter().filter(|p| p.available).count();
    let ready = store.is_ok() && !rt.shutdown.is_cancelled();
    let body = json!({
        "ready": ready,
        "checks": {
            "config": { "ok": true, "hash": live.hash },
            "store": { "ok": store.is_ok(), "error": store.err().map(|e| e.to_string()) },
            "providers": { "ok": true, "configured": providers.len(), "available": available },
            "shutdown": { "ok": !rt.shutdown.is_cancelled() },
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

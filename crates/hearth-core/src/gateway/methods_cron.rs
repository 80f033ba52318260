//! `cron.*`: scheduled jobs managed over the WebSocket. The work is [`crate::cron::service`]'s;
//! this file only maps its errors to protocol codes: a definition with problems is
//! `INVALID_REQUEST` with `details.problems` listing each, a taken name `CONFLICT`, an unknown
//! job `NOT_FOUND`.

use std::sync::Arc;

use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    CronAddParams, CronEditParams, CronHistoryParams, CronIdParams, CronImportParams,
};
use serde_json::json;

use super::methods::{MethodResult, ok, store_error};
use crate::cron::service::{self, CronServiceError};
use crate::runtime::Runtime;

fn shape(e: CronServiceError) -> ErrorShape {
    match e {
        CronServiceError::NotFound(m) => ErrorShape::new(ErrorCode::NotFound, m),
        CronServiceError::Conflict(m) => ErrorShape::new(ErrorCode::Conflict, m),
        CronServiceError::Invalid(ref problems) => {
            let details = json!({ "problems": problems });
            ErrorShape::new(ErrorCode::InvalidRequest, e.to_string()).with_details(details)
        }
        CronServiceError::Unavailable(m) => ErrorShape::new(ErrorCode::Unavailable, m),
        CronServiceError::Store(e) => store_error(e),
    }
}

pub(super) async fn cron_list(rt: &Arc<Runtime>) -> MethodResult {
    ok(service::list(rt).await.map_err(shape)?)
}

pub(super) async fn cron_add(rt: &Arc<Runtime>, p: CronAddParams) -> MethodResult {
    ok(service::add(rt, p.job).await.map_err(shape)?)
}

pub(super) async fn cron_edit(rt: &Arc<Runtime>, p: CronEditParams) -> MethodResult {
    ok(service::edit(rt, &p.id, &p.patch).await.map_err(shape)?)
}

pub(super) async fn cron_remove(rt: &Arc<Runtime>, p: CronIdParams) -> MethodResult {
    ok(service::remove(rt, &p.id).await.map_err(shape)?)
}

pub(super) async fn cron_run(rt: &Arc<Runtime>, p: CronIdParams) -> MethodResult {
    ok(service::run(rt, &p.id).await.map_err(shape)?)
}

pub(super) async fn cron_history(rt: &Arc<Runtime>, p: CronHistoryParams) -> MethodResult {
    ok(service::history(rt, p.id.as_deref(), p.limit)
        .await
        .map_err(shape)?)
}

pub(super) async fn cron_import(rt: &Arc<Runtime>, p: CronImportParams) -> MethodResult {
    ok(service::import(rt, p.jobs).await.map_err(shape)?)
}

//! `hooks.get`: a webhook call and its run, by the id its `202` answer gave (the Control UI's
//! and CLI's view of `GET <hooks.path>/runs/<id>`).

use std::sync::Arc;

use hearth_protocol::cron::HooksGetParams;
use hearth_protocol::frame::{ErrorCode, ErrorShape};

use super::methods::{MethodResult, ok, store_error};
use crate::runtime::Runtime;

pub(super) async fn hooks_get(rt: &Arc<Runtime>, p: HooksGetParams) -> MethodResult {
    match rt.store.hook_run(&p.id).await.map_err(store_error)? {
        Some(row) => ok(row.to_run()),
        None => Err(ErrorShape::new(
            ErrorCode::NotFound,
            format!("no webhook call `{}`", p.id),
        )),
    }
}

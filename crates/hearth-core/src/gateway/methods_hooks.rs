//! `hooks.get` and `hooks.list`: the webhook calls as the Control UI and the CLI see them. A
//! call by the id its `202` answer gave (what `GET <hooks.path>/runs/<id>` answers), and the
//! latest calls with whether webhooks are on, their path and the configured mappings. The
//! mappings are read from the live config and shown without their token or signing secrets.

use std::sync::Arc;

use hearth_config::{HookMapping, SignatureStyle};
use hearth_protocol::cron::{
    HookAction, HookInfo, HookSignatureStyle, HooksGetParams, HooksListParams, HooksListResult,
};
use hearth_protocol::frame::{ErrorCode, ErrorShape};

use super::methods::{MethodResult, ok, store_error};
use crate::cron::service::history_limit;
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

pub(super) async fn hooks_list(rt: &Arc<Runtime>, p: HooksListParams) -> MethodResult {
    let (enabled, path, mappings) = {
        let live = rt.live();
        let hooks = &live.config.hooks;
        let mappings: Vec<HookInfo> = hooks.mappings.iter().map(info).collect();
        (hooks.enabled, hooks.path.clone(), mappings)
    };
    let hook = p.hook.as_deref().map(str::trim).filter(|h| !h.is_empty());
    let calls = rt
        .store
        .recent_hook_runs(hook, history_limit(p.limit))
        .await
        .map_err(store_error)?
        .iter()
        .map(hearth_store::HookRunRow::to_run)
        .collect();
    ok(HooksListResult {
        enabled,
        path,
        calls,
        mappings,
    })
}

/// A mapping as clients may see it: what it does and where its answer goes, never its secret.
fn info(m: &HookMapping) -> HookInfo {
    HookInfo {
        name: m.name.clone(),
        action: match m.action {
            hearth_config::HookAction::Agent => HookAction::Agent,
            hearth_config::HookAction::Wake => HookAction::Wake,
        },
        agent_id: m.agent_id.clone(),
        deliver: m.deliver.clone(),
        signature: m.signature.as_ref().map(|s| match s.style {
            SignatureStyle::Github => HookSignatureStyle::Github,
            SignatureStyle::Stripe => HookSignatureStyle::Stripe,
        }),
        rate_per_minute: m.rate_per_minute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_shown_without_its_secret() {
        let mapping: HookMapping = serde_json::from_value(serde_json::json!({
            "name": "github",
            "agentId": "ops",
            "deliver": "telegram:42",
            "messageTemplate": "Push to {{repository.full_name}}",
            "signature": { "style": "github", "secret": "gh-signing-secret-4711" },
            "ratePerMinute": 5,
        }))
        .unwrap();
        let shown = serde_json::to_value(info(&mapping)).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({
                "name": "github", "action": "agent", "agentId": "ops",
                "deliver": "telegram:42", "signature": "github", "ratePerMinute": 5
            })
        );
        assert!(!format!("{:?}", info(&mapping)).contains("4711"));

        let wake: HookMapping =
            serde_json::from_value(serde_json::json!({ "name": "nudge", "action": "wake" }))
                .unwrap();
        assert_eq!(
            serde_json::to_value(info(&wake)).unwrap(),
            serde_json::json!({ "name": "nudge", "action": "wake", "ratePerMinute": 60 })
        );
    }
}

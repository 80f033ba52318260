//! `channels.*` and `pairing.*`: channel accounts' status and setup, pausing, and the owner's
//! decisions on pairing requests.

use std::sync::Arc;
use std::time::Instant;

use hearth_protocol::events::Event;
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::*;
use serde_json::{Map, Value, json};

use super::methods::{MethodResult, invalid, ok};
use super::methods_config::{
    blocking, check_base_hash, check_text, patched_text, read_config_file, secret_store,
    write_checked,
};
use crate::channels;
use crate::runtime::Runtime;
use crate::util::now_ms;

/// Config keys that hold credentials: they go to the secret store, never into the file.
const CREDENTIAL_KEYS: [&str; 7] = [
    "botToken",
    "token",
    "appToken",
    "signingSecret",
    "password",
    "accessToken",
    "webhookSecret",
];

fn known_channel(channel: &str) -> Result<(), ErrorShape> {
    if hearth_channels::KNOWN.contains(&channel) {
        Ok(())
    } else {
        Err(invalid(format!(
            "unknown channel `{channel}`; known channels: {}",
            hearth_channels::KNOWN.join(", ")
        )))
    }
}

fn account_id(given: Option<&str>) -> Result<String, ErrorShape> {
    let id = given.unwrap_or(hearth_config::DEFAULT_ACCOUNT);
    let valid = (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if valid {
        Ok(id.to_owned())
    } else {
        Err(invalid(format!(
            "`{id}` is not a valid account id; use 1 to 32 lowercase letters, digits, `_` and `-`"
        )))
    }
}

pub(super) async fn channels_status(rt: &Runtime) -> MethodResult {
    ok(channels::status(rt).await)
}

pub(super) async fn channels_pause(rt: &Arc<Runtime>, p: ChannelsPauseParams) -> MethodResult {
    channels::set_paused(rt, p.paused);
    ok(channels::status(rt).await)
}

/// A draft account's section: its settings with the credentials written in (for a test only).
fn draft_section(
    credentials: &std::collections::BTreeMap<String, String>,
    settings: &Map<String, Value>,
) -> Result<Map<String, Value>, ErrorShape> {
    let mut section = settings.clone();
    for key in section.keys() {
        if CREDENTIAL_KEYS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "`{key}` is a credential: pass it in `credentials`, not `settings`"
            )));
        }
        if key == "accounts" {
            return Err(invalid(
                "`accounts` cannot be set here; add each account on its own",
            ));
        }
    }
    for (key, value) in credentials {
        if !CREDENTIAL_KEYS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "`{key}` is not a credential; credentials are {}",
                CREDENTIAL_KEYS.join(", ")
            )));
        }
        if value.trim().is_empty() {
            return Err(invalid(format!("`{key}` is empty")));
        }
        section.insert(key.clone(), Value::String(value.trim().to_owned()));
    }
    Ok(section)
}

/// Checks credentials with the platform; answers the bot's identity.
async fn probe(
    rt: &Runtime,
    channel: &str,
    account: &str,
    section: Map<String, Value>,
) -> Result<String, String> {
    let value = json!({ channel: { "accounts": { account: Value::Object(section) } } });
    let config: hearth_config::ChannelsConfig =
        serde_json::from_value(value).map_err(|e| format!("invalid settings: {e}"))?;
    let resolved = config
        .account(channel, account)
        .ok_or_else(|| "no such account".to_owned())?;
    let adapter = channels::build_adapter(rt, &resolved)
        .await
        .map_err(|e| e.to_string())?;
    let identity = tokio::time::timeout(std::time::Duration::from_secs(20), adapter.probe())
        .await
        .map_err(|_| "the platform did not answer within 20 s".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(identity.name)
}

pub(super) async fn channels_test(rt: &Runtime, p: ChannelsTestParams) -> MethodResult {
    known_channel(&p.channel)?;
    let account = account_id(p.account.as_deref())?;
    let started = Instant::now();
    let result = if p.credentials.is_empty() && p.settings.is_empty() {
        match rt.live().config.channels.account(&p.channel, &account) {
            Some(resolved) => match channels::build_adapter(rt, &resolved).await {
                Ok(adapter) => adapter
                    .probe()
                    .await
                    .map(|i| i.name)
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            None => {
                return Err(ErrorShape::new(
                    ErrorCode::NotFound,
                    format!("no `{}` account `{account}` is configured", p.channel),
                ));
            }
        }
    } else {
        probe(
            rt,
            &p.channel,
            &account,
            draft_section(&p.credentials, &p.settings)?,
        )
        .await
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    ok(match result {
        Ok(identity) => ChannelsTestResult {
            ok: true,
            identity: Some(identity),
            error: None,
            latency_ms,
        },
        Err(error) => ChannelsTestResult {
            ok: false,
            identity: None,
            error: Some(error),
            latency_ms,
        },
    })
}

fn secret_name(channel: &str, account: &str, key: &str) -> String {
    format!("channels.{channel}.{account}.{key}")
}

/// The merge patch that puts `section` at the account's place.
fn account_patch(channel: &str, account: &str, section: Value) -> Value {
    if account == hearth_config::DEFAULT_ACCOUNT {
        json!({ "channels": { channel: section } })
    } else {
        json!({ "channels": { channel: { "accounts": { account: section } } } })
    }
}

pub(super) async fn channels_add(rt: &Arc<Runtime>, p: ChannelsAddParams) -> MethodResult {
    known_channel(&p.channel)?;
    let account = account_id(p.account.as_deref())?;
    let draft = draft_section(&p.credentials, &p.settings)?;
    let identity = if p.test {
        Some(probe(rt, &p.channel, &account, draft).await.map_err(|e| {
            ErrorShape::new(
                ErrorCode::InvalidRequest,
                format!("the {} credentials did not work: {e}", p.channel),
            )
        })?)
    } else {
        None
    };
    let mut section = p.settings.clone();
    let mut names = Vec::new();
    for key in p.credentials.keys() {
        let name = secret_name(&p.channel, &account, key);
        section.insert(key.clone(), json!({ "secret": name }));
        names.push(name);
    }
    let _applying = rt.config_lock.lock().await;
    let disk = read_config_file(&rt.config_path).await?;
    let base = p.base_hash.clone().unwrap_or_else(|| disk.hash.clone());
    check_base_hash(&disk, &base)?;
    let patch = account_patch(&p.channel, &account, Value::Object(section));
    let text = patched_text(&disk, |_| patch)?;
    let checked = check_text(rt, &text).await?;
    // Secrets first: the config that refers to them is valid only once they exist.
    if !p.credentials.is_empty() {
        let store = secret_store(rt).await?;
        let pairs: Vec<(String, String)> = p
            .credentials
            .iter()
            .map(|(k, v)| (secret_name(&p.channel, &account, k), v.trim().to_owned()))
            .collect();
        blocking(&store, move |s| {
            for (name, value) in &pairs {
                s.set(name, value)?;
            }
            Ok(())
        })
        .await?;
    }
    let config = write_checked(rt, text, &base, checked).await?;
    tracing::info!(channel = %p.channel, %account, "channel account added");
    ok(ChannelsAddResult {
        channel: p.channel,
        account,
        identity,
        secrets: names,
        config,
    })
}

pub(super) async fn channels_remove(rt: &Arc<Runtime>, p: ChannelsRemoveParams) -> MethodResult {
    known_channel(&p.channel)?;
    let live = rt.live();
    let accounts: Vec<_> = live
        .config
        .channels
        .accounts()
        .into_iter()
        .filter(|a| a.channel == p.channel)
        .filter(|a| p.account.as_deref().is_none_or(|id| a.account_id == id))
        .collect();
    if accounts.is_empty() {
        return Err(ErrorShape::new(
            ErrorCode::NotFound,
            match &p.account {
                Some(a) => format!("no `{}` account `{a}` is configured", p.channel),
                None => format!("`{}` is not configured", p.channel),
            },
        ));
    }
    let own_secrets: Vec<String> = accounts
        .iter()
        .flat_map(|a| {
            let pl = &a.platform;
            [
                &pl.bot_token,
                &pl.token,
                &pl.app_token,
                &pl.signing_secret,
                &pl.password,
                &pl.access_token,
                &pl.webhook_secret,
            ]
            .into_iter()
            .filter_map(|v| v.as_ref().and_then(|s| s.secret_name()).map(str::to_owned))
            .collect::<Vec<_>>()
        })
        .filter(|name| name.starts_with(&format!("channels.{}.", p.channel)))
        .collect();
    let _applying = rt.config_lock.lock().await;
    let disk = read_config_file(&rt.config_path).await?;
    let base = p.base_hash.clone().unwrap_or_else(|| disk.hash.clone());
    check_base_hash(&disk, &base)?;
    let patch = match p.account.as_deref() {
        None => json!({ "channels": { p.channel.clone(): null } }),
        Some(id) => {
            let has_accounts = live
                .config
                .channels
                .get(&p.channel)
                .is_some_and(|c| c.accounts.contains_key(id));
            if has_accounts {
                json!({ "channels": { p.channel.clone(): { "accounts": { id: null } } } })
            } else {
                json!({ "channels": { p.channel.clone(): null } })
            }
        }
    };
    let text = patched_text(&disk, |_| patch)?;
    let checked = check_text(rt, &text).await?;
    let write = write_checked(rt, text, &base, checked).await?;
    if !own_secrets.is_empty() {
        let store = secret_store(rt).await?;
        blocking(&store, move |s| {
            for name in &own_secrets {
                s.delete(name)?;
            }
            Ok(())
        })
        .await?;
    }
    tracing::info!(channel = %p.channel, account = ?p.account, "channel account removed");
    ok(write)
}

pub(super) async fn pairing_list(rt: &Runtime) -> MethodResult {
    let store_err =
        |e: hearth_store::StoreError| ErrorShape::new(ErrorCode::Internal, e.to_string());
    let requests = rt.store.pairings(now_ms()).await.map_err(store_err)?;
    let approved = rt.store.approved_senders().await.map_err(store_err)?;
    ok(PairingListResult {
        requests: requests
            .into_iter()
            .map(|r| PairingRequest {
                channel: r.channel,
                account: r.account,
                sender_id: r.sender_id,
                sender_name: r.sender_name,
                code: r.code,
                created_at_ms: r.created_at,
                expires_at_ms: r.expires_at,
            })
            .collect(),
        approved: approved
            .into_iter()
            .map(|a| ApprovedSender {
                channel: a.channel,
                account: a.account,
                sender_id: a.sender_id,
                sender_name: a.sender_name,
                approved_at_ms: a.approved_at,
            })
            .collect(),
    })
}

pub(super) async fn pairing_decide(
    rt: &Arc<Runtime>,
    p: PairingCodeParams,
    approve: bool,
) -> MethodResult {
    let code: String = p
        .code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let row = rt
        .store
        .resolve_pairing(&code, approve)
        .await
        .map_err(|e| ErrorShape::new(ErrorCode::Internal, e.to_string()))?
        .ok_or_else(|| {
            ErrorShape::new(
                ErrorCode::NotFound,
                format!(
                    "no pending pairing request has the code `{}` (codes expire after an hour)",
                    p.code
                ),
            )
        })?;
    if approve && let Some(handle) = rt.channels.handle(&row.channel, &row.account) {
        let target = hearth_channels::Target {
            peer_kind: hearth_channels::PeerKind::Direct,
            chat_id: row.chat_id.clone(),
            thread_id: None,
            reply_to: None,
        };
        channels::inbound::queue_text(
            rt,
            &handle,
            &target,
            "You're approved. Send me a message any time.",
            None,
        )
        .await;
    }
    let decision = PairingDecision {
        channel: row.channel,
        account: row.account,
        sender_id: row.sender_id,
        sender_name: row.sender_name,
        decision: if approve { "approved" } else { "denied" }.to_owned(),
    };
    tracing::info!(channel = %decision.channel, sender = %decision.sender_id, decision = %decision.decision, "pairing decided");
    rt.bus.publish(Event::PairingResolved(decision.clone()));
    ok(decision)
}

pub(super) async fn pairing_revoke(rt: &Runtime, p: PairingRevokeParams) -> MethodResult {
    let revoked = rt
        .store
        .revoke_sender(&p.channel, &p.account, &p.sender_id)
        .await
        .map_err(|e| ErrorShape::new(ErrorCode::Internal, e.to_string()))?;
    ok(PairingRevokeResult { revoked })
}

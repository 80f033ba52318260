//! Receiving by long polling (<https://core.telegram.org/bots/api#getupdates>).
//!
//! Telegram keeps every update until a later `getUpdates` names an `offset` past it, so the
//! offset is the acknowledgement: it only moves past an update once the gateway's sink has taken
//! it. When the sink refuses, the batch stops and the same offset is asked for again, and
//! Telegram hands the refused update over once more.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::{ChannelError, RunContext};

use super::api::Update;
use super::{ALLOWED_UPDATES, Telegram, inbound};

/// Pause after the sink refused a message, before asking Telegram for it again.
const REFUSED_PAUSE: Duration = Duration::from_secs(1);
/// How much longer than the long poll itself the HTTP request may take.
const POLL_SLACK: Duration = Duration::from_secs(15);

pub(super) async fn run(tg: &Telegram, ctx: &RunContext) -> Result<(), ChannelError> {
    let cancel = &ctx.cancel;
    let Some(me) = cancel.run_until_cancelled(tg.me()).await else {
        return Ok(());
    };
    let me = me?;
    // Polling is refused with 409 while a webhook is set (a webhook-mode run left one behind).
    let empty = json!({});
    let delete = tg
        .api
        .call::<Value>("deleteWebhook", &empty, super::CALL_TIMEOUT);
    match cancel.run_until_cancelled(delete).await {
        None => return Ok(()),
        Some(result) => result?,
    };

    let mut offset = Some(tg.offset.load(Ordering::Relaxed)).filter(|o| *o > 0);
    let mut connected = false;
    loop {
        let mut body = Map::new();
        if let Some(offset) = offset {
            body.insert("offset".to_owned(), offset.into());
        }
        // The first poll of a run returns at once, so the account reports itself connected
        // without waiting a whole long-poll period for the first update.
        let timeout = if connected {
            tg.poll_timeout
        } else {
            std::time::Duration::ZERO
        };
        body.insert("timeout".to_owned(), timeout.as_secs().into());
        body.insert("allowed_updates".to_owned(), json!(ALLOWED_UPDATES));
        let body = Value::Object(body);
        let call = tg
            .api
            .call::<Vec<Value>>("getUpdates", &body, timeout + POLL_SLACK);
        let updates = match cancel.run_until_cancelled(call).await {
            None => return Ok(()),
            Some(result) => result?,
        };
        if !connected {
            connected = true;
            ctx.connected();
        }

        let mut refused = false;
        for raw in updates {
            let Some(id) = raw.get("update_id").and_then(Value::as_i64) else {
                tracing::debug!("telegram update without update_id skipped");
                continue;
            };
            let message = match serde_json::from_value::<Update>(raw) {
                Ok(update) => inbound::from_update(&update, &me, &tg.account),
                Err(err) => {
                    tracing::debug!(update_id = id, %err, "unreadable telegram update skipped");
                    None
                }
            };
            if let Some(message) = message {
                match cancel.run_until_cancelled(ctx.sink.accept(message)).await {
                    None => return Ok(()),
                    Some(Ok(())) => {}
                    Some(Err(err)) => {
                        tracing::warn!(update_id = id, %err, "telegram update not taken; asking again");
                        refused = true;
                        break;
                    }
                }
            }
            offset = Some(id + 1);
            tg.offset.store(id + 1, Ordering::Relaxed);
        }
        if refused
            && cancel
                .run_until_cancelled(tokio::time::sleep(REFUSED_PAUSE))
                .await
                .is_none()
        {
            return Ok(());
        }
    }
}

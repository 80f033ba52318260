//! The receiving side: a `/sync` loop that hands every new `m.room.message` to the gateway
//! and only then acknowledges it.
//!
//! The SDK decrypts timeline events while it processes a sync response, and stores its own
//! next position as it does. The loop reads each response itself (instead of the SDK's
//! event-handler callbacks, which cannot refuse) and keeps a second, acknowledged position in
//! the same encrypted state store, advanced only once the sink has taken every message of
//! the response. While the sink refuses, the loop retries (with backoff) before syncing on.
//! If the process stops in between, the next start finds the acknowledged position behind
//! the SDK's and fetches what lies between from `/messages` (the SDK ignores a `/sync` answer
//! it has already processed, so the gap cannot simply be synced again). The gateway
//! recognises a message it already stored by its event id.
//!
//! The very first sync of an account (no position stored) only catches up: the rooms' old
//! history is not delivered. Messages that arrived while the gateway was down are delivered
//! after it comes back; a gap the server left out of a sync (`limited` timeline) is filled
//! from `/messages`. An event that cannot be decrypted yet (its room key is still on the way)
//! is fetched again after later syncs, once the key may have arrived.

use std::time::Duration;

use matrix_sdk::config::{SyncSettings, SyncToken};
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UInt};
use matrix_sdk::store::StateStoreDataKey;
use matrix_sdk::sync::SyncResponse;
use matrix_sdk::{Client, Room, RoomMemberships};
use tokio::task::JoinSet;

use super::errors::{is_unknown_token, sdk_error};
use super::inbound::{Bot, Facts, replied_event, skip_reason, to_inbound};
use super::{AutoJoin, Matrix};
use crate::{ChannelError, Inbound, RunContext};

/// Key of the acknowledged sync position in the state store.
const POSITION_KEY: &[u8] = b"hearth.matrix.acked_sync_token";
/// How long the server may hold a sync open when nothing happens.
const LONG_POLL: Duration = Duration::from_secs(30);
/// Consecutive failed syncs before `run` gives up and lets the gateway reconnect (about five
/// minutes with the backoff below), so a dead homeserver shows up in the account's status.
const MAX_FAILURES: u32 = 12;
/// Syncs after which an event that still cannot be decrypted is given up on.
const MAX_UNDECRYPTABLE_TRIES: u32 = 10;
/// Pages of `/messages` (100 events each) fetched to fill one gap; older ones are given up on.
const MAX_GAP_PAGES: usize = 5;
/// Longest pause between two offers of the same message to a refusing sink.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(30);

/// Whether the work finished or `run` was cancelled in the middle of it.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Cancelled,
}

/// An event whose room key had not arrived when it was synced.
struct Undecryptable {
    room: Room,
    event_id: OwnedEventId,
    tries: u32,
}

pub(super) async fn run(
    adapter: &Matrix,
    client: Client,
    ctx: &RunContext,
) -> Result<(), ChannelError> {
    let Some(user_id) = client.user_id().map(ToOwned::to_owned) else {
        return Err(ChannelError::Transient(
            "the Matrix client has no session".to_owned(),
        ));
    };
    // Only used to recognise mentions by name: a failure here is not worth failing the run.
    let account = client.account();
    let display_name = tokio::select! {
        () = ctx.cancel.cancelled() => return Ok(()),
        name = account.get_display_name() => name.ok().flatten(),
    };
    let mut pass = Pass {
        adapter,
        client,
        ctx,
        bot: Bot {
            user_id,
            display_name,
        },
        joins: JoinSet::new(),
        undecryptable: Vec::new(),
    };
    pass.sync_loop().await
}

struct Pass<'a> {
    adapter: &'a Matrix,
    client: Client,
    ctx: &'a RunContext,
    bot: Bot,
    /// Invites being accepted; dropped (so aborted) when `run` returns.
    joins: JoinSet<()>,
    undecryptable: Vec<Undecryptable>,
}

impl Pass<'_> {
    async fn sync_loop(&mut self) -> Result<(), ChannelError> {
        let mut acked = self.load_position().await;
        if let (Some(from), Some(to)) = (acked.clone(), self.sdk_position().await)
            && from != to
        {
            // Stopped after the SDK stored a response but before the sink took all of it.
            if self.catch_up(&from, &to).await == Outcome::Cancelled {
                return Ok(());
            }
            self.save_position(&to).await;
            acked = Some(to);
        }
        let mut failures = 0_u32;
        let mut reported = false;
        loop {
            while self.joins.try_join_next().is_some() {}
            // The SDK continues from the position it stored; without an acknowledged position
            // (the account's first sync) it starts afresh and answers at once.
            let settings = SyncSettings::new().filter(filter());
            let settings = match acked {
                Some(_) => settings.token(SyncToken::ReusePrevious).timeout(LONG_POLL),
                None => settings.token(SyncToken::NoToken).timeout(Duration::ZERO),
            };
            let response = tokio::select! {
                () = self.ctx.cancel.cancelled() => return Ok(()),
                r = self.client.sync_once(settings) => r,
            };
            let response = match response {
                Ok(response) => response,
                Err(err) => {
                    if is_unknown_token(&err) {
                        // A password account can simply log in again (the next `run`); a
                        // configured access token is dead until the user replaces it.
                        self.adapter.forget_client().await;
                        return Err(if self.adapter.uses_password() {
                            ChannelError::Transient(
                                "the homeserver ended the Matrix session; logging in again"
                                    .to_owned(),
                            )
                        } else {
                            sdk_error(&err, "Matrix sync")
                        });
                    }
                    failures += 1;
                    let err = sdk_error(&err, "Matrix sync");
                    if failures >= MAX_FAILURES {
                        return Err(err);
                    }
                    reported = false;
                    let wait = err.retry_after().unwrap_or_else(|| backoff(failures));
                    tracing::warn!(
                        account = %self.adapter.settings.account_id,
                        error = %err,
                        retry_in_ms = wait.as_millis() as u64,
                        "Matrix sync failed"
                    );
                    if !self.pause(wait).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            failures = 0;
            if !reported {
                reported = true;
                self.ctx.connected();
            }
            if self.handle(&response, acked.as_deref()).await == Outcome::Cancelled {
                return Ok(());
            }
            // An empty answer (the SDK had already processed it) moves nothing.
            if !response.next_batch.is_empty() {
                self.save_position(&response.next_batch).await;
                acked = Some(response.next_batch);
            }
        }
    }

    /// Waits `wait` unless cancelled; false when cancelled.
    async fn pause(&self, wait: Duration) -> bool {
        tokio::select! {
            () = self.ctx.cancel.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }

    async fn load_position(&self) -> Option<String> {
        match self
            .client
            .state_store()
            .get_custom_value(POSITION_KEY)
            .await
        {
            Ok(value) => value.and_then(|v| String::from_utf8(v).ok()),
            Err(err) => {
                tracing::warn!(error = %err, "could not read the Matrix sync position");
                None
            }
        }
    }

    /// Where the SDK will continue syncing from.
    async fn sdk_position(&self) -> Option<String> {
        self.client
            .state_store()
            .get_kv_data(StateStoreDataKey::SyncToken)
            .await
            .ok()
            .flatten()
            .and_then(|value| value.into_sync_token())
    }

    async fn save_position(&self, token: &str) {
        if let Err(err) = self
            .client
            .state_store()
            .set_custom_value_no_read(POSITION_KEY, token.as_bytes().to_vec())
            .await
        {
            // Not fatal: the worst case is a redelivery the gateway deduplicates.
            tracing::warn!(error = %err, "could not store the Matrix sync position");
        }
    }

    /// Joins invited rooms and delivers new messages of one response. `since` is the position
    /// the response continues from; without one (the account's first sync) nothing is
    /// delivered.
    async fn handle(&mut self, response: &SyncResponse, since: Option<&str>) -> Outcome {
        for room_id in response.rooms.invited.keys() {
            self.consider_invite(room_id.clone());
        }
        let Some(since) = since else {
            return Outcome::Done;
        };
        for (room_id, update) in &response.rooms.joined {
            let Some(room) = self.client.get_room(room_id) else {
                continue;
            };
            let mut events = Vec::new();
            if update.timeline.limited {
                events = self
                    .missed_events(&room, update.timeline.prev_batch.clone(), since)
                    .await;
            }
            events.extend(update.timeline.events.iter().cloned());
            let events = self.after_own_join(&room, events).await;
            if self.deliver(&room, &events).await == Outcome::Cancelled {
                return Outcome::Cancelled;
            }
        }
        self.retry_undecryptable().await
    }

    /// Hands the room's new messages to the gateway, in order.
    async fn deliver(&mut self, room: &Room, events: &[TimelineEvent]) -> Outcome {
        for event in events {
            if event.kind.is_utd() {
                if let Some(event_id) = event.event_id() {
                    tracing::debug!(room = %room.room_id(), event = %event_id, "not decryptable yet");
                    self.undecryptable.push(Undecryptable {
                        room: room.clone(),
                        event_id,
                        tries: 0,
                    });
                }
                continue;
            }
            if self.deliver_one(room, event).await == Outcome::Cancelled {
                return Outcome::Cancelled;
            }
        }
        Outcome::Done
    }

    async fn deliver_one(&self, room: &Room, event: &TimelineEvent) -> Outcome {
        let Some(message) = as_message(event) else {
            return Outcome::Done;
        };
        if let Some(reason) = skip_reason(&message, &self.bot) {
            tracing::debug!(event = %message.event_id, reason, "not delivered");
            return Outcome::Done;
        }
        let inbound = self.inbound(room, &message, event).await;
        self.accept(inbound).await
    }

    /// Fetches the events that could not be decrypted again: a later sync may have brought
    /// their room keys.
    async fn retry_undecryptable(&mut self) -> Outcome {
        for mut pending in std::mem::take(&mut self.undecryptable) {
            pending.tries += 1;
            match pending.room.event(&pending.event_id, None).await {
                Ok(event) if !event.kind.is_utd() => {
                    if self.deliver_one(&pending.room, &event).await == Outcome::Cancelled {
                        return Outcome::Cancelled;
                    }
                }
                _ if pending.tries >= MAX_UNDECRYPTABLE_TRIES => {
                    tracing::warn!(
                        account = %self.adapter.settings.account_id,
                        event = %pending.event_id,
                        "giving up on a message whose room key never arrived"
                    );
                }
                _ => self.undecryptable.push(pending),
            }
        }
        Outcome::Done
    }

    /// Delivers what every joined room received between two sync positions.
    async fn catch_up(&mut self, from: &str, to: &str) -> Outcome {
        tracing::info!(
            account = %self.adapter.settings.account_id,
            "delivering messages the gateway had not taken before it stopped"
        );
        for room in self.client.joined_rooms() {
            let mut token = Some(from.to_owned());
            for _ in 0..MAX_GAP_PAGES {
                let Some(page_from) = token.take() else { break };
                let mut options = MessagesOptions::forward().from(Some(page_from.as_str()));
                options.to = Some(to.to_owned());
                options.limit = UInt::from(100_u32);
                let page = tokio::select! {
                    () = self.ctx.cancel.cancelled() => return Outcome::Cancelled,
                    page = room.messages(options) => page,
                };
                match page {
                    Ok(page) => {
                        if self.deliver(&room, &page.chunk).await == Outcome::Cancelled {
                            return Outcome::Cancelled;
                        }
                        if page.chunk.is_empty() {
                            break;
                        }
                        token = page.end;
                    }
                    Err(err) => {
                        tracing::warn!(room = %room.room_id(), error = %err, "could not catch up");
                        break;
                    }
                }
            }
        }
        Outcome::Done
    }

    /// In a group the bot just joined, the timeline starts with history from before the join:
    /// that is not addressed to it. In a DM it is (clients send the first message while the
    /// invite is still pending), so it is kept.
    async fn after_own_join(&self, room: &Room, events: Vec<TimelineEvent>) -> Vec<TimelineEvent> {
        let own_join = events.iter().rposition(|e| {
            let raw = e.raw();
            raw.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.member")
                && raw
                    .get_field::<String>("state_key")
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(self.bot.user_id.as_str())
                && raw
                    .get_field::<serde_json::Value>("content")
                    .ok()
                    .flatten()
                    .and_then(|c| {
                        c.get("membership")
                            .and_then(|m| m.as_str().map(str::to_owned))
                    })
                    .as_deref()
                    == Some("join")
        });
        match own_join {
            Some(at) if !self.is_direct(room).await => events.into_iter().skip(at + 1).collect(),
            _ => events,
        }
    }

    /// The events a `limited` timeline left out between `since` and the timeline's start.
    async fn missed_events(
        &self,
        room: &Room,
        prev_batch: Option<String>,
        since: &str,
    ) -> Vec<TimelineEvent> {
        let mut missed = Vec::new();
        let mut from = prev_batch;
        for _ in 0..MAX_GAP_PAGES {
            let Some(token) = from.take() else { break };
            let mut options = MessagesOptions::backward().from(Some(token.as_str()));
            options.to = Some(since.to_owned());
            options.limit = UInt::from(100_u32);
            match room.messages(options).await {
                Ok(page) => {
                    let done = page.chunk.is_empty() || page.end.is_none();
                    missed.extend(page.chunk);
                    from = page.end;
                    if done {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(room = %room.room_id(), error = %err, "could not fill a sync gap");
                    break;
                }
            }
        }
        missed.reverse();
        missed
    }

    async fn is_direct(&self, room: &Room) -> bool {
        if room.is_direct().await.unwrap_or(false) {
            return true;
        }
        let joined = match room.joined_members_count() {
            0 => room
                .members_no_sync(RoomMemberships::JOIN)
                .await
                .map(|m| m.len() as u64)
                .unwrap_or(0),
            n => n,
        };
        joined == 2
    }

    async fn inbound(
        &self,
        room: &Room,
        message: &OriginalSyncRoomMessageEvent,
        event: &TimelineEvent,
    ) -> Inbound {
        let sender_name = match room.get_member_no_sync(&message.sender).await {
            Ok(Some(member)) => member.display_name().map(ToOwned::to_owned),
            _ => None,
        };
        let replies_to_bot = match replied_event(message) {
            Some(id) if self.adapter.sent_by_us(id.as_str()) => true,
            Some(id) => match room.event(&id, None).await {
                Ok(original) => {
                    original
                        .raw()
                        .get_field::<OwnedUserId>("sender")
                        .ok()
                        .flatten()
                        .as_ref()
                        == Some(&self.bot.user_id)
                }
                Err(err) => {
                    tracing::debug!(error = %err, "could not load the replied-to event");
                    false
                }
            },
            None => false,
        };
        let voice = event
            .raw()
            .get_field::<serde_json::Value>("content")
            .ok()
            .flatten()
            .is_some_and(|c| c.get("org.matrix.msc3245.voice").is_some());
        let facts = Facts {
            account: self.adapter.settings.account_id.clone(),
            room_id: room.room_id().to_string(),
            direct: self.is_direct(room).await,
            sender_name,
            replies_to_bot,
            voice,
        };
        to_inbound(message, &self.bot, &facts)
    }

    /// Hands one message to the gateway, offering it again (with backoff) while the gateway
    /// cannot take it: nothing later is acknowledged before it.
    async fn accept(&self, inbound: Inbound) -> Outcome {
        let mut wait = Duration::from_millis(250);
        let mut attempt = 0_u32;
        loop {
            attempt += 1;
            let result = tokio::select! {
                () = self.ctx.cancel.cancelled() => return Outcome::Cancelled,
                r = self.ctx.sink.accept(inbound.clone()) => r,
            };
            let Err(err) = result else {
                return Outcome::Done;
            };
            tracing::warn!(
                event = %inbound.message_id,
                attempt,
                error = %err,
                "the gateway did not take a Matrix message"
            );
            if !self.pause(wait).await {
                return Outcome::Cancelled;
            }
            wait = (wait * 2).min(MAX_ACCEPT_BACKOFF);
        }
    }

    fn consider_invite(&mut self, room_id: OwnedRoomId) {
        let Some(room) = self.client.get_room(&room_id) else {
            return;
        };
        let policy = self.adapter.auto_join.clone();
        let cancel = self.ctx.cancel.clone();
        self.joins.spawn(async move {
            let inviter = match room.invite_details().await {
                Ok(invite) => invite.inviter_id.to_string(),
                Err(err) => {
                    tracing::debug!(room = %room_id, error = %err, "no invite details");
                    return;
                }
            };
            if !policy.accepts(&inviter) {
                tracing::info!(room = %room_id, %inviter, "invite not accepted (autoJoin)");
                return;
            }
            // Right after an invite, a join can race the homeserver's own processing of it.
            for attempt in 0..4_u32 {
                match room.join().await {
                    Ok(()) => {
                        tracing::info!(room = %room_id, %inviter, "joined on invite");
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(room = %room_id, attempt, error = %err, "could not join");
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_millis(500 << attempt)) => {}
                        }
                    }
                }
            }
        });
    }
}

impl AutoJoin {
    fn accepts(&self, inviter: &str) -> bool {
        match self {
            AutoJoin::All => true,
            AutoJoin::None => false,
            AutoJoin::Allowlist(allowed) => allowed.iter().any(|a| a == inviter || a == "*"),
        }
    }
}

/// The event as an `m.room.message`, if it is one (and not redacted).
fn as_message(event: &TimelineEvent) -> Option<OriginalSyncRoomMessageEvent> {
    let raw = event.raw();
    if raw.get_field::<String>("type").ok().flatten().as_deref() != Some("m.room.message") {
        return None;
    }
    match raw.deserialize_as_unchecked::<OriginalSyncRoomMessageEvent>() {
        Ok(message) => Some(message),
        Err(err) => {
            tracing::debug!(error = %err, "an m.room.message that does not parse (redacted?)");
            None
        }
    }
}

/// The sync filter: a longer timeline than the server's default of 10 events, so a short
/// outage is caught up without a gap to fill.
fn filter() -> Filter {
    let mut definition = FilterDefinition::default();
    definition.room.timeline.limit = Some(UInt::from(50_u32));
    Filter::FilterDefinition(definition)
}

fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.min(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(9), Duration::from_secs(32));
    }

    #[test]
    fn invite_policies() {
        assert!(AutoJoin::All.accepts("@x:y"));
        assert!(!AutoJoin::None.accepts("@x:y"));
        let list = AutoJoin::Allowlist(vec!["@alice:example.org".into()]);
        assert!(list.accepts("@alice:example.org"));
        assert!(!list.accepts("@mallory:example.org"));
    }
}

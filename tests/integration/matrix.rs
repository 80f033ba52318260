//! The Matrix channel through the whole gateway, against a real Synapse on loopback: the
//! gateway logs in as `@hearth:localhost` (its crypto store's passphrase kept in the secret
//! store), and people on the other side are `matrix-sdk` clients of their own, so every message
//! crosses real end-to-end encryption both ways.
//!
//! The platform-level details (edits, media, threads, restarts) are the adapter's own tests
//! (`crates/hearth-channels/tests/matrix.rs`); here the point is the path around them: access
//! control, pairing, the model call, the session and the answer back in the room.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_protocol::methods::{ChannelState, Empty, SessionsListParams, spec};
use hearth_test_utils::Reply;
use hearth_test_utils::synapse::{PASSWORD, Synapse};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::EncryptionInfo;
use matrix_sdk::event_handler::RawEvent;
use matrix_sdk::ruma::events::AnySyncMessageLikeEvent;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, UserId};
use matrix_sdk::{Client, Room};
use serde_json::Value;

use crate::harness::TestGateway;

/// Room creation, key exchange and the first login's store key derivation in a debug build
/// take seconds each; nothing here should take longer than this.
const WAIT: Duration = Duration::from_secs(30);

const BOT: &str = "@hearth:localhost";

/// A message-like event a person's client saw, decrypted.
#[derive(Debug, Clone)]
struct Seen {
    room_id: OwnedRoomId,
    sender: String,
    raw: Value,
    /// It arrived as `m.room.encrypted`.
    encrypted: bool,
}

impl Seen {
    /// The text it shows: an edit's replacement, or the body.
    fn text(&self) -> &str {
        let content = &self.raw["content"];
        content["m.new_content"]["body"]
            .as_str()
            .or_else(|| content["body"].as_str())
            .unwrap_or_default()
    }
}

/// A person on the other side of the bridge: their own SDK client and SQLite store. It syncs
/// only while a test waits on it, so the test's own future drives it.
struct Person {
    client: Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    _store: tempfile::TempDir,
}

impl Person {
    async fn login(synapse: &Synapse, name: &str) -> Person {
        let store = tempfile::tempdir().expect("tempdir");
        let client = Client::builder()
            .homeserver_url(synapse.url())
            .sqlite_store(store.path(), None)
            .build()
            .await
            .expect("client");
        client
            .matrix_auth()
            .login_username(name, PASSWORD)
            .send()
            .await
            .expect("login");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        client.add_event_handler(
            move |_ev: AnySyncMessageLikeEvent,
                  room: Room,
                  raw: RawEvent,
                  info: Option<EncryptionInfo>| {
                let sink = sink.clone();
                async move {
                    let raw: Value = serde_json::from_str(raw.get()).expect("json");
                    sink.lock().expect("lock").push(Seen {
                        room_id: room.room_id().to_owned(),
                        sender: raw["sender"].as_str().unwrap_or_default().to_owned(),
                        raw,
                        encrypted: info.is_some(),
                    });
                }
            },
        );
        let person = Person {
            client,
            seen,
            _store: store,
        };
        person.sync().await;
        person
    }

    async fn sync(&self) {
        self.client
            .sync_once(SyncSettings::default().timeout(Duration::from_millis(500)))
            .await
            .expect("sync");
    }

    /// Opens an encrypted DM with the bot and waits until the bot has joined it, so the room
    /// key of the first message is shared with the bot's device.
    async fn dm_bot(&self) -> Room {
        let bot = UserId::parse(BOT).expect("user id");
        let dm = self.client.create_dm(&bot).await.expect("create dm");
        assert!(
            dm.latest_encryption_state()
                .await
                .expect("encryption state")
                .is_encrypted(),
            "the DM is encrypted"
        );
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.sync().await;
            let joined: Vec<OwnedUserId> = dm
                .members_no_sync(matrix_sdk::RoomMemberships::JOIN)
                .await
                .map(|members| members.iter().map(|m| m.user_id().to_owned()).collect())
                .unwrap_or_default();
            if joined.contains(&bot) {
                return dm;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot never joined the DM"
            );
        }
    }

    /// Waits for a message from the bot in `room` that shows `text`, finished (a streamed
    /// preview ends with `…` until its last edit).
    async fn wait_from_bot(&self, room: &Room, text: &str) -> Seen {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.sync().await;
            let found = self
                .seen
                .lock()
                .expect("lock")
                .iter()
                .find(|s| {
                    s.room_id == room.room_id()
                        && s.sender == BOT
                        && s.text().contains(text)
                        && !s.text().ends_with('…')
                })
                .cloned();
            if let Some(seen) = found {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message `{text}` from the bot: {:?}",
                self.seen.lock().expect("lock")
            );
        }
    }

    /// Everything the bot sent in `room` so far.
    fn sent_by_bot(&self, room: &Room) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.room_id == room.room_id() && s.sender == BOT)
            .cloned()
            .collect()
    }
}

/// Starts Synapse with the bot's account and the named people registered, then a gateway
/// whose Matrix channel has `policy`, and waits until the channel is connected.
async fn rig(people: &[&str], policy: &str) -> (Synapse, TestGateway) {
    let synapse = Synapse::start().await;
    assert_eq!(synapse.register("hearth").await, BOT);
    for name in people {
        synapse.register(name).await;
    }
    // The file backend: a test home has no keychain, and the gateway keeps the Matrix store's
    // passphrase in the secret store.
    let t = TestGateway::start_with(&format!(
        r#"secrets: {{ backend: "file" }},
  channels: {{ matrix: {{ homeserver: "{}", userId: "{BOT}", password: "{PASSWORD}", {policy} }} }}"#,
        synapse.url()
    ))
    .await;
    let client = t.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        let account = status
            .channels
            .iter()
            .find(|c| c.channel == "matrix")
            .expect("matrix listed");
        if account.state == ChannelState::Connected {
            assert_eq!(account.identity.as_deref(), Some(BOT), "{account:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "matrix never connected: {account:?}\n{}",
            synapse.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (synapse, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_person_gets_an_encrypted_answer() {
    let (synapse, t) = rig(
        &["alice"],
        r#"dmPolicy: "allowlist", allowFrom: ["@alice:localhost"]"#,
    )
    .await;
    // The gateway's adapter chose the process's TLS provider before this client is built.
    let alice = Person::login(&synapse, "alice").await;
    let dm = alice.dm_bot().await;

    t.fake.push(Reply::text("Hello Alice, this is Hearth."));
    dm.send(RoomMessageEventContent::text_plain("hello from alice"))
        .await
        .expect("send");
    let answer = alice
        .wait_from_bot(&dm, "Hello Alice, this is Hearth.")
        .await;
    assert!(
        answer.encrypted,
        "the answer must arrive as m.room.encrypted: {:?}",
        answer.raw
    );

    assert_eq!(t.fake.request_count(), 1);
    let body = t.fake.requests()[0].body.to_string();
    assert!(body.contains("hello from alice"), "{body}");

    let client = t.client().await;
    let sessions = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap();
    assert!(
        sessions
            .sessions
            .iter()
            .any(|s| s.key == "agent:main:direct:matrix:@alice:localhost"),
        "{:?}",
        sessions.sessions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_gets_a_pairing_code_and_no_model_call() {
    let (synapse, t) = rig(&["mallory"], r#"dmPolicy: "pairing""#).await;
    let mallory = Person::login(&synapse, "mallory").await;
    let dm = mallory.dm_bot().await;

    dm.send(RoomMessageEventContent::text_plain("let me in"))
        .await
        .expect("send");
    let code = mallory.wait_from_bot(&dm, "pairing code").await;
    assert!(
        code.encrypted,
        "the code must arrive as m.room.encrypted: {:?}",
        code.raw
    );

    let client = t.client().await;
    let list = client.call::<spec::PairingList>(Empty {}).await.unwrap();
    assert_eq!(list.requests.len(), 1, "{list:?}");
    let request = &list.requests[0];
    assert_eq!(request.sender_id, "@mallory:localhost");
    assert!(code.text().contains(&request.code), "{}", code.text());
    assert_eq!(t.fake.request_count(), 0, "a stranger cost a model call");
    assert_eq!(
        mallory.sent_by_bot(&dm).len(),
        1,
        "{:?}",
        mallory.sent_by_bot(&dm)
    );
}

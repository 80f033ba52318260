//! The Matrix adapter against a real Synapse homeserver on loopback, with a second
//! `matrix-sdk` client (alice) on the other side: encrypted DMs both ways, edits, typing,
//! media, groups, threads, mentions, invites, refusals and restarts.
//!
//! Synapse comes from `bash tests/matrix/setup-synapse.sh` (a virtualenv under
//! `$HEARTH_TEST_CACHE`, default `~/.cache/hearth-test`); these tests fail, never skip,
//! without it.

#![cfg(feature = "matrix")]
// The SDK's sync future is deep enough to need more than the default to prove it is `Send`.
#![recursion_limit = "256"]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::CollectSink;
use hearth_channels::matrix::Matrix;
use hearth_channels::{
    AccountSettings, AttachmentKind, ChannelAdapter, ChannelError, Content, Inbound, Outbound,
    PeerKind, Target,
};
use hearth_test_utils::synapse::{PASSWORD, Synapse};
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::EncryptionInfo;
use matrix_sdk::event_handler::RawEvent;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::api::client::room::create_room::v3::Request as CreateRoom;
use matrix_sdk::ruma::events::relation::{InReplyTo, Reply, Thread};
use matrix_sdk::ruma::events::room::MediaSource;
use matrix_sdk::ruma::events::room::message::Relation;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::events::{AnySyncEphemeralRoomEvent, AnySyncMessageLikeEvent, Mentions};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use matrix_sdk::{Client, Room, RoomState};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(60);

/// Registers `name` on the homeserver (with [`PASSWORD`]).
async fn register(synapse: &Synapse, name: &str) -> OwnedUserId {
    OwnedUserId::try_from(synapse.register(name).await).expect("user id")
}

/// What alice's client saw: message-like events (decrypted) and typing notices.
#[derive(Debug, Clone)]
struct Seen {
    room_id: OwnedRoomId,
    event_id: Option<String>,
    sender: String,
    /// The event as decrypted JSON.
    raw: Value,
    /// It arrived as `m.room.encrypted`.
    encrypted: bool,
}

/// A typing notice alice saw: the room and who was typing.
type TypingSeen = (OwnedRoomId, Vec<String>);

/// A person on the other side: a second SDK client syncing in the background.
struct Person {
    client: Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    typing: Arc<Mutex<Vec<TypingSeen>>>,
    sync: JoinHandle<()>,
    _store: tempfile::TempDir,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.sync.abort();
    }
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
        client
            .sync_once(SyncSettings::default())
            .await
            .expect("first sync");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let typing = Arc::new(Mutex::new(Vec::new()));
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
                        event_id: raw["event_id"].as_str().map(ToOwned::to_owned),
                        sender: raw["sender"].as_str().unwrap_or_default().to_owned(),
                        raw,
                        encrypted: info.is_some(),
                    });
                }
            },
        );
        let sink = typing.clone();
        client.add_event_handler(move |ev: AnySyncEphemeralRoomEvent, room: Room| {
            let sink = sink.clone();
            async move {
                if let AnySyncEphemeralRoomEvent::Typing(t) = ev {
                    let users = t.content.user_ids.iter().map(ToString::to_string).collect();
                    sink.lock()
                        .expect("lock")
                        .push((room.room_id().to_owned(), users));
                }
            }
        });
        let syncing = client.clone();
        let sync = tokio::spawn(async move {
            let _ = syncing
                .sync(SyncSettings::default().timeout(Duration::from_secs(5)))
                .await;
        });
        Person {
            client,
            seen,
            typing,
            sync,
            _store: store,
        }
    }

    /// Waits for an event in `room` that `pred` accepts.
    async fn wait_event(
        &self,
        room: &OwnedRoomId,
        what: &str,
        pred: impl Fn(&Seen) -> bool,
    ) -> Seen {
        wait_until(what, || {
            self.seen
                .lock()
                .expect("lock")
                .iter()
                .find(|s| &s.room_id == room && pred(s))
                .cloned()
        })
        .await
    }

    async fn wait_joined(&self, room: &Room, user: &UserId) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !joined(room).await.iter().any(|m| m == user) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {user} to join"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The joined members as this client knows them from its syncs.
async fn joined(room: &Room) -> Vec<OwnedUserId> {
    room.members_no_sync(matrix_sdk::RoomMemberships::JOIN)
        .await
        .map(|members| members.iter().map(|m| m.user_id().to_owned()).collect())
        .unwrap_or_default()
}

async fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_inbound(sink: &CollectSink, text: &str) -> Inbound {
    wait_until(&format!("the adapter to deliver {text:?}"), || {
        sink.all().into_iter().find(|m| m.text == text)
    })
    .await
}

fn bot_settings(synapse: &Synapse, state_dir: &Path) -> AccountSettings {
    AccountSettings {
        channel: "matrix".into(),
        account_id: "default".into(),
        homeserver: Some(synapse.url().to_owned()),
        user_id: Some("@bot:localhost".into()),
        password: Some(PASSWORD.into()),
        store_passphrase: Some("a passphrase for the stores".into()),
        state_dir: state_dir.to_owned(),
        ..AccountSettings::default()
    }
}

/// Starts `adapter.run` feeding `sink`; cancel the token to stop it.
fn spawn_run(
    adapter: Arc<Matrix>,
    sink: &Arc<CollectSink>,
) -> (
    JoinHandle<Result<(), ChannelError>>,
    tokio_util::sync::CancellationToken,
) {
    let (ctx, cancel) = sink.context();
    (tokio::spawn(async move { adapter.run(ctx).await }), cancel)
}

async fn wait_connected(sink: &CollectSink, n: usize) {
    wait_until("the adapter to connect", || {
        (sink.connected.load(Ordering::SeqCst) >= n).then_some(())
    })
    .await;
}

fn text(t: &str) -> Content {
    Content::Text {
        text: t.into(),
        edit_of: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_dm_round_trip_edit_typing_media_and_restart() {
    let synapse = Synapse::start().await;
    let bot_id = register(&synapse, "bot").await;
    let alice_id = register(&synapse, "alice").await;
    let state = tempfile::tempdir().expect("state dir");
    let settings = bot_settings(&synapse, state.path());

    let adapter = Arc::new(Matrix::new(settings.clone()).expect("adapter"));
    let sink = CollectSink::new();
    let (run, cancel) = spawn_run(adapter.clone(), &sink);
    wait_connected(&sink, 1).await;
    let identity = adapter.probe().await.expect("probe");
    assert_eq!(identity.id, "@bot:localhost");

    // Alice opens an encrypted DM; the bot accepts the invite (autoJoin defaults to all).
    let alice = Person::login(&synapse, "alice").await;
    let dm = alice.client.create_dm(&bot_id).await.expect("create dm");
    assert!(
        dm.latest_encryption_state()
            .await
            .expect("state")
            .is_encrypted()
    );
    alice.wait_joined(&dm, &bot_id).await;
    let room_id = dm.room_id().to_owned();

    let hello = dm
        .send(RoomMessageEventContent::text_plain("hello from alice"))
        .await
        .expect("send")
        .response
        .event_id;
    let inbound = wait_inbound(&sink, "hello from alice").await;
    assert_eq!(inbound.channel, "matrix");
    assert_eq!(inbound.account, "default");
    assert_eq!(inbound.peer_kind, PeerKind::Direct);
    assert_eq!(inbound.chat_id, room_id.as_str());
    assert_eq!(inbound.sender_id, alice_id.as_str());
    assert_eq!(inbound.message_id, hello.as_str());
    assert!(inbound.timestamp_ms > 1_600_000_000_000);
    assert_eq!(inbound.thread_id, None);

    // The answer goes back encrypted, as a rich reply.
    let target = inbound.reply_target();
    let chunks = adapter.render("**hi** alice", 1000);
    assert_eq!(chunks.len(), 1);
    let sent = adapter
        .send(&Outbound {
            target: target.clone(),
            content: text(&chunks[0]),
        })
        .await
        .expect("reply");
    let seen = alice
        .wait_event(&room_id, "the bot's reply", |s| {
            s.event_id.as_deref() == Some(sent.message_id.as_str())
        })
        .await;
    assert!(
        seen.encrypted,
        "the reply must arrive as m.room.encrypted: {:?}",
        seen.raw
    );
    assert_eq!(seen.sender, bot_id.as_str());
    let body = seen.raw["content"]["body"].as_str().expect("body");
    assert!(body.contains("hi") && body.contains("alice"), "{body}");
    assert_eq!(
        seen.raw["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        hello.as_str()
    );

    // An edit replaces it in place.
    let edit = adapter
        .send(&Outbound {
            target: target.clone(),
            content: Content::Text {
                text: "edited answer".into(),
                edit_of: Some(sent.message_id.clone()),
            },
        })
        .await
        .expect("edit");
    let seen = alice
        .wait_event(&room_id, "the edit", |s| {
            s.event_id.as_deref() == Some(edit.message_id.as_str())
        })
        .await;
    assert!(seen.encrypted);
    let relates = &seen.raw["content"]["m.relates_to"];
    assert_eq!(relates["rel_type"], "m.replace");
    assert_eq!(relates["event_id"], sent.message_id.as_str());
    assert_eq!(
        seen.raw["content"]["m.new_content"]["body"],
        "edited answer"
    );

    // Typing.
    adapter.typing(&target).await.expect("typing");
    wait_until("alice to see the bot typing", || {
        alice
            .typing
            .lock()
            .expect("lock")
            .iter()
            .any(|(room, users)| room == &room_id && users.iter().any(|u| u == bot_id.as_str()))
            .then_some(())
    })
    .await;

    // Media in: an encrypted image, fetched back through the adapter.
    let png: Vec<u8> = (0..2048_u32).map(|i| (i * 7 % 251) as u8).collect();
    dm.send_attachment(
        "dot.png",
        &mime::IMAGE_PNG,
        png.clone(),
        AttachmentConfig::new(),
    )
    .await
    .expect("send image");
    let photo = wait_until("the image", || {
        sink.all().into_iter().find(|m| !m.attachments.is_empty())
    })
    .await;
    let attachment = &photo.attachments[0];
    assert_eq!(attachment.kind, AttachmentKind::Image);
    assert_eq!(attachment.mime.as_deref(), Some("image/png"));
    assert!(
        attachment.source.contains("\"file\""),
        "encrypted source: {}",
        attachment.source
    );
    let bytes = adapter.fetch(attachment, 1 << 20).await.expect("fetch");
    assert_eq!(bytes.as_ref(), png.as_slice());
    let too_big = adapter.fetch(attachment, 100).await.expect_err("limit");
    assert!(matches!(too_big, ChannelError::Permanent(_)), "{too_big:?}");

    // Media out: a file with a caption, encrypted, readable by alice.
    let file = state.path().join("notes.txt");
    std::fs::write(&file, b"the notes, in full").expect("write");
    let sent_file = adapter
        .send(&Outbound {
            target: target.clone(),
            content: Content::Media {
                kind: AttachmentKind::Document,
                path: file,
                mime: "text/plain".into(),
                name: "notes.txt".into(),
                caption: Some("here you go".into()),
            },
        })
        .await
        .expect("send file");
    let seen = alice
        .wait_event(&room_id, "the file", |s| {
            s.event_id.as_deref() == Some(sent_file.message_id.as_str())
        })
        .await;
    assert!(seen.encrypted);
    assert_eq!(seen.raw["content"]["msgtype"], "m.file");
    assert_eq!(seen.raw["content"]["body"], "here you go");
    let source: MediaSource =
        serde_json::from_value(json!({"file": seen.raw["content"]["file"].clone()}))
            .expect("encrypted file source");
    let downloaded = alice
        .client
        .media()
        .get_media_content(
            &MediaRequestParameters {
                source,
                format: MediaFormat::File,
            },
            false,
        )
        .await
        .expect("download");
    assert_eq!(downloaded, b"the notes, in full");

    // Restart: the same state dir logs in as the same device, and a message sent while the
    // adapter was down arrives once it is back.
    let device = adapter.device_id().await.expect("device id");
    let saved = std::fs::read_to_string(state.path().join("device.json")).expect("device.json");
    assert!(saved.contains(&device));
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("run returns promptly")
        .expect("join")
        .expect("run ends Ok on cancel");
    drop(adapter);

    dm.send(RoomMessageEventContent::text_plain(
        "sent while you were away",
    ))
    .await
    .expect("send while down");

    let adapter = Arc::new(Matrix::new(settings).expect("adapter"));
    let sink2 = CollectSink::new();
    let (run, cancel) = spawn_run(adapter.clone(), &sink2);
    let missed = wait_inbound(&sink2, "sent while you were away").await;
    assert_eq!(missed.peer_kind, PeerKind::Direct);
    assert_eq!(adapter.device_id().await.as_deref(), Some(device.as_str()));
    assert!(
        sink2.all().iter().all(|m| m.text != "hello from alice"),
        "old messages are not delivered again after a restart"
    );
    let devices = alice
        .client
        .encryption()
        .get_user_devices(&bot_id)
        .await
        .expect("devices");
    let ids: Vec<String> = devices
        .devices()
        .map(|d| d.device_id().to_string())
        .collect();
    assert_eq!(ids, vec![device.clone()], "no new device after a restart");

    // The crypto store survived: the restarted adapter still sends encrypted.
    let back = adapter
        .send(&Outbound {
            target: missed.reply_target(),
            content: text("welcome back"),
        })
        .await
        .expect("send after restart");
    let seen = alice
        .wait_event(&room_id, "the message after restart", |s| {
            s.event_id.as_deref() == Some(back.message_id.as_str())
        })
        .await;
    assert!(seen.encrypted);
    assert_eq!(seen.raw["content"]["body"], "welcome back");

    cancel.cancel();
    run.await.expect("join").expect("run ends Ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_rooms_mentions_threads_invites_and_refusals() {
    let synapse = Synapse::start().await;
    let bot_id = register(&synapse, "bot").await;
    let alice_id = register(&synapse, "alice").await;
    let carol_id = register(&synapse, "carol").await;
    let state = tempfile::tempdir().expect("state dir");
    let settings = AccountSettings {
        auto_join: Some("allowlist".into()),
        allow_from: vec![alice_id.to_string()],
        ..bot_settings(&synapse, state.path())
    };

    let adapter = Arc::new(Matrix::new(settings.clone()).expect("adapter"));
    let sink = CollectSink::new();
    let (run, cancel) = spawn_run(adapter.clone(), &sink);
    wait_connected(&sink, 1).await;

    let alice = Person::login(&synapse, "alice").await;
    let carol = Person::login(&synapse, "carol").await;

    // An unencrypted group of three, made by alice.
    let mut request = CreateRoom::new();
    request.invite = vec![bot_id.clone(), carol_id.clone()];
    request.name = Some("planning".into());
    let group = alice
        .client
        .create_room(request)
        .await
        .expect("create room");
    let room_id = group.room_id().to_owned();
    carol
        .client
        .join_room_by_id(&room_id)
        .await
        .expect("carol joins");
    alice.wait_joined(&group, &bot_id).await;
    alice.wait_joined(&group, &carol_id).await;

    // Carol, who is not on the allowlist, invites the bot elsewhere: it stays out.
    let mut request = CreateRoom::new();
    request.invite = vec![bot_id.clone()];
    let carols = carol
        .client
        .create_room(request)
        .await
        .expect("carol's room");

    let chatter = group
        .send(RoomMessageEventContent::text_plain("just chatting"))
        .await
        .expect("send")
        .response
        .event_id;
    let inbound = wait_inbound(&sink, "just chatting").await;
    assert_eq!(inbound.peer_kind, PeerKind::Group);
    assert!(!inbound.mentions_bot);
    assert_eq!(inbound.sender_name.as_deref(), Some("alice"));

    let mut mention = RoomMessageEventContent::text_plain("bot: are you there?");
    mention.mentions = Some(Mentions::with_user_ids([bot_id.clone()]));
    group.send(mention).await.expect("send mention");
    let inbound = wait_inbound(&sink, "are you there?").await;
    assert!(inbound.mentions_bot);

    // A thread under the first message.
    let mut in_thread = RoomMessageEventContent::text_plain("a thread reply");
    in_thread.relates_to = Some(Relation::Thread(Thread::plain(
        chatter.clone(),
        chatter.clone(),
    )));
    group.send(in_thread).await.expect("send in thread");
    let threaded = wait_inbound(&sink, "a thread reply").await;
    assert_eq!(threaded.peer_kind, PeerKind::Thread);
    assert_eq!(threaded.thread_id.as_deref(), Some(chatter.as_str()));
    assert_eq!(threaded.parent_id.as_deref(), Some(room_id.as_str()));
    assert_eq!(threaded.chat_id, room_id.as_str());

    // The bot answers inside the thread.
    let answer = adapter
        .send(&Outbound {
            target: threaded.reply_target(),
            content: text("answer in the thread"),
        })
        .await
        .expect("send in thread");
    let seen = alice
        .wait_event(&room_id, "the threaded answer", |s| {
            s.event_id.as_deref() == Some(answer.message_id.as_str())
        })
        .await;
    assert!(!seen.encrypted);
    let relates = &seen.raw["content"]["m.relates_to"];
    assert_eq!(relates["rel_type"], "m.thread");
    assert_eq!(relates["event_id"], chatter.as_str());
    assert_eq!(
        relates["m.in_reply_to"]["event_id"],
        threaded.message_id.as_str()
    );

    // A plain reply to the bot's message counts as mentioning it.
    let answer_id = OwnedEventId::try_from(answer.message_id.as_str()).expect("event id");
    let mut reply = RoomMessageEventContent::text_plain("thanks!");
    reply.relates_to = Some(Relation::Reply(Reply::new(InReplyTo::new(answer_id))));
    group.send(reply).await.expect("reply to bot");
    let inbound = wait_inbound(&sink, "thanks!").await;
    assert!(inbound.mentions_bot, "a reply to the bot mentions it");
    assert_eq!(
        inbound.reply_to.as_deref(),
        Some(answer.message_id.as_str())
    );

    // A reaction.
    adapter
        .react(&inbound.reply_target(), &inbound.message_id, "👍")
        .await
        .expect("react");
    let seen = alice
        .wait_event(&room_id, "the reaction", |s| {
            s.raw["type"] == "m.reaction" && s.sender == bot_id.as_str()
        })
        .await;
    assert_eq!(seen.raw["content"]["m.relates_to"]["key"], "👍");
    assert_eq!(
        seen.raw["content"]["m.relates_to"]["event_id"],
        inbound.message_id.as_str()
    );

    // While the gateway refuses, the adapter offers the message again and acknowledges
    // nothing after it.
    sink.refuse.store(3, Ordering::SeqCst);
    group
        .send(RoomMessageEventContent::text_plain("please store me"))
        .await
        .expect("send");
    wait_inbound(&sink, "please store me").await;
    assert_eq!(sink.refuse.load(Ordering::SeqCst), 0);
    let copies = sink
        .all()
        .iter()
        .filter(|m| m.text == "please store me")
        .count();
    assert_eq!(copies, 1);

    // By now carol's invite has long been seen, and declined by the allowlist.
    assert_eq!(carols.state(), RoomState::Joined);
    assert!(
        !joined(&carols).await.contains(&bot_id),
        "the bot must not join a room of a sender outside the allowlist"
    );

    // The bot's own messages are never delivered.
    assert!(sink.all().iter().all(|m| m.sender_id != bot_id.as_str()));

    // The gateway stops while it cannot store a message: the next start delivers it, and
    // nothing that was already taken.
    sink.refuse.store(1_000_000, Ordering::SeqCst);
    group
        .send(RoomMessageEventContent::text_plain("hold on to this"))
        .await
        .expect("send");
    wait_until("the adapter to offer the message", || {
        (sink.refuse.load(Ordering::SeqCst) < 1_000_000).then_some(())
    })
    .await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("run returns promptly")
        .expect("join")
        .expect("run ends Ok on cancel");
    drop(adapter);

    let adapter = Arc::new(Matrix::new(settings).expect("adapter"));
    let sink = CollectSink::new();
    let (run, cancel) = spawn_run(adapter.clone(), &sink);
    let held = wait_inbound(&sink, "hold on to this").await;
    assert_eq!(held.peer_kind, PeerKind::Group);
    assert!(sink.all().iter().all(|m| m.text != "please store me"));

    cancel.cancel();
    run.await.expect("join").expect("run ends Ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_stop_the_account() {
    let synapse = Synapse::start().await;
    register(&synapse, "bot").await;
    let state = tempfile::tempdir().expect("state dir");
    let settings = AccountSettings {
        password: Some("wrong password".into()),
        ..bot_settings(&synapse, state.path())
    };
    let adapter = Matrix::new(settings.clone()).expect("adapter");
    let err = adapter.probe().await.expect_err("wrong password");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("wrong password"));
    let sink = CollectSink::new();
    let (ctx, _cancel) = sink.context();
    let err = adapter.run(ctx).await.expect_err("run refuses");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");

    // The cases below open unencrypted stores: deriving a store key from a passphrase takes
    // seconds in a debug build, and they are about errors, not storage.
    let settings = AccountSettings {
        store_passphrase: None,
        ..settings
    };

    // A revoked access token is refused too.
    let adapter = Matrix::new(AccountSettings {
        password: None,
        token: Some("syt_not_a_real_token".into()),
        device_id: Some("NOPE".into()),
        state_dir: state.path().join("token"),
        ..settings.clone()
    })
    .expect("adapter");
    let err = adapter.probe().await.expect_err("bad token");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");

    // An unreachable homeserver is worth retrying, not an auth failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let adapter = Matrix::new(AccountSettings {
        homeserver: Some(format!("http://127.0.0.1:{port}")),
        state_dir: state.path().join("down"),
        ..settings
    })
    .expect("adapter");
    let err = adapter.probe().await.expect_err("down");
    assert!(err.is_retryable(), "{err:?}");

    // Sending to a room the bot is not in is refused for good.
    let good = Matrix::new(AccountSettings {
        store_passphrase: None,
        ..bot_settings(&synapse, &state.path().join("good"))
    })
    .expect("adapter");
    let err = good
        .send(&Outbound {
            target: Target {
                peer_kind: PeerKind::Group,
                chat_id: "!nowhere:localhost".into(),
                thread_id: None,
                reply_to: None,
            },
            content: text("hello?"),
        })
        .await
        .expect_err("not in room");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
}

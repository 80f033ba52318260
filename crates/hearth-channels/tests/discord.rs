//! The Discord adapter against `FakeDiscord`, through the public adapter API only.

#![cfg(feature = "discord")]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::CollectSink;
use hearth_channels::discord::Discord;
use hearth_channels::{
    AccountSettings, AttachmentKind, ChannelAdapter, ChannelError, Content, Outbound, PeerKind,
    Target,
};
use hearth_test_utils::SentKind;
use hearth_test_utils::discord::{
    DIRECT_MESSAGES, FAKE_GUILD, FakeDiscord, GUILD_MESSAGES, GUILDS, Incoming,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image bytes";

fn settings(fake: &FakeDiscord) -> AccountSettings {
    AccountSettings {
        channel: "discord".to_owned(),
        account_id: "default".to_owned(),
        api_root: Some(fake.url()),
        token: Some(fake.token()),
        ..AccountSettings::default()
    }
}

fn adapter(settings: AccountSettings) -> Arc<Discord> {
    Arc::new(Discord::new(settings, reqwest::Client::new()).expect("valid settings"))
}

struct Running {
    adapter: Arc<Discord>,
    sink: Arc<CollectSink>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), ChannelError>>,
}

impl Running {
    fn start(settings: AccountSettings) -> Running {
        let adapter = adapter(settings);
        let sink = CollectSink::new();
        let (ctx, cancel) = sink.context();
        let task = tokio::spawn({
            let adapter = Arc::clone(&adapter);
            async move { adapter.run(ctx).await }
        });
        Running {
            adapter,
            sink,
            cancel,
            task,
        }
    }

    /// Started and through READY.
    async fn connected(fake: &FakeDiscord) -> Running {
        let running = Running::start(settings(fake));
        assert_eq!(running.sink.wait_connected(1).await, 1, "READY");
        running
    }

    /// What `run` returned on its own (it must not need cancelling).
    async fn ended(self) -> Result<(), ChannelError> {
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("run returned by itself")
            .expect("run did not panic")
    }

    /// Cancels and checks `run` returns `Ok` promptly.
    async fn stop(self) {
        self.cancel.cancel();
        let result = tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .expect("run returns promptly on cancel")
            .expect("run did not panic");
        assert!(result.is_ok(), "{result:?}");
    }
}

fn text(target: Target, text: &str) -> Outbound {
    Outbound {
        target,
        content: Content::Text {
            text: text.to_owned(),
            edit_of: None,
        },
    }
}

fn to_chat(chat_id: &str) -> Target {
    Target {
        peer_kind: PeerKind::Channel,
        chat_id: chat_id.to_owned(),
        thread_id: None,
        reply_to: None,
    }
}

#[tokio::test]
async fn probe_names_the_bot_and_a_wrong_token_is_auth() {
    let fake = FakeDiscord::start().await;
    let me = adapter(settings(&fake)).probe().await.expect("probe");
    assert_eq!(me.id, fake.bot_id());
    assert_eq!(me.name, "Hearth");
    let request = fake.requests().pop().expect("a request");
    assert_eq!(request.path, "/api/v10/users/@me");
    assert_eq!(request.authorization, Some(format!("Bot {}", fake.token())));

    let wrong = AccountSettings {
        token: Some("not-the-token".to_owned()),
        ..settings(&fake)
    };
    let err = adapter(wrong).probe().await.expect_err("refused");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("not-the-token"));
}

#[tokio::test]
async fn settings_are_checked_and_capabilities_are_discords() {
    let missing = AccountSettings {
        channel: "discord".to_owned(),
        account_id: "default".to_owned(),
        ..AccountSettings::default()
    };
    let err = Discord::new(missing, reqwest::Client::new()).expect_err("no token");
    assert!(matches!(&err, ChannelError::Config(m) if m.contains("channels.discord.token")));

    let fake = FakeDiscord::start().await;
    let discord = adapter(settings(&fake));
    let caps = discord.capabilities();
    assert_eq!(caps.max_text_len, 2000);
    assert_eq!(caps.format, "discord-markdown");
    assert!(caps.edits && caps.reactions && caps.typing && caps.threads && caps.media);
    assert_eq!(caps.edit_interval, Duration::from_secs(1));
    assert_eq!(caps.typing_every, Duration::from_secs(8));
    let debug = format!("{discord:?}");
    assert!(!debug.contains(&fake.token()), "{debug}");
}

#[tokio::test]
async fn a_direct_message_arrives_as_direct() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    let id = fake.dm("4242", "Ann", "hello there");
    let got = running.sink.wait_for(1).await;
    let m = &got[0];
    assert_eq!(m.channel, "discord");
    assert_eq!(m.account, "default");
    assert_eq!(m.peer_kind, PeerKind::Direct);
    assert_eq!(m.chat_id, fake.dm_channel("4242"));
    assert_eq!(m.sender_id, "4242");
    assert_eq!(m.sender_name.as_deref(), Some("Ann"));
    assert_eq!(m.text, "hello there");
    assert_eq!(m.message_id, id);
    assert!(!m.mentions_bot);
    assert_eq!(m.guild_id, None);
    assert_eq!(m.thread_id, None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!((now - m.timestamp_ms).abs() < 60_000, "{}", m.timestamp_ms);
    let identify = fake.gateway_sessions();
    assert_eq!(identify.identifies, 1);
    assert_eq!(
        identify.last_intents,
        Some(GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | (1 << 15))
    );
    running.stop().await;
}

#[tokio::test]
async fn guild_messages_carry_guild_roles_and_mentions() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.group_message("5001", "77", "Bob", "just chatting", false);
    fake.inject(
        Incoming::guild(FAKE_GUILD, "5001", "78", "Cy", "what's up?")
            .roles(["111", "222"])
            .nick("Cyril")
            .mention(),
    );
    let got = running.sink.wait_for(2).await;
    assert_eq!(got.len(), 2);
    let plain = &got[0];
    assert_eq!(plain.peer_kind, PeerKind::Channel);
    assert_eq!(plain.chat_id, "5001");
    assert_eq!(plain.guild_id.as_deref(), Some(FAKE_GUILD));
    assert!(!plain.mentions_bot);
    assert_eq!(plain.text, "just chatting");
    let mention = &got[1];
    assert!(mention.mentions_bot);
    assert_eq!(mention.text, "what's up?");
    assert_eq!(mention.roles, ["111", "222"]);
    assert_eq!(mention.sender_name.as_deref(), Some("Cyril"));
    running.stop().await;
}

#[tokio::test]
async fn a_reply_to_the_bot_mentions_it() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.group_message("5001", "77", "Bob", "first", false);
    running.sink.wait_for(1).await;
    let sent = running
        .adapter
        .send(&text(to_chat("5001"), "the bot speaks"))
        .await
        .expect("sent");
    fake.inject(
        Incoming::guild(FAKE_GUILD, "5001", "77", "Bob", "about that").reply_to(&sent.message_id),
    );
    let got = running.sink.wait_for(2).await;
    // The bot's own message came back as MESSAGE_CREATE too, and was skipped.
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].mentions_bot);
    assert_eq!(got[1].reply_to.as_deref(), Some(sent.message_id.as_str()));
    running.stop().await;
}

#[tokio::test]
async fn threads_are_found_by_lookup_or_by_thread_create() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.thread_message(FAKE_GUILD, "6000", "6001", "77", "Bob", "in a thread", true);
    let got = running.sink.wait_for(1).await;
    let m = &got[0];
    assert_eq!(m.peer_kind, PeerKind::Thread);
    assert_eq!(m.chat_id, "6001");
    assert_eq!(m.thread_id.as_deref(), Some("6001"));
    assert_eq!(m.parent_id.as_deref(), Some("6000"));
    assert_eq!(m.text, "in a thread");
    let lookups = |id: &str| {
        let path = format!("/api/v10/channels/{id}");
        fake.requests().iter().filter(|r| r.path == path).count()
    };
    assert_eq!(lookups("6001"), 1);

    fake.thread_message(FAKE_GUILD, "6000", "6001", "77", "Bob", "again", false);
    fake.create_thread(FAKE_GUILD, "6000", "6002", "announced");
    fake.thread_message(FAKE_GUILD, "6000", "6002", "77", "Bob", "new one", false);
    let got = running.sink.wait_for(3).await;
    assert_eq!(got[2].peer_kind, PeerKind::Thread);
    assert_eq!(got[2].parent_id.as_deref(), Some("6000"));
    assert_eq!(lookups("6001"), 1, "cached");
    assert_eq!(lookups("6002"), 0, "learned from THREAD_CREATE");
    running.stop().await;
}

#[tokio::test]
async fn replies_go_to_the_thread_quoting_the_message() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    let id = fake.thread_message(FAKE_GUILD, "6000", "6001", "77", "Bob", "question", true);
    let inbound = running.sink.wait_for(1).await.remove(0);
    running
        .adapter
        .send(&text(inbound.reply_target(), "answer"))
        .await
        .expect("sent");
    let sent = fake.outbox().in_chat("6001");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "answer");
    assert_eq!(sent[0].reply_to.as_deref(), Some(id.as_str()));
    assert_eq!(sent[0].thread_id.as_deref(), Some("6001"));
    let request = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .expect("the send");
    assert_eq!(request.path, "/api/v10/channels/6001/messages");
    assert_eq!(
        request.body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    assert_eq!(
        request.body["message_reference"]["fail_if_not_exists"],
        false
    );

    // A reply to a message that is gone still goes out, unquoted.
    let mut gone = inbound.reply_target();
    gone.reply_to = Some("1".to_owned());
    running
        .adapter
        .send(&text(gone, "still here"))
        .await
        .expect("sent");
    assert_eq!(fake.outbox().in_chat("6001")[1].reply_to, None);
    running.stop().await;
}

#[tokio::test]
async fn edits_replace_the_text() {
    let fake = FakeDiscord::start().await;
    let discord = adapter(settings(&fake));
    let chat = fake.dm_channel("4242");
    let sent = discord
        .send(&text(to_chat(&chat), "draft"))
        .await
        .expect("sent");
    let edited = discord
        .send(&Outbound {
            target: to_chat(&chat),
            content: Content::Text {
                text: "final".to_owned(),
                edit_of: Some(sent.message_id.clone()),
            },
        })
        .await
        .expect("edited");
    assert_eq!(edited.message_id, sent.message_id);
    let messages = fake.outbox().in_chat(&chat);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].versions, ["draft", "final"]);
}

#[tokio::test]
async fn long_text_is_rendered_within_the_limit() {
    let fake = FakeDiscord::start().await;
    let discord = adapter(settings(&fake));
    let chat = fake.dm_channel("4242");
    let markdown = "A sentence of a long answer. ".repeat(300);
    let chunks = discord.render(&markdown, 10_000);
    assert!(!chunks.is_empty());
    for chunk in &chunks {
        assert!(chunk.chars().count() <= 2000, "{}", chunk.chars().count());
        discord
            .send(&text(to_chat(&chat), chunk))
            .await
            .expect("fits");
    }
    assert!(
        discord
            .render("short", 5)
            .iter()
            .all(|c| c.chars().count() <= 5)
    );

    let err = discord
        .send(&text(to_chat(&chat), &"x".repeat(2001)))
        .await
        .expect_err("too long");
    assert!(
        matches!(&err, ChannelError::Permanent(m) if m.contains("50035")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_photo_comes_in_and_its_bytes_are_fetched_without_the_token() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.photo_dm("4242", "Ann", PNG, "look at this");
    let m = running.sink.wait_for(1).await.remove(0);
    assert_eq!(m.text, "look at this");
    assert_eq!(m.attachments.len(), 1);
    let attachment = &m.attachments[0];
    assert_eq!(attachment.kind, AttachmentKind::Image);
    assert_eq!(attachment.mime.as_deref(), Some("image/png"));
    assert_eq!(attachment.size, Some(PNG.len() as u64));
    assert_eq!(attachment.name.as_deref(), Some("photo.png"));
    let bytes = running
        .adapter
        .fetch(attachment, 1 << 20)
        .await
        .expect("fetched");
    assert_eq!(&bytes[..], PNG);
    let download = fake
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/attachments/"))
        .expect("downloaded");
    assert_eq!(download.authorization, None);

    let err = running
        .adapter
        .fetch(attachment, 4)
        .await
        .expect_err("too big");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
    let mut unsized_attachment = attachment.clone();
    unsized_attachment.size = None;
    let err = running
        .adapter
        .fetch(&unsized_attachment, 4)
        .await
        .expect_err("too big");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
    running.stop().await;
}

#[tokio::test]
async fn media_goes_out_as_a_multipart_upload() {
    let fake = FakeDiscord::start().await;
    let discord = adapter(settings(&fake));
    let chat = fake.dm_channel("4242");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chart.png");
    std::fs::write(&path, PNG).expect("write");
    let sent = discord
        .send(&Outbound {
            target: to_chat(&chat),
            content: Content::Media {
                kind: AttachmentKind::Image,
                path,
                mime: "image/png".to_owned(),
                name: "chart.png".to_owned(),
                caption: Some("the chart".to_owned()),
            },
        })
        .await
        .expect("uploaded");
    let messages = fake.outbox().in_chat(&chat);
    assert_eq!(messages[0].message_id, sent.message_id);
    assert_eq!(messages[0].kind, SentKind::Photo);
    assert_eq!(messages[0].text, "the chart");
    assert_eq!(messages[0].file_name.as_deref(), Some("chart.png"));
    assert_eq!(messages[0].file_len, Some(PNG.len()));
    let upload = fake.requests().pop().expect("the upload");
    assert_eq!(upload.files[0].field, "files[0]");
    assert_eq!(upload.files[0].bytes, PNG);
    assert_eq!(upload.body["content"], "the chart");
}

#[tokio::test]
async fn typing_and_reactions() {
    let fake = FakeDiscord::start().await;
    let discord = adapter(settings(&fake));
    let chat = fake.dm_channel("4242");
    let id = fake.dm("4242", "Ann", "hi");
    discord.typing(&to_chat(&chat)).await.expect("typing");
    assert_eq!(fake.outbox().typing_in(&chat), 1);
    discord
        .react(&to_chat(&chat), &id, "👍")
        .await
        .expect("reacted");
    let reactions = fake.reactions();
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        (
            reactions[0].message_id.as_str(),
            reactions[0].emoji.as_str()
        ),
        (id.as_str(), "👍")
    );
    let path = fake.requests().pop().expect("the reaction").path;
    assert!(path.ends_with("/reactions/%F0%9F%91%8D/@me"), "{path}");
}

#[tokio::test]
async fn failures_are_classified() {
    let fake = FakeDiscord::start().await;
    let discord = adapter(settings(&fake));
    let chat = fake.dm_channel("4242");
    let hi = text(to_chat(&chat), "hi");
    let send = || discord.send(&hi);

    fake.rate_limit_next(1, 0.25);
    let err = send().await.expect_err("429");
    assert_eq!(
        err.retry_after(),
        Some(Duration::from_millis(250)),
        "{err:?}"
    );
    send().await.expect("the limit is over");

    fake.fail_next(1, 502);
    assert!(matches!(send().await, Err(ChannelError::Transient(_))));
    fake.fail_next(1, 403);
    let err = send().await.expect_err("403");
    assert!(
        matches!(&err, ChannelError::Permanent(m) if m.contains("Missing Permissions")),
        "{err:?}"
    );
    fake.fail_next(1, 401);
    assert!(matches!(send().await, Err(ChannelError::Auth(_))));

    let err = discord
        .send(&text(to_chat("999"), "nowhere"))
        .await
        .expect_err("no such channel");
    assert!(
        matches!(&err, ChannelError::Permanent(m) if m.contains("10003")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_token_stops_run_with_auth() {
    let fake = FakeDiscord::start().await;
    let running = Running::start(AccountSettings {
        token: Some("wrong".to_owned()),
        ..settings(&fake)
    });
    let result = running.ended().await;
    assert!(matches!(result, Err(ChannelError::Auth(_))), "{result:?}");
}

#[tokio::test]
async fn a_token_reset_while_connected_ends_in_auth() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.rotate_token("a-new-token");
    // The adapter identifies afresh after Invalid Session, and the old token gets close 4004.
    fake.invalidate_session();
    let result = running.ended().await;
    assert!(matches!(result, Err(ChannelError::Auth(_))), "{result:?}");
}

#[tokio::test]
async fn a_disallowed_intent_is_a_config_error() {
    let fake = FakeDiscord::start().await;
    fake.disallow_message_content();
    let result = Running::start(settings(&fake)).ended().await;
    assert!(
        matches!(&result, Err(ChannelError::Config(m)) if m.contains("Message Content") && m.contains("Developer Portal")),
        "{result:?}"
    );

    let result = Running::start(AccountSettings {
        intents: Some(1 << 40),
        ..settings(&fake)
    })
    .ended()
    .await;
    assert!(
        matches!(&result, Err(ChannelError::Config(m)) if m.contains("4013")),
        "{result:?}"
    );
}

#[tokio::test]
async fn without_message_content_only_dms_and_mentions_have_text() {
    let fake = FakeDiscord::start().await;
    let running = Running::start(AccountSettings {
        intents: Some(GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES),
        ..settings(&fake)
    });
    running.sink.wait_connected(1).await;
    fake.group_message("5001", "77", "Bob", "unseen words", false);
    fake.group_message("5001", "77", "Bob", "seen words", true);
    fake.dm("77", "Bob", "private words");
    let got = running.sink.wait_for(2).await;
    let texts: Vec<&str> = got.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["seen words", "private words"]);
    running.stop().await;
}

#[tokio::test]
async fn own_and_other_bots_messages_are_skipped() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    let chat = fake.dm_channel("4242");
    running
        .adapter
        .send(&text(to_chat(&chat), "from the bot"))
        .await
        .expect("sent");
    fake.inject(Incoming::dm("31337", "Robo", "beep").from_bot());
    fake.dm("4242", "Ann", "from a person");
    let got = running.sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got_now = running.sink.all();
    assert_eq!(got_now.len(), 1, "{got_now:?}");
    assert_eq!(got[0].text, "from a person");
    running.stop().await;
}

#[tokio::test]
async fn a_refused_message_is_offered_again() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    running.sink.refuse.store(2, Ordering::SeqCst);
    let id = fake.dm("4242", "Ann", "keep me");
    let got = running.sink.wait_for(1).await;
    assert_eq!(got[0].message_id, id);
    fake.dm("4242", "Ann", "next");
    let got = running.sink.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(running.sink.refuse.load(Ordering::SeqCst), 0);
    running.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_resumes_and_replays_what_was_missed() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.drop_connections();
    let id = fake.dm("4242", "Ann", "sent while you were away");
    assert!(running.sink.wait_connected(2).await >= 2);
    let got = running.sink.wait_for(1).await;
    assert_eq!(got[0].message_id, id);
    fake.dm("4242", "Ann", "and after");
    let got = running.sink.wait_for(2).await;
    assert_eq!(got.len(), 2, "each message exactly once: {got:?}");
    let stats = fake.gateway_sessions();
    assert_eq!((stats.identifies, stats.resumes), (1, 1));
    assert_eq!(stats.resumes_on_resume_url, 1);
    running.stop().await;
}

#[tokio::test]
async fn reconnect_requests_resume_at_once() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.request_reconnect();
    assert_eq!(running.sink.wait_connected(2).await, 2);
    let stats = fake.gateway_sessions();
    assert_eq!((stats.identifies, stats.resumes), (1, 1));
    assert!(stats.client_close_codes.contains(&4000), "{stats:?}");
    running.stop().await;
}

#[tokio::test]
async fn an_invalid_session_identifies_afresh() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    fake.invalidate_session();
    assert_eq!(running.sink.wait_connected(2).await, 2);
    assert_eq!(fake.gateway_sessions().identifies, 2);
    fake.dm("4242", "Ann", "new session");
    assert_eq!(running.sink.wait_for(1).await.len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn a_zombie_connection_is_closed_and_resumed() {
    let fake = FakeDiscord::start().await;
    fake.set_heartbeat_interval(Duration::from_millis(300));
    let running = Running::connected(&fake).await;
    fake.wait_gateway(WAIT, |s| s.heartbeats >= 1).await;
    fake.stop_acking_heartbeats();
    let stats = fake.wait_gateway(WAIT, |s| s.resumes >= 1).await;
    assert!(stats.resumes >= 1, "{stats:?}");
    assert!(stats.client_close_codes.contains(&4000), "{stats:?}");
    assert_eq!(stats.identifies, 1);
    fake.resume_acking_heartbeats();
    assert!(running.sink.wait_connected(2).await >= 2);
    running.stop().await;
}

#[tokio::test]
async fn a_heartbeat_request_is_answered_at_once() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    let before = fake.gateway_sessions().heartbeats;
    fake.request_heartbeat();
    let stats = fake
        .wait_gateway(Duration::from_secs(5), |s| s.heartbeats > before)
        .await;
    assert!(stats.heartbeats > before, "{stats:?}");
    running.stop().await;
}

#[tokio::test]
async fn cancel_returns_ok_and_closes_normally() {
    let fake = FakeDiscord::start().await;
    let running = Running::connected(&fake).await;
    running.stop().await;
    let stats = fake
        .wait_gateway(WAIT, |s| !s.client_close_codes.is_empty())
        .await;
    assert_eq!(stats.client_close_codes, [1000]);

    // Cancelled while it cannot even reach the server.
    let unreachable = AccountSettings {
        api_root: Some("http://127.0.0.1:9/api/v10".to_owned()),
        ..settings(&fake)
    };
    let running = Running::start(unreachable);
    tokio::time::sleep(Duration::from_millis(50)).await;
    running.stop().await;
}

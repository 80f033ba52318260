//! The Slack adapter against [`FakeSlack`], through the public adapter API only: Socket Mode
//! receiving and acknowledging, the Events API webhook, and every way of sending.

#![cfg(feature = "slack")]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::CollectSink;
use hearth_channels::slack::Slack;
use hearth_channels::{
    AccountSettings, AttachmentKind, ChannelAdapter, ChannelError, Content, Identity, InboundSink,
    Outbound, PeerKind, Target, WebhookRequest,
};
use hearth_test_utils::SentKind;
use hearth_test_utils::slack::{FakeSlack, Reaction, post_signed};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const WAIT: Duration = Duration::from_secs(10);

fn settings(fake: &FakeSlack) -> AccountSettings {
    AccountSettings {
        channel: "slack".into(),
        account_id: "default".into(),
        api_root: Some(fake.url()),
        token: Some(fake.token()),
        app_token: Some(fake.app_token()),
        ..AccountSettings::default()
    }
}

fn slack(settings: AccountSettings) -> Arc<Slack> {
    Arc::new(Slack::new(settings, reqwest::Client::new()).expect("valid settings"))
}

/// An adapter running in Socket Mode against `fake`, connected once.
struct Running {
    slack: Arc<Slack>,
    sink: Arc<CollectSink>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), ChannelError>>,
}

impl Running {
    async fn start(fake: &FakeSlack) -> Running {
        let slack = slack(settings(fake));
        let sink = CollectSink::new();
        let (ctx, cancel) = sink.context();
        let runner = slack.clone();
        let task = tokio::spawn(async move { runner.run(ctx).await });
        assert_eq!(sink.wait_connected(1).await, 1, "connected");
        Running {
            slack,
            sink,
            cancel,
            task,
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        let result = tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .expect("run returns promptly on cancel")
            .expect("run task");
        assert!(result.is_ok(), "{result:?}");
    }
}

fn text(chat_id: &str, thread: Option<&str>, text: &str, edit_of: Option<&str>) -> Outbound {
    Outbound {
        target: Target {
            peer_kind: PeerKind::Channel,
            chat_id: chat_id.into(),
            thread_id: thread.map(str::to_owned),
            reply_to: None,
        },
        content: Content::Text {
            text: text.into(),
            edit_of: edit_of.map(str::to_owned),
        },
    }
}

#[tokio::test]
async fn probe_checks_the_bot_token() {
    let fake = FakeSlack::start().await;
    let identity = slack(settings(&fake)).probe().await.expect("probe");
    assert_eq!(
        identity,
        Identity {
            id: fake.bot_user_id(),
            name: "@hearth".into()
        }
    );
    let call = &fake.calls("auth.test")[0];
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {}", fake.token()).as_str())
    );

    let mut wrong = settings(&fake);
    wrong.token = Some("xoxb-wrong".into());
    let err = slack(wrong).probe().await.expect_err("refused");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("xoxb-wrong"));
}

#[tokio::test]
async fn a_direct_message_arrives_and_is_acknowledged_after_storing() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    let ts = fake.dm("U0ANN", "Ann Example", "hello *there*");
    let got = run.sink.wait_for(1).await;
    let inbound = &got[0];
    assert_eq!(inbound.channel, "slack");
    assert_eq!(inbound.account, "default");
    assert_eq!(inbound.peer_kind, PeerKind::Direct);
    assert_eq!(inbound.chat_id, fake.dm_channel("U0ANN"));
    assert_eq!(inbound.sender_id, "U0ANN");
    assert_eq!(inbound.sender_name.as_deref(), Some("Ann Example"));
    assert_eq!(inbound.text, "hello *there*");
    assert_eq!(inbound.message_id, ts);
    assert_eq!(inbound.team_id.as_deref(), Some(fake.team_id().as_str()));
    assert!(!inbound.mentions_bot);
    assert_eq!(inbound.thread_id, None);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!((now_ms - inbound.timestamp_ms).abs() < 60_000);
    let acked = fake.wait_acked(1, WAIT).await;
    assert_eq!(acked.len(), 1);
    assert_eq!(
        fake.delivered()[0]["envelope_id"].as_str(),
        Some(acked[0].as_str())
    );

    // A second message from the same person reuses the name looked up the first time.
    fake.dm("U0ANN", "Ann Example", "again");
    run.sink.wait_for(2).await;
    assert_eq!(fake.calls("users.info").len(), 1);
    run.stop().await;
}

#[tokio::test]
async fn group_messages_say_whether_the_bot_was_mentioned() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    fake.group_message("C0PUBLIC", "U0BOB", "Bob", "what's up?", true);
    fake.group_message("C0PUBLIC", "U0BOB", "Bob", "just chatting", false);
    fake.group_message("G0PRIVATE", "U0BOB", "Bob", "private hi", true);
    let got = run.sink.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert!(got[0].mentions_bot);
    assert_eq!(got[0].text, "what's up?");
    assert_eq!(got[0].peer_kind, PeerKind::Channel);
    assert_eq!(got[0].chat_id, "C0PUBLIC");
    assert!(!got[1].mentions_bot);
    assert_eq!(got[1].text, "just chatting");
    assert_eq!(got[2].peer_kind, PeerKind::Group);
    assert!(got[2].mentions_bot);
    run.stop().await;
}

#[tokio::test]
async fn an_app_mention_is_the_same_message_as_its_message_event() {
    let fake = FakeSlack::start().await;
    fake.send_app_mentions(true);
    let run = Running::start(&fake).await;
    let ts = fake.group_message("C0PUBLIC", "U0BOB", "Bob", "hi", true);
    let got = run.sink.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], got[1], "same envelope, so the gateway keeps one");
    assert_eq!(got[0].message_id, ts);
    assert!(got[1].mentions_bot);
    fake.wait_acked(2, WAIT).await;
    run.stop().await;
}

#[tokio::test]
async fn threads_carry_their_ids_and_replies_go_back_into_them() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    let root = run
        .slack
        .send(&text("C0PUBLIC", None, "I started a thread", None))
        .await
        .expect("posted");
    fake.thread_message(
        "C0PUBLIC",
        &root.message_id,
        "U0BOB",
        "Bob",
        "and I answer in it",
        false,
    );
    let got = run.sink.wait_for(1).await;
    let inbound = &got[0];
    assert_eq!(inbound.peer_kind, PeerKind::Thread);
    assert_eq!(inbound.chat_id, "C0PUBLIC");
    assert_eq!(inbound.thread_id.as_deref(), Some(root.message_id.as_str()));
    assert_eq!(inbound.parent_id.as_deref(), Some("C0PUBLIC"));
    assert!(inbound.mentions_bot, "a reply in the bot's own thread");

    let target = inbound.reply_target();
    let reply = Outbound {
        target,
        content: Content::Text {
            text: "*noted*".into(),
            edit_of: None,
        },
    };
    let sent = run.slack.send(&reply).await.expect("sent");
    let messages = fake.outbox().in_chat("C0PUBLIC");
    let out = messages
        .iter()
        .find(|m| m.message_id == sent.message_id)
        .expect("in the outbox");
    assert_eq!(out.thread_id.as_deref(), Some(root.message_id.as_str()));
    assert_eq!(out.text, "*noted*");
    assert_eq!(out.format.as_deref(), Some("mrkdwn"));
    let call = fake.calls("chat.postMessage").pop().expect("call");
    assert_eq!(call.body["thread_ts"], json!(root.message_id));
    assert_eq!(call.body["unfurl_links"], json!(false));
    assert_eq!(call.body["mrkdwn"], json!(true));
    assert!(
        call.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
    );
    run.stop().await;
}

#[tokio::test]
async fn messages_are_edited_in_place() {
    let fake = FakeSlack::start().await;
    let slack = slack(settings(&fake));
    let first = slack
        .send(&text("C0PUBLIC", None, "thinking…", None))
        .await
        .expect("posted");
    let edited = slack
        .send(&text(
            "C0PUBLIC",
            None,
            "the answer",
            Some(&first.message_id),
        ))
        .await
        .expect("edited");
    assert_eq!(edited.message_id, first.message_id);
    let messages = fake.outbox().in_chat("C0PUBLIC");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].versions, ["thinking…", "the answer"]);

    let err = slack
        .send(&text("C0PUBLIC", None, "x", Some("1.000000")))
        .await
        .expect_err("no such message");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
}

#[tokio::test]
async fn long_answers_are_split_within_the_limit() {
    let fake = FakeSlack::start().await;
    let slack = slack(settings(&fake));
    let caps = slack.capabilities();
    assert_eq!(caps.max_text_len, 4000);
    assert_eq!(caps.format, "mrkdwn");
    assert!(caps.edits && caps.reactions && caps.threads && caps.media && !caps.typing);
    assert_eq!(caps.edit_interval, Duration::from_millis(1500));

    let paragraph = "Slack keeps **bold** and `code` readable. ".repeat(40);
    let markdown = vec![paragraph; 8].join("\n\n");
    let chunks = slack.render(&markdown, 100_000);
    assert!(chunks.len() >= 3, "{} chunks", chunks.len());
    for chunk in &chunks {
        assert!(chunk.chars().count() <= 4000);
        slack
            .send(&text("C0PUBLIC", None, chunk, None))
            .await
            .expect("each chunk fits");
    }
    assert_eq!(fake.outbox().in_chat("C0PUBLIC").len(), chunks.len());
    assert!(
        slack
            .render("short", 10)
            .iter()
            .all(|c| c.chars().count() <= 10)
    );

    let err = slack
        .send(&text("C0PUBLIC", None, &"x".repeat(40_001), None))
        .await
        .expect_err("too long for Slack");
    assert!(
        matches!(&err, ChannelError::Permanent(m) if m.contains("msg_too_long")),
        "{err:?}"
    );
}

#[tokio::test]
async fn files_in_are_fetched_with_the_bot_token() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    let png: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    fake.photo_dm("U0ANN", "Ann", &png, "look at this");
    fake.file_dm("U0ANN", "Ann", b"%PDF-1.7 fake", "application/pdf");
    let got = run.sink.wait_for(2).await;
    let photo = &got[0];
    assert_eq!(photo.text, "look at this");
    let image = &photo.attachments[0];
    assert_eq!(image.kind, AttachmentKind::Image);
    assert_eq!(image.mime.as_deref(), Some("image/png"));
    assert_eq!(image.size, Some(3000));
    let bytes = run.slack.fetch(image, 1 << 20).await.expect("fetched");
    assert_eq!(bytes.as_ref(), png.as_slice());
    let err = run.slack.fetch(image, 100).await.expect_err("too big");
    assert!(matches!(err, ChannelError::Permanent(_)));

    let document = &got[1].attachments[0];
    assert_eq!(document.kind, AttachmentKind::Document);
    let bytes = run.slack.fetch(document, 1 << 20).await.expect("fetched");
    assert_eq!(bytes.as_ref(), b"%PDF-1.7 fake");

    // Slack's sign-in page (what a token without files:read gets) is not taken for the file.
    let mut other_token = settings(&fake);
    other_token.token = Some("xoxb-without-files-read".into());
    let err = slack(other_token)
        .fetch(image, 1 << 20)
        .await
        .expect_err("a web page, not the file");
    assert!(
        matches!(&err, ChannelError::Permanent(m) if m.contains("files:read")),
        "{err:?}"
    );
    let mut elsewhere = image.clone();
    // The token is never sent to a host that is not Slack's.
    elsewhere.source = "https://example.com/files-pri/T1-F1/cat.png".into();
    let err = run
        .slack
        .fetch(&elsewhere, 1 << 20)
        .await
        .expect_err("refused");
    assert!(matches!(err, ChannelError::Permanent(_)));
    run.stop().await;
}

#[tokio::test]
async fn files_out_use_the_external_upload_flow() {
    let fake = FakeSlack::start().await;
    let slack = slack(settings(&fake));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chart.png");
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes).expect("write");
    let out = Outbound {
        target: Target {
            peer_kind: PeerKind::Thread,
            chat_id: "C0PUBLIC".into(),
            thread_id: Some("1700000000.000100".into()),
            reply_to: None,
        },
        content: Content::Media {
            kind: AttachmentKind::Image,
            path,
            mime: "image/png".into(),
            name: "chart.png".into(),
            caption: Some("the chart".into()),
        },
    };
    let sent = slack.send(&out).await.expect("uploaded");
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].name, "chart.png");
    assert_eq!(uploads[0].length, 5000);
    assert_eq!(uploads[0].bytes.as_deref(), Some(bytes.as_slice()));
    assert_eq!(uploads[0].channel.as_deref(), Some("C0PUBLIC"));
    assert_eq!(sent.message_id, uploads[0].file_id);
    let shared = fake.outbox().in_chat("C0PUBLIC");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].kind, SentKind::Photo);
    assert_eq!(shared[0].file_name.as_deref(), Some("chart.png"));
    assert_eq!(shared[0].file_len, Some(5000));
    assert_eq!(shared[0].text, "the chart");
    assert_eq!(shared[0].thread_id.as_deref(), Some("1700000000.000100"));
    let complete = fake
        .calls("files.completeUploadExternal")
        .pop()
        .expect("call");
    assert_eq!(complete.body["channel_id"], "C0PUBLIC");
    assert_eq!(complete.body["files"][0]["id"], json!(uploads[0].file_id));
    let upload_call = fake
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/upload/"))
        .expect("bytes posted");
    assert_eq!(upload_call.header("authorization"), None);
}

#[tokio::test]
async fn reactions_use_slack_names_and_typing_is_unsupported() {
    let fake = FakeSlack::start().await;
    let slack = slack(settings(&fake));
    let sent = slack
        .send(&text("C0PUBLIC", None, "react to me", None))
        .await
        .expect("posted");
    let target = text("C0PUBLIC", None, "", None).target;
    slack
        .react(&target, &sent.message_id, "👍")
        .await
        .expect("reacted");
    slack
        .react(&target, &sent.message_id, ":eyes:")
        .await
        .expect("reacted");
    slack
        .react(&target, &sent.message_id, "eyes")
        .await
        .expect("a second identical reaction is not an error");
    assert_eq!(
        fake.reactions(),
        [
            Reaction {
                channel: "C0PUBLIC".into(),
                ts: sent.message_id.clone(),
                name: "+1".into()
            },
            Reaction {
                channel: "C0PUBLIC".into(),
                ts: sent.message_id.clone(),
                name: "eyes".into()
            },
        ]
    );
    let err = slack.typing(&target).await.expect_err("no typing for bots");
    assert!(matches!(err, ChannelError::Unsupported(_)));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_classified() {
    let fake = FakeSlack::start().await;
    let slack = slack(settings(&fake));
    fake.rate_limit_next(1, 7);
    let err = slack
        .send(&text("C0PUBLIC", None, "hi", None))
        .await
        .expect_err("rate limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err:?}");
    slack
        .send(&text("C0PUBLIC", None, "hi", None))
        .await
        .expect("sent after the limit");

    fake.fail_next(1, 503);
    let err = slack
        .send(&text("C0PUBLIC", None, "hi", None))
        .await
        .expect_err("unavailable");
    assert!(matches!(err, ChannelError::Transient(_)), "{err:?}");
    fake.fail_next(1, 500);
    let err = slack
        .send(&text("C0PUBLIC", None, "hi", None))
        .await
        .expect_err("server error");
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(fake.outbox().in_chat("C0PUBLIC").len(), 1);
}

#[tokio::test]
async fn refused_credentials_stop_the_account() {
    let fake = FakeSlack::start().await;
    for (bot, app) in [
        ("xoxb-wrong".to_owned(), fake.app_token()),
        (fake.token(), "xapp-wrong".to_owned()),
        // A bot token where the app-level token belongs.
        (fake.token(), fake.token()),
    ] {
        let mut s = settings(&fake);
        s.token = Some(bot);
        s.app_token = Some(app);
        let sink = CollectSink::new();
        let (ctx, _cancel) = sink.context();
        let result = tokio::time::timeout(WAIT, slack(s).run(ctx))
            .await
            .expect("run returns");
        assert!(matches!(result, Err(ChannelError::Auth(_))), "{result:?}");
        assert_eq!(sink.connected.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn a_refused_message_is_not_acknowledged_and_comes_again() {
    let fake = FakeSlack::start().await;
    fake.set_redelivery_after(Duration::from_millis(400));
    let run = Running::start(&fake).await;
    run.sink.refuse.store(1, Ordering::SeqCst);
    let ts = fake.dm("U0ANN", "Ann", "store me");
    let got = run.sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, ts);
    let delivered = fake.delivered();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[0]["retry_attempt"], 0);
    assert_eq!(delivered[1]["retry_attempt"], 1);
    assert_eq!(delivered[1]["retry_reason"], "timeout");
    assert_eq!(delivered[0]["envelope_id"], delivered[1]["envelope_id"]);
    let acked = fake.wait_acked(1, WAIT).await;
    assert_eq!(acked.len(), 1);
    assert_eq!(
        delivered[0]["envelope_id"].as_str(),
        Some(acked[0].as_str())
    );
    run.stop().await;
}

#[tokio::test]
async fn ignored_events_are_acknowledged_too() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    // The bot's own message, as Slack echoes it: nothing to answer, nothing to redeliver.
    fake.dm(&fake.bot_user_id(), "hearth", "my own words");
    fake.wait_acked(1, WAIT).await;
    fake.dm("U0ANN", "Ann", "real");
    let got = run.sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "real");
    assert_eq!(fake.wait_acked(2, WAIT).await.len(), 2);
    run.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_is_reopened_and_nothing_is_lost_or_doubled() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    fake.drop_connections();
    let ts = fake.dm("U0ANN", "Ann", "sent while you were away");
    assert_eq!(run.sink.wait_connected(2).await, 2);
    let got = run.sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, ts);
    fake.wait_acked(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run.sink.all().len(), 1, "delivered exactly once");
    assert_eq!(fake.delivered().len(), 1);
    assert!(!run.task.is_finished(), "reconnected without returning");
    run.stop().await;
}

#[tokio::test]
async fn slack_asking_to_reconnect_opens_a_new_connection_at_once() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    let started = tokio::time::Instant::now();
    fake.disconnect_all("refresh_requested");
    assert_eq!(run.sink.wait_connected(2).await, 2);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "no backoff for a requested refresh"
    );
    assert_eq!(fake.calls("apps.connections.open").len(), 2);
    assert_eq!(fake.wait_connections(1, WAIT).await, 1);
    fake.dm("U0ANN", "Ann", "on the new connection");
    assert_eq!(run.sink.wait_for(1).await.len(), 1);
    assert!(!run.task.is_finished());
    run.stop().await;
}

#[tokio::test]
async fn cancel_stops_run_promptly_even_while_reconnecting() {
    let fake = FakeSlack::start().await;
    let run = Running::start(&fake).await;
    run.stop().await;

    // Waiting out a reconnect backoff.
    let run = Running::start(&fake).await;
    fake.drop_connections();
    tokio::time::sleep(Duration::from_millis(50)).await;
    run.stop().await;
}

/// Serves `slack.webhook` over HTTP on loopback, as the gateway's webhook route does.
async fn serve_webhook(slack: Arc<Slack>, sink: Arc<CollectSink>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/channels/slack/default/webhook",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let slack = slack.clone();
            let sink: Arc<dyn InboundSink> = sink.clone();
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = stream.read(&mut buf).await.expect("read");
                    assert!(n > 0, "request cut short");
                    raw.extend_from_slice(&buf[..n]);
                    if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&raw[..at]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().expect("length"));
                        break (at + 4, length);
                    }
                };
                while raw.len() < head_end + length {
                    let n = stream.read(&mut buf).await.expect("read");
                    raw.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
                let mut headers = http::HeaderMap::new();
                for line in head.lines().skip(1) {
                    if let Some((name, value)) = line.split_once(':') {
                        headers.append(
                            http::HeaderName::from_bytes(name.trim().as_bytes()).expect("name"),
                            http::HeaderValue::from_str(value.trim()).expect("value"),
                        );
                    }
                }
                let body = bytes::Bytes::copy_from_slice(&raw[head_end..head_end + length]);
                let reply = slack.webhook(WebhookRequest { headers, body }, sink).await;
                let answer = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{}",
                    reply.status,
                    reply.content_type,
                    reply.body.len(),
                    reply.body
                );
                stream.write_all(answer.as_bytes()).await.expect("write");
            });
        }
    });
    url
}

fn http_settings(fake: &FakeSlack) -> AccountSettings {
    let mut s = settings(fake);
    s.mode = Some("http".into());
    s.app_token = None;
    s.signing_secret = Some(SECRET.into());
    s
}

#[tokio::test]
async fn events_api_requests_are_verified_and_stored() {
    let fake = FakeSlack::start().await;
    let slack = slack(http_settings(&fake));
    let sink = CollectSink::new();
    let (ctx, cancel) = sink.context();
    let runner = slack.clone();
    let task = tokio::spawn(async move { runner.run(ctx).await });
    assert_eq!(sink.wait_connected(1).await, 1);
    let url = serve_webhook(slack.clone(), sink.clone()).await;

    let challenge = json!({
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    });
    let (status, body) = post_signed(&url, SECRET, &challenge.to_string(), now()).await;
    assert_eq!(status, 200);
    let body: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["challenge"], challenge["challenge"]);

    let event = fake.dm_event("U0ANN", "Ann", "over HTTP");
    assert_eq!(fake.post_event(&url, SECRET, event).await, 200);
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].text, "over HTTP");
    assert_eq!(got[0].peer_kind, PeerKind::Direct);
    assert_eq!(got[0].sender_name.as_deref(), Some("Ann"));

    // Forged, stale and unsigned requests are refused.
    let event = fake.dm_event("U0ANN", "Ann", "forged");
    assert_eq!(fake.post_event(&url, "not-the-secret", event).await, 401);
    let body = json!({"type": "event_callback", "event": {"type": "message"}}).to_string();
    assert_eq!(post_signed(&url, SECRET, &body, now() - 600).await.0, 401);
    assert_eq!(sink.all().len(), 1);

    // A message the gateway could not store gets a 500, so Slack retries it.
    sink.refuse.store(1, Ordering::SeqCst);
    let event = fake.dm_event("U0ANN", "Ann", "retry me");
    assert_eq!(fake.post_event(&url, SECRET, event.clone()).await, 500);
    assert_eq!(fake.post_event(&url, SECRET, event).await, 200);
    assert_eq!(sink.wait_for(2).await[1].text, "retry me");

    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("returns")
        .expect("task");
    assert!(result.is_ok());
}

#[tokio::test]
async fn socket_mode_accounts_take_no_webhooks() {
    let fake = FakeSlack::start().await;
    let slack = slack(settings(&fake));
    let reply = slack
        .webhook(
            WebhookRequest {
                headers: http::HeaderMap::new(),
                body: bytes::Bytes::from_static(b"{}"),
            },
            CollectSink::new(),
        )
        .await;
    assert_eq!(reply.status, 404);
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

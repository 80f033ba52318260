//! The Telegram adapter against [`FakeTelegram`], through the public adapter API only.

#![cfg(feature = "telegram")]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::CollectSink;
use hearth_channels::telegram::Telegram;
use hearth_channels::{
    AccountSettings, AttachmentKind, ChannelAdapter, ChannelError, Content, Outbound, PeerKind,
    Target, WebhookRequest,
};
use hearth_test_utils::SentKind;
use hearth_test_utils::telegram::FakeTelegram;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);
const ANN: i64 = 5001;

fn settings(fake: &FakeTelegram) -> AccountSettings {
    AccountSettings {
        channel: "telegram".to_owned(),
        account_id: "default".to_owned(),
        api_root: Some(fake.url()),
        token: Some(fake.token()),
        ..AccountSettings::default()
    }
}

fn adapter_with(settings: AccountSettings, poll: Duration) -> Arc<Telegram> {
    Arc::new(
        Telegram::new(settings, reqwest::Client::new())
            .expect("valid settings")
            .with_poll_timeout(poll),
    )
}

fn adapter(fake: &FakeTelegram) -> Arc<Telegram> {
    adapter_with(settings(fake), Duration::from_secs(1))
}

fn to(chat_id: impl ToString) -> Target {
    Target {
        peer_kind: PeerKind::Direct,
        chat_id: chat_id.to_string(),
        thread_id: None,
        reply_to: None,
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

/// Runs the adapter once; cancel the token to stop it.
fn run_once(
    tg: &Arc<Telegram>,
    sink: &Arc<CollectSink>,
) -> (JoinHandle<Result<(), ChannelError>>, CancellationToken) {
    let (ctx, cancel) = sink.context();
    let tg = Arc::clone(tg);
    (tokio::spawn(async move { tg.run(ctx).await }), cancel)
}

/// Runs the adapter as the gateway does: again after every error, until cancelled.
fn supervise(tg: &Arc<Telegram>, sink: &Arc<CollectSink>) -> (JoinHandle<()>, CancellationToken) {
    let (ctx, cancel) = sink.context();
    let tg = Arc::clone(tg);
    let task = tokio::spawn(async move {
        while !ctx.cancel.is_cancelled() {
            if let Err(err) = tg.run(ctx.clone()).await {
                assert!(err.is_retryable(), "unexpected error: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    (task, cancel)
}

async fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn probe_names_the_bot_and_a_wrong_token_is_auth() {
    let fake = FakeTelegram::start().await;
    let identity = adapter(&fake).probe().await.expect("probe");
    assert_eq!(identity.id, fake.bot_id().to_string());
    assert_eq!(identity.name, format!("@{}", fake.bot_username()));

    let wrong = adapter_with(
        AccountSettings {
            token: Some("1:WRONGTOKENVALUE".to_owned()),
            ..settings(&fake)
        },
        Duration::from_secs(1),
    );
    let err = wrong.probe().await.expect_err("refused");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("WRONGTOKENVALUE"));
    let sink = CollectSink::new();
    let (run, _cancel) = run_once(&wrong, &sink);
    let err = run.await.expect("join").expect_err("refused");
    assert!(matches!(err, ChannelError::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn capabilities_are_telegrams() {
    let fake = FakeTelegram::start().await;
    let caps = adapter(&fake).capabilities();
    assert_eq!(caps.max_text_len, 4096);
    assert_eq!(caps.format, "telegram-html");
    assert_eq!(caps.edit_interval, Duration::from_secs(1));
    assert_eq!(caps.typing_every, Duration::from_secs(4));
    assert!(caps.edits && caps.reactions && caps.typing && caps.threads && caps.media);
}

#[tokio::test]
async fn a_direct_message_arrives_with_every_field() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sink = CollectSink::new();
    let (run, cancel) = run_once(&tg, &sink);
    let message_id = fake.dm(ANN, "Ann Lee", "hello there");
    let got = sink.wait_for(1).await;
    cancel.cancel();
    run.await.expect("join").expect("clean stop");

    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.channel, "telegram");
    assert_eq!(m.account, "default");
    assert_eq!(m.peer_kind, PeerKind::Direct);
    assert_eq!(m.chat_id, ANN.to_string());
    assert_eq!(m.sender_id, ANN.to_string());
    assert_eq!(m.sender_name.as_deref(), Some("Ann Lee"));
    assert_eq!(m.text, "hello there");
    assert_eq!(m.message_id, message_id);
    assert!(m.timestamp_ms > 1_600_000_000_000);
    assert!(m.thread_id.is_none() && m.reply_to.is_none() && m.attachments.is_empty());
    assert!(sink.connected.load(Ordering::SeqCst) >= 1);

    // Polling started by removing any webhook, and asked only for the kinds Hearth takes.
    let calls: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.path.rsplit('/').next().map(str::to_owned))
        .collect();
    let delete = calls.iter().position(|c| c == "deleteWebhook");
    let poll = calls.iter().position(|c| c == "getUpdates");
    assert!(delete.is_some() && delete < poll, "{calls:?}");
    let poll = &fake.calls("getUpdates")[0];
    assert_eq!(
        poll["allowed_updates"],
        json!(["message", "edited_message", "channel_post"])
    );
    // The first poll of a run answers at once (the account is connected without waiting a
    // whole poll period); later ones wait.
    assert_eq!(poll["timeout"], 0);
    assert!(wait_until(|| fake.calls("getUpdates").len() >= 2).await);
    assert_eq!(fake.calls("getUpdates")[1]["timeout"], 1);
}

#[tokio::test]
async fn group_mentions_are_told_and_stripped() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sink = CollectSink::new();
    let (run, cancel) = run_once(&tg, &sink);
    fake.group_message(-42, ANN, "Ann", "just chatting", false);
    fake.group_message(-42, ANN, "Ann", "what time is it?", true);
    // A reply to one of the bot's messages counts as a mention.
    fake.push_update(json!({"message": {
        "message_id": 99, "date": 1_700_000_000, "text": "and tomorrow?",
        "from": {"id": ANN, "is_bot": false, "first_name": "Ann"},
        "chat": {"id": -42, "type": "group", "title": "G"},
        "reply_to_message": {"message_id": 98, "date": 1_700_000_000,
            "from": {"id": fake.bot_id(), "is_bot": true, "first_name": "Hearth Test"},
            "chat": {"id": -42, "type": "group"}, "text": "noon"},
    }}));
    let got = sink.wait_for(3).await;
    cancel.cancel();
    run.await.expect("join").expect("clean stop");

    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|m| m.peer_kind == PeerKind::Group && m.chat_id == "-42")
    );
    assert!(!got[0].mentions_bot);
    assert_eq!(got[0].text, "just chatting");
    assert!(got[1].mentions_bot);
    assert_eq!(got[1].text, "what time is it?");
    assert!(got[2].mentions_bot);
    assert_eq!(got[2].reply_to.as_deref(), Some("98"));
}

#[tokio::test]
async fn forum_topics_are_threads() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sink = CollectSink::new();
    let (run, cancel) = run_once(&tg, &sink);
    fake.topic_message(-1_001_234_567_890, 77, ANN, "Ann", "in the topic");
    let got = sink.wait_for(1).await;
    cancel.cancel();
    run.await.expect("join").expect("clean stop");

    let m = &got[0];
    assert_eq!(m.peer_kind, PeerKind::Thread);
    assert_eq!(m.chat_id, "-1001234567890");
    assert_eq!(m.thread_id.as_deref(), Some("77"));
    assert_eq!(m.parent_id.as_deref(), Some("-1001234567890"));
    assert_eq!(m.reply_to, None, "the topic's root is not a reply");
}

#[tokio::test]
async fn bots_and_unknown_updates_are_skipped_but_confirmed() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sink = CollectSink::new();
    fake.push_update(json!({"some_future_update": {"id": 1}}));
    fake.push_update(json!({"message": {
        "message_id": 1, "date": 1, "text": "beep",
        "from": {"id": 666, "is_bot": true, "first_name": "Other bot"},
        "chat": {"id": -42, "type": "group"},
    }}));
    fake.dm(ANN, "Ann", "after them");
    let (run, cancel) = run_once(&tg, &sink);
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "after them");
    assert!(wait_until(|| fake.pending_updates() == 0).await);
    cancel.cancel();
    run.await.expect("join").expect("clean stop");
    assert_eq!(sink.all().len(), 1);
}

#[tokio::test]
async fn replies_go_to_the_message_and_thread() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let target = Target {
        peer_kind: PeerKind::Thread,
        chat_id: "-1001234567890".to_owned(),
        thread_id: Some("77".to_owned()),
        reply_to: Some("12".to_owned()),
    };
    let sent = tg
        .send(&text(target, "<b>hi</b> there"))
        .await
        .expect("sent");
    let out = fake.outbox().wait_for("-1001234567890", 1, WAIT).await;
    assert_eq!(out[0].message_id, sent.message_id);
    assert_eq!(out[0].text, "<b>hi</b> there");
    assert_eq!(out[0].reply_to.as_deref(), Some("12"));
    assert_eq!(out[0].thread_id.as_deref(), Some("77"));
    assert_eq!(out[0].format.as_deref(), Some("HTML"));
    let call = &fake.calls("sendMessage")[0];
    assert_eq!(
        call["reply_parameters"]["allow_sending_without_reply"],
        true
    );
    assert_eq!(call["link_preview_options"]["is_disabled"], true);
}

#[tokio::test]
async fn edits_replace_the_text_and_unchanged_edits_succeed() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sent = tg.send(&text(to(ANN), "Thinking")).await.expect("sent");
    let edit = |t: &str| Outbound {
        target: to(ANN),
        content: Content::Text {
            text: t.to_owned(),
            edit_of: Some(sent.message_id.clone()),
        },
    };
    let edited = tg.send(&edit("Thinking… <i>done</i>")).await.expect("edit");
    assert_eq!(edited.message_id, sent.message_id);
    tg.send(&edit("Thinking… <i>done</i>"))
        .await
        .expect("an unchanged edit is no error");
    let out = fake.outbox().in_chat(&ANN.to_string());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].versions, ["Thinking", "Thinking… <i>done</i>"]);
}

#[tokio::test]
async fn markup_telegram_refuses_is_sent_again_as_plain_text() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    tg.send(&text(to(ANN), "<b>bold &amp; <br> broken"))
        .await
        .expect("sent as plain text");
    let out = fake.outbox().in_chat(&ANN.to_string());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "bold &  broken");
    assert_eq!(out[0].format, None);
    assert_eq!(fake.calls("sendMessage").len(), 2);
}

#[tokio::test]
async fn long_answers_render_into_chunks_within_the_limit() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let paragraph = "Some **bold** words & a [link](https://example.org) to read. ".repeat(20);
    let markdown = vec![paragraph; 12].join("\n\n");
    let chunks = tg.render(&markdown, 10_000);
    assert!(chunks.len() > 1, "{} chunks", chunks.len());
    for chunk in &chunks {
        assert!(chunk.chars().count() <= 4096);
        tg.send(&text(to(ANN), chunk))
            .await
            .expect("telegram takes every chunk as HTML");
    }
    let out = fake.outbox().in_chat(&ANN.to_string());
    assert_eq!(out.len(), chunks.len());
    assert!(out.iter().all(|m| m.format.as_deref() == Some("HTML")));
    let small = tg.render(&markdown, 500);
    assert!(small.iter().all(|c| c.chars().count() <= 500));
}

#[tokio::test]
async fn photos_arrive_and_their_bytes_can_be_fetched() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sink = CollectSink::new();
    let (run, cancel) = run_once(&tg, &sink);
    let png: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    fake.photo_dm(ANN, "Ann", &png, "what is this?");
    let got = sink.wait_for(1).await;
    cancel.cancel();
    run.await.expect("join").expect("clean stop");

    let m = &got[0];
    assert_eq!(m.text, "what is this?");
    assert_eq!(m.attachments.len(), 1);
    let photo = &m.attachments[0];
    assert_eq!(photo.kind, AttachmentKind::Image);
    assert_eq!(photo.mime.as_deref(), Some("image/jpeg"));
    assert_eq!(photo.size, Some(5000));
    let bytes = tg.fetch(photo, 10_000).await.expect("fetched");
    assert_eq!(&bytes[..], &png[..]);

    let err = tg.fetch(photo, 100).await.expect_err("too big");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
    // Without a size on the attachment, the limit still holds while reading.
    let unsized_photo = hearth_channels::Attachment {
        size: None,
        ..photo.clone()
    };
    let err = tg.fetch(&unsized_photo, 100).await.expect_err("too big");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
    let file_id = fake.add_file(vec![1u8, 2, 3]);
    let doc = hearth_channels::Attachment {
        kind: AttachmentKind::Document,
        mime: None,
        size: None,
        name: None,
        source: file_id,
    };
    assert_eq!(&tg.fetch(&doc, 3).await.expect("fetched")[..], &[1, 2, 3]);
}

#[tokio::test]
async fn media_is_uploaded_with_its_caption() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chart.png");
    std::fs::write(&path, vec![7u8; 1234]).expect("write");
    let out = Outbound {
        target: Target {
            reply_to: Some("3".to_owned()),
            ..to(ANN)
        },
        content: Content::Media {
            kind: AttachmentKind::Image,
            path: path.clone(),
            mime: "image/png".to_owned(),
            name: "chart.png".to_owned(),
            caption: Some("<b>the</b> chart".to_owned()),
        },
    };
    let sent = tg.send(&out).await.expect("uploaded");
    let got = fake.outbox().in_chat(&ANN.to_string());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, sent.message_id);
    assert_eq!(got[0].kind, SentKind::Photo);
    assert_eq!(got[0].file_name.as_deref(), Some("chart.png"));
    assert_eq!(got[0].file_len, Some(1234));
    assert_eq!(got[0].text, "<b>the</b> chart");
    assert_eq!(got[0].reply_to.as_deref(), Some("3"));

    let voice = Outbound {
        target: to(ANN),
        content: Content::Media {
            kind: AttachmentKind::Voice,
            path,
            mime: "audio/ogg".to_owned(),
            name: "note.ogg".to_owned(),
            caption: None,
        },
    };
    tg.send(&voice).await.expect("uploaded");
    assert_eq!(
        fake.outbox().in_chat(&ANN.to_string())[1].kind,
        SentKind::Voice
    );
}

#[tokio::test]
async fn typing_and_reactions_reach_the_chat() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let target = Target {
        thread_id: Some("77".to_owned()),
        ..to(-1_001_234_567_890i64)
    };
    tg.typing(&target).await.expect("typing");
    assert_eq!(fake.outbox().typing_in("-1001234567890"), 1);
    assert_eq!(fake.calls("sendChatAction")[0]["message_thread_id"], 77);
    tg.react(&to(ANN), "5", "👍").await.expect("reacted");
    let reactions = fake.reactions();
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        (
            reactions[0].message_id.as_str(),
            reactions[0].emoji.as_str()
        ),
        ("5", "👍")
    );
}

#[tokio::test]
async fn refusals_are_classified() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    fake.rate_limit_next(1, 17);
    let err = tg.send(&text(to(ANN), "a")).await.expect_err("429");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));

    fake.fail_next(1, 502);
    let err = tg.send(&text(to(ANN), "b")).await.expect_err("502");
    assert!(matches!(err, ChannelError::Transient(_)), "{err:?}");

    fake.fail_next(1, 403);
    let err = tg.send(&text(to(ANN), "c")).await.expect_err("403");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("blocked"));

    let err = tg
        .send(&text(to(ANN), &"x".repeat(5000)))
        .await
        .expect_err("too long");
    assert!(matches!(err, ChannelError::Permanent(_)), "{err:?}");

    // Nothing is retried inside send(): one call each.
    assert_eq!(fake.calls("sendMessage").len(), 4);
    assert!(fake.outbox().all().is_empty());
}

#[tokio::test]
async fn a_refused_message_is_not_confirmed_and_comes_again() {
    let fake = FakeTelegram::start().await;
    let tg = adapter(&fake);
    let sink = CollectSink::new();
    sink.refuse.store(1, Ordering::SeqCst);
    let (run, cancel) = run_once(&tg, &sink);
    let message_id = fake.dm(ANN, "Ann", "store me");
    assert!(wait_until(|| sink.refuse.load(Ordering::SeqCst) == 0).await);
    // The adapter pauses a second before asking again; meanwhile nothing was confirmed.
    assert_eq!(fake.pending_updates(), 1);
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, message_id);
    assert!(wait_until(|| fake.pending_updates() == 0).await);
    cancel.cancel();
    run.await.expect("join").expect("clean stop");
    assert_eq!(sink.all().len(), 1);
}

#[tokio::test]
async fn a_dropped_connection_reconnects_and_loses_nothing() {
    let fake = FakeTelegram::start().await;
    let tg = adapter_with(settings(&fake), Duration::from_secs(5));
    let sink = CollectSink::new();
    fake.dm(ANN, "Ann", "before");
    let (task, cancel) = supervise(&tg, &sink);
    assert_eq!(sink.wait_for(1).await.len(), 1);
    // The next long poll is waiting at the fake.
    assert!(wait_until(|| fake.calls("getUpdates").len() >= 2).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.drop_connections();
    let during = fake.dm(ANN, "Ann", "during the drop");
    assert_eq!(sink.wait_connected(2).await, 2);
    let got = sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops")
        .expect("join");
    let got_all = sink.all();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got_all.iter().filter(|m| m.message_id == during).count(),
        1,
        "{got_all:?}"
    );
}

#[tokio::test]
async fn a_second_poller_is_a_transient_conflict() {
    let fake = FakeTelegram::start().await;
    let first = adapter_with(settings(&fake), Duration::from_secs(5));
    let second = adapter_with(settings(&fake), Duration::from_secs(5));
    let (sink_a, sink_b) = (CollectSink::new(), CollectSink::new());
    let (run_a, _cancel_a) = run_once(&first, &sink_a);
    assert!(wait_until(|| !fake.calls("getUpdates").is_empty()).await);
    let (run_b, cancel_b) = run_once(&second, &sink_b);
    let err = tokio::time::timeout(WAIT, run_a)
        .await
        .expect("ends")
        .expect("join")
        .expect_err("conflict");
    assert!(matches!(err, ChannelError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("terminated by other getUpdates"));
    cancel_b.cancel();
    run_b.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn cancel_stops_a_waiting_long_poll_at_once() {
    let fake = FakeTelegram::start().await;
    let tg = adapter_with(settings(&fake), hearth_channels::telegram::POLL_TIMEOUT);
    let sink = CollectSink::new();
    let (run, cancel) = run_once(&tg, &sink);
    assert!(wait_until(|| fake.calls("getUpdates").len() >= 2).await);
    assert_eq!(fake.calls("getUpdates")[1]["timeout"], 25);
    let started = tokio::time::Instant::now();
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), run)
        .await
        .expect("returns promptly")
        .expect("join")
        .expect("Ok on cancel");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_proxy_carries_the_calls() {
    let fake = FakeTelegram::start().await;
    // The API root does not resolve: only the proxy (the fake itself) can answer.
    let tg = adapter_with(
        AccountSettings {
            api_root: Some("http://api.telegram.invalid".to_owned()),
            proxy: Some(fake.url()),
            ..settings(&fake)
        },
        Duration::from_secs(1),
    );
    tg.probe().await.expect("probe through the proxy");
    let request = fake.requests().pop().expect("recorded");
    assert_eq!(request.header("host"), Some("api.telegram.invalid"));
}

/// A one-route HTTP server on `listener` standing in for the gateway's webhook route.
fn serve_webhook(listener: TcpListener, tg: Arc<Telegram>, sink: Arc<CollectSink>) {
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let (head_end, length) = loop {
                let n = socket.read(&mut buf).await.expect("read");
                assert!(n > 0, "request cut short");
                raw.extend_from_slice(&buf[..n]);
                if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (end + 4, length);
                }
            };
            while raw.len() < head_end + length {
                let n = socket.read(&mut buf).await.expect("read");
                raw.extend_from_slice(&buf[..n]);
            }
            let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
            let mut headers = reqwest::header::HeaderMap::new();
            for line in head.lines().skip(1) {
                if let Some((k, v)) = line.split_once(':')
                    && let (Ok(k), Ok(v)) = (
                        reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()),
                        reqwest::header::HeaderValue::from_str(v.trim()),
                    )
                {
                    headers.insert(k, v);
                }
            }
            let request = WebhookRequest {
                headers,
                body: bytes::Bytes::copy_from_slice(&raw[head_end..head_end + length]),
            };
            let reply = tg.webhook(request, sink.clone()).await;
            let answer = format!(
                "HTTP/1.1 {} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                reply.status
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
}

#[tokio::test]
async fn webhook_mode_sets_the_hook_and_takes_updates_once_stored() {
    let fake = FakeTelegram::start().await;
    let sink = CollectSink::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/channels/telegram/default/webhook",
        listener.local_addr().expect("addr")
    );
    let tg = adapter_with(
        AccountSettings {
            mode: Some("webhook".to_owned()),
            webhook_url: Some(url.clone()),
            webhook_secret: Some("s3cret-Token_1".to_owned()),
            ..settings(&fake)
        },
        Duration::from_secs(1),
    );
    serve_webhook(listener, Arc::clone(&tg), sink.clone());

    let (run, cancel) = run_once(&tg, &sink);
    assert_eq!(sink.wait_connected(1).await, 1);
    assert_eq!(fake.webhook_info()["url"], url.as_str());
    assert_eq!(fake.webhook_secret().as_deref(), Some("s3cret-Token_1"));
    assert!(fake.calls("getUpdates").is_empty());

    // The first delivery is refused by the sink (500), so Telegram delivers it again.
    sink.refuse.store(1, Ordering::SeqCst);
    fake.deliver_to_webhook();
    let message_id = fake.dm(ANN, "Ann", "via the webhook");
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, message_id);
    assert_eq!(got[0].text, "via the webhook");
    assert!(wait_until(|| fake.pending_updates() == 0).await);
    assert!(
        fake.webhook_info()["last_error_message"]
            .as_str()
            .is_some_and(|m| m.contains("500"))
    );

    // A request without the secret is turned away.
    let forged = WebhookRequest {
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::from_static(b"{\"update_id\": 1}"),
    };
    assert_eq!(tg.webhook(forged, sink.clone()).await.status, 401);

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(1), run)
        .await
        .expect("returns promptly")
        .expect("join")
        .expect("Ok on cancel");
}

#[tokio::test]
async fn a_polling_account_takes_no_webhooks() {
    let fake = FakeTelegram::start().await;
    let reply = adapter(&fake)
        .webhook(
            WebhookRequest {
                headers: reqwest::header::HeaderMap::new(),
                body: bytes::Bytes::new(),
            },
            CollectSink::new(),
        )
        .await;
    assert_eq!(reply.status, 404);
}

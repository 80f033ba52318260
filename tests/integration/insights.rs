//! `usage.summary`, `runs.recent`, `logs.tail` and image attachments through the real client:
//! what the Control UI's usage, activity and logs pages and its chat composer do.

use hearth_protocol::frame::ErrorCode;
use hearth_protocol::methods::{
    ChatAttachment, ChatSendParams, LogLevel, LogsTailParams, RunOutcome, RunsRecentParams,
    UsageSummaryParams, spec,
};
use hearth_protocol::transcript::Usage;

use crate::harness::{TestGateway, chat_to_end};

fn send(message: &str) -> ChatSendParams {
    ChatSendParams {
        message: message.to_owned(),
        ..ChatSendParams::default()
    }
}

#[tokio::test]
async fn usage_and_recent_runs_add_up_after_two_runs() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let mut total = Usage::default();
    for text in [
        "first question",
        "a second, longer question about the weather",
    ] {
        let end = chat_to_end(&client, send(text)).await;
        total.add(&end.usage.expect("final usage"));
    }
    assert!(total.cost.is_some_and(|c| c > 0.0), "{total:?}");

    let summary = client
        .call::<spec::UsageSummary>(UsageSummaryParams { days: Some(7) })
        .await
        .unwrap();
    assert_eq!(summary.by_day.len(), 7);
    assert!(summary.from < summary.to);
    let today = summary.by_day.last().unwrap();
    assert_eq!(today.usage.runs, 2);
    assert!(
        summary.by_day[..6]
            .iter()
            .all(|d| d.usage.runs == 0 && d.usage.cost.is_none())
    );
    let totals = summary.totals;
    assert_eq!(totals.runs, 2);
    assert_eq!(
        (
            totals.input_tokens,
            totals.output_tokens,
            totals.cache_read_tokens
        ),
        (total.input, total.output, total.cache_read)
    );
    let cost = totals.cost.unwrap();
    assert!(
        (cost - total.cost.unwrap()).abs() < 1e-12,
        "{cost} vs {total:?}"
    );
    for (buckets, key) in [
        (&summary.by_agent, "main"),
        (&summary.by_channel, "webchat"),
        (&summary.by_model, "fake/fake-model"),
    ] {
        assert_eq!(buckets.len(), 1, "{buckets:?}");
        assert_eq!(buckets[0].key, key);
        assert_eq!(buckets[0].usage, totals);
    }
    let default_range = client
        .call::<spec::UsageSummary>(UsageSummaryParams::default())
        .await
        .unwrap();
    assert_eq!(default_range.by_day.len(), 30);

    let recent = client
        .call::<spec::RunsRecent>(RunsRecentParams { limit: Some(1) })
        .await
        .unwrap();
    assert_eq!(recent.runs.len(), 1);
    let all = client
        .call::<spec::RunsRecent>(RunsRecentParams::default())
        .await
        .unwrap();
    assert_eq!(all.runs.len(), 2);
    assert_eq!(all.runs[0].id, recent.runs[0].id, "newest first");
    assert!(all.runs[0].started_at >= all.runs[1].started_at);
    for run in &all.runs {
        assert_eq!(run.status, RunOutcome::Completed);
        assert_eq!(run.model.as_deref(), Some("fake/fake-model"));
        assert_eq!(run.session_key, "agent:main:main");
        assert!(run.input_tokens > 0 && run.cost.is_some() && run.error.is_none());
    }
}

fn log_line(level: &str, message: &str) -> String {
    format!(
        "{{\"timestamp\":\"2025-06-01T10:00:00.000000Z\",\"level\":\"{level}\",\"fields\":{{\"message\":\"{message}\"}},\"target\":\"hearth_core::test\"}}\n"
    )
}

#[tokio::test]
async fn logs_tail_returns_only_newer_lines_after_the_cursor() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let logs = t.home.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let file = logs.join("hearth.2025-06-01.log");
    std::fs::write(
        &file,
        log_line("INFO", "started") + log_line("DEBUG", "detail").as_str(),
    )
    .unwrap();

    let first = client
        .call::<spec::LogsTail>(LogsTailParams::default())
        .await
        .unwrap();
    let messages: Vec<&str> = first.entries.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["started", "detail"]);
    assert_eq!(first.entries[0].level, "info");
    assert!(!first.reset);

    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&log_line("WARN", "newer"));
    text.push_str(&log_line("DEBUG", "quiet"));
    std::fs::write(&file, text).unwrap();
    let next = client
        .call::<spec::LogsTail>(LogsTailParams {
            cursor: Some(first.cursor.clone()),
            min_level: Some(LogLevel::Info),
            ..LogsTailParams::default()
        })
        .await
        .unwrap();
    let messages: Vec<&str> = next.entries.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["newer"]);
    assert!(!next.reset);
    let idle = client
        .call::<spec::LogsTail>(LogsTailParams {
            cursor: Some(next.cursor.clone()),
            ..LogsTailParams::default()
        })
        .await
        .unwrap();
    assert!(idle.entries.is_empty());
    assert_eq!(idle.cursor, next.cursor);
}

/// A 1×1 transparent PNG, base64.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGMAAQAABQABDQottAAAAABJRU5ErkJggg==";

#[tokio::test]
async fn an_image_attachment_reaches_the_provider_as_an_image_part() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let data = PNG_BASE64.to_owned();
    let image = |mime: &str| ChatAttachment::Image {
        mime_type: mime.to_owned(),
        data: data.clone(),
        name: Some("dot.png".to_owned()),
    };
    let end = chat_to_end(
        &client,
        ChatSendParams {
            attachments: vec![image("image/png")],
            ..send("what is in this picture?")
        },
    )
    .await;
    assert!(end.error.is_none(), "{:?}", end.error);
    let body = t.fake.last_request().unwrap().body;
    let user = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| m["role"] == "user")
        .unwrap()
        .clone();
    let parts = user["content"].as_array().unwrap();
    assert_eq!(parts[0]["type"], "text");
    assert_eq!(parts[0]["text"], "what is in this picture?");
    assert_eq!(parts[1]["type"], "image_url");
    assert_eq!(
        parts[1]["image_url"]["url"],
        format!("data:image/png;base64,{data}")
    );

    let refused = client
        .call::<spec::ChatSend>(ChatSendParams {
            attachments: vec![image("application/pdf")],
            ..send("and this?")
        })
        .await
        .unwrap_err();
    assert_eq!(refused.shape().unwrap().code, ErrorCode::InvalidRequest);
}

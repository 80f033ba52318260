//! `chat.send` end to end: streaming events, the stored transcript, errors, abort, ordering.

use std::time::Duration;

use hearth_protocol::events::{AgentEventData, ChatState, Event};
use hearth_protocol::methods::{
    ChatAbortParams, ChatHistoryParams, ChatSendParams, RunAcceptance, spec,
};
use hearth_protocol::transcript::Role;
use hearth_test_utils::Reply;

use crate::harness::{TestGateway, chat_final, next_event};

fn send(message: &str) -> ChatSendParams {
    ChatSendParams {
        message: message.to_owned(),
        ..ChatSendParams::default()
    }
}

#[tokio::test]
async fn a_message_streams_and_is_stored() {
    let t = TestGateway::start().await;
    t.fake
        .push(Reply::text_chunked("Hello from the fake model.", 5));
    let client = t.client().await;
    let mut events = client.events();
    let accepted = client
        .call::<spec::ChatSend>(send("hi there"))
        .await
        .unwrap();
    assert_eq!(accepted.status, RunAcceptance::Started);
    assert_eq!(accepted.session_key, "agent:main:main");

    let mut streamed = String::new();
    let mut saw_start = false;
    let (final_message, usage) = next_event(&mut events, |e| match e {
        Event::Agent(a) if a.run_id == accepted.run_id => {
            if matches!(a.data, AgentEventData::Lifecycle(ref l) if l.phase == hearth_protocol::events::Phase::Start) {
                saw_start = true;
            }
            None
        }
        Event::Chat(c) if c.run_id == accepted.run_id => match c.state {
            ChatState::Delta => {
                streamed.push_str(&c.delta.unwrap());
                None
            }
            ChatState::Final => Some((c.message.unwrap(), c.usage.unwrap())),
            other => panic!("unexpected {other:?}: {:?}", c.error),
        },
        _ => None,
    })
    .await;
    assert!(saw_start);
    assert_eq!(streamed, "Hello from the fake model.");
    assert_eq!(final_message.plain_text(), "Hello from the fake model.");
    assert_eq!(final_message.model.as_deref(), Some("fake/fake-model"));
    assert!(usage.input > 0 && usage.output > 0);
    assert!(usage.cost.unwrap() > 0.0, "cost from the configured prices");

    // What the provider received: the system prompt and the user's message.
    let req = t.fake.last_request().unwrap();
    assert_eq!(req.header("authorization"), Some("Bearer sk-fake"));
    let msgs = req.body["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs.last().unwrap()["content"], "hi there");

    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    let roles: Vec<Role> = history.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![Role::User, Role::Assistant]);
    assert_eq!(
        history.messages[1].plain_text(),
        "Hello from the fake model."
    );

    // The next turn carries the history to the model.
    chat_final(&client, send("and again")).await;
    let body = t.fake.last_request().unwrap().body;
    let contents: Vec<String> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        contents,
        vec!["hi there", "Hello from the fake model.", "and again"]
    );
}

#[tokio::test]
async fn provider_errors_reach_the_client_and_nothing_is_half_written() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    t.fake.push(Reply::text("first answer"));
    let mut events = client.events();
    let ok = client.call::<spec::ChatSend>(send("one")).await.unwrap();
    next_event(&mut events, |e| {
        matches!(e, Event::Chat(c) if c.run_id == ok.run_id && c.state == ChatState::Final)
            .then_some(())
    })
    .await;

    for reply in [
        Reply::server_error(),
        Reply::rate_limited(30),
        Reply::cut_after("partial answ"),
        Reply::unauthorized(),
    ] {
        t.fake.push(reply);
        let mut events = client.events();
        let run = client.call::<spec::ChatSend>(send("two")).await.unwrap();
        let error = next_event(&mut events, |e| match e {
            Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Error => {
                Some(c.error.unwrap())
            }
            Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Final => {
                panic!("expected an error")
            }
            _ => None,
        })
        .await;
        assert_eq!(error.code, hearth_protocol::frame::ErrorCode::ProviderError);
        assert!(!error.message.contains("sk-fake"), "{}", error.message);
    }
    // Only the successful turn is in the transcript.
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 2, "{:?}", history.messages);
}

#[tokio::test]
async fn rate_limit_error_carries_retry_after() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    t.fake.push(Reply::rate_limited(30));
    let mut events = client.events();
    let run = client.call::<spec::ChatSend>(send("x")).await.unwrap();
    let error = next_event(&mut events, |e| match e {
        Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Error => {
            Some(c.error.unwrap())
        }
        _ => None,
    })
    .await;
    assert!(error.retryable);
    assert_eq!(error.retry_after_ms, Some(30_000));
}

#[tokio::test]
async fn abort_stops_a_running_turn() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    t.fake.push(Reply::Stall);
    let mut events = client.events();
    let run = client
        .call::<spec::ChatSend>(send("take your time"))
        .await
        .unwrap();
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(10)).await);
    let aborted = client
        .call::<spec::ChatAbort>(ChatAbortParams {
            session_key: None,
            run_id: Some(run.run_id.clone()),
        })
        .await
        .unwrap();
    assert!(aborted.aborted);
    assert_eq!(aborted.run_ids, vec![run.run_id.clone()]);
    next_event(&mut events, |e| {
        matches!(e, Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Aborted)
            .then_some(())
    })
    .await;
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    assert!(history.messages.is_empty());
}

#[tokio::test]
async fn runs_of_one_session_are_serialised_in_order() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    t.fake.push(Reply::delayed(
        Duration::from_millis(300),
        Reply::text("answer one"),
    ));
    t.fake.push(Reply::text("answer two"));
    let mut events = client.events();
    let first = client.call::<spec::ChatSend>(send("one")).await.unwrap();
    let second = client.call::<spec::ChatSend>(send("two")).await.unwrap();
    assert_eq!(first.status, RunAcceptance::Started);
    assert_eq!(second.status, RunAcceptance::Queued);
    next_event(&mut events, |e| {
        matches!(e, Event::Chat(c) if c.run_id == second.run_id && c.state == ChatState::Final)
            .then_some(())
    })
    .await;
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    let texts: Vec<String> = history.messages.iter().map(|m| m.plain_text()).collect();
    assert_eq!(texts, vec!["one", "answer one", "two", "answer two"]);
}

#[tokio::test]
async fn sessions_run_concurrently() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    t.fake
        .set_default(Reply::delayed(Duration::from_millis(400), Reply::Echo));
    let mut events = client.events();
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for i in 0..4 {
        let p = ChatSendParams {
            session_key: Some(format!("s{i}")),
            ..send("hello")
        };
        runs.push(client.call::<spec::ChatSend>(p).await.unwrap().run_id);
    }
    let mut done = 0;
    next_event(&mut events, |e| {
        if matches!(&e, Event::Chat(c) if runs.contains(&c.run_id) && c.state == ChatState::Final) {
            done += 1;
        }
        (done == 4).then_some(())
    })
    .await;
    // Four 400 ms calls in well under 4 × 400 ms.
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn idempotency_key_starts_one_run() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let p = ChatSendParams {
        idempotency_key: Some("k-1".into()),
        ..send("once")
    };
    let a = client.call::<spec::ChatSend>(p.clone()).await.unwrap();
    let b = client.call::<spec::ChatSend>(p).await.unwrap();
    assert_eq!(b.status, RunAcceptance::Duplicate);
    assert_eq!(a.run_id, b.run_id);
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(t.fake.request_count(), 1);
}

#[tokio::test]
async fn every_client_sees_the_stream() {
    let t = TestGateway::start().await;
    let a = t.client().await;
    let b = t.client().await;
    let mut b_events = b.events();
    let run = a.call::<spec::ChatSend>(send("broadcast")).await.unwrap();
    let text = next_event(&mut b_events, |e| match e {
        Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Final => {
            Some(c.message.unwrap().plain_text())
        }
        _ => None,
    })
    .await;
    assert_eq!(text, "echo: broadcast");
}

#[tokio::test]
async fn bad_requests_are_refused_with_reasons() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let err = client
        .call::<spec::ChatSend>(send("   "))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let err = client
        .call::<spec::ChatSend>(ChatSendParams {
            agent_id: Some("ghost".into()),
            ..send("x")
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.shape().unwrap().code,
        hearth_protocol::frame::ErrorCode::NotFound
    );
    let err = client
        .call::<spec::ChatSend>(ChatSendParams {
            session_key: Some("agent:main".into()),
            ..send("x")
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("session key"), "{err}");
}

#[tokio::test]
async fn slash_commands_are_answered_by_the_gateway() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    chat_final(&client, send("remember the milk")).await;
    let status = client
        .call::<spec::ChatSend>(send("/status"))
        .await
        .unwrap();
    assert_eq!(status.status, RunAcceptance::Command);
    let text = status.reply.unwrap();
    assert!(text.contains("Model: fake/fake-model"), "{text}");
    assert!(text.contains("2 messages"), "{text}");
    assert!(text.contains("of 128000 tokens"), "{text}");
    assert_eq!(t.fake.request_count(), 1, "no model call for a command");

    let stop = client.call::<spec::ChatSend>(send("/stop")).await.unwrap();
    assert_eq!(stop.reply.as_deref(), Some("Nothing is running."));

    let reset = client.call::<spec::ChatSend>(send("/new")).await.unwrap();
    assert!(reset.reply.unwrap().starts_with("Started a new session"));
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    assert!(history.messages.is_empty());
    // Commands are not stored as conversation.
    chat_final(&client, send("fresh")).await;
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 2);
}

#[tokio::test]
async fn a_model_repeating_the_same_tool_call_is_stopped() {
    let t = TestGateway::start().await;
    // The model asks for the same search forever.
    t.fake
        .set_default(Reply::tool_calls([hearth_test_utils::FakeToolCall::new(
            "call-1",
            "memory_search",
            r#"{"query":"milk"}"#,
        )]));
    let client = t.client().await;
    let end = crate::harness::chat_to_end(&client, send("find the milk")).await;
    assert_eq!(end.state, ChatState::Error);
    assert!(
        end.error
            .unwrap()
            .message
            .contains("kept calling `memory_search`")
    );
    // Three real calls, two refusals fed back, then the run stopped: six model calls.
    assert_eq!(t.fake.request_count(), 6);
    let last = t.fake.last_request().unwrap().body;
    let tool_results: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(tool_results.len(), 5);
    assert!(
        tool_results[3].starts_with("refused"),
        "{}",
        tool_results[3]
    );
}

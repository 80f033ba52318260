//! Start, stop, restart: what survives and what a shutdown does to runs in flight.

use std::time::Duration;

use hearth_protocol::events::{ChatState, Event};
use hearth_protocol::methods::{ChatHistoryParams, ChatSendParams, spec};
use hearth_test_utils::Reply;

use crate::harness::{TestGateway, chat_final, next_event};

fn send(text: &str) -> ChatSendParams {
    ChatSendParams {
        message: text.to_owned(),
        ..ChatSendParams::default()
    }
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let mut t = TestGateway::start().await;
    {
        let client = t.client().await;
        chat_final(&client, send("remember me")).await;
    }
    t.restart().await;
    let client = t.client().await;
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    let texts: Vec<String> = history.messages.iter().map(|m| m.plain_text()).collect();
    assert_eq!(texts, vec!["remember me", "echo: remember me"]);
    // And the conversation continues with that history.
    chat_final(&client, send("still there?")).await;
    let sent = t.fake.last_request().unwrap().body;
    assert_eq!(sent["messages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn shutdown_lets_a_running_turn_finish() {
    let mut t = TestGateway::start().await;
    t.fake.push(Reply::delayed(
        Duration::from_millis(500),
        Reply::text("finished in time"),
    ));
    let client = t.client().await;
    let mut events = client.events();
    let run = client
        .call::<spec::ChatSend>(send("slow one"))
        .await
        .unwrap();
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(5)).await);
    let addr = t.gw().local_addr();
    let stopping = tokio::spawn(async move {
        t.stop().await;
        t
    });
    let text = next_event(&mut events, |e| match e {
        Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Final => {
            Some(c.message.unwrap().plain_text())
        }
        Event::Chat(c) if c.run_id == run.run_id && c.state != ChatState::Delta => {
            panic!("run ended {:?}", c.state)
        }
        _ => None,
    })
    .await;
    assert_eq!(text, "finished in time");
    let mut t = tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .unwrap()
        .unwrap();
    // Stopped: the port no longer accepts.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // The turn was stored before the store closed.
    t.restart().await;
    let client = t.client().await;
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams::default())
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 2);
}

#[tokio::test]
async fn shutdown_aborts_runs_after_the_grace_period() {
    let mut t = TestGateway::start_with("").await;
    // A 1 s grace period for this test.
    let cfg = std::fs::read_to_string(t.home.path().join("hearth.json"))
        .unwrap()
        .replace("gateway: {", "gateway: { shutdownTimeoutSeconds: 1,");
    std::fs::write(t.home.path().join("hearth.json"), cfg).unwrap();
    t.restart().await;
    t.fake.push(Reply::Stall);
    let client = t.client().await;
    let mut events = client.events();
    let run = client
        .call::<spec::ChatSend>(send("never answered"))
        .await
        .unwrap();
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(5)).await);
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(async move {
        t.stop().await;
        t
    });
    next_event(&mut events, |e| {
        matches!(e, Event::Chat(c) if c.run_id == run.run_id && c.state == ChatState::Aborted)
            .then_some(())
    })
    .await;
    let _t = tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[tokio::test]
async fn new_work_is_refused_while_shutting_down() {
    let t = TestGateway::start().await;
    t.fake
        .push(Reply::delayed(Duration::from_millis(800), Reply::text("x")));
    let client = t.client().await;
    client
        .call::<spec::ChatSend>(send("keeps the gateway busy"))
        .await
        .unwrap();
    assert!(t.fake.wait_for_requests(1, Duration::from_secs(5)).await);
    t.gw().shutdown_token().cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        t.client_with(Some(crate::harness::TOKEN), None)
            .await
            .is_err()
    );
}

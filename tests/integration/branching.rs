//! Branching (`sessions.fork`) and automatic resets (`session.reset`), with the gateway's
//! clock under the test's control.

use std::sync::Arc;
use std::time::Duration;

use hearth_core::clock::ManualClock;
use hearth_core::{Gateway, GatewayOptions, StateDir};
use hearth_protocol::methods::*;
use hearth_test_utils::{FakeOpenAi, Reply};

use crate::harness::{TOKEN, TestGateway, chat_final, config};

async fn say(client: &hearth_client::Client, key: &str, text: &str) -> String {
    chat_final(
        client,
        ChatSendParams {
            session_key: Some(key.into()),
            message: text.into(),
            ..Default::default()
        },
    )
    .await
    .plain_text()
}

fn last_prompt(fake: &FakeOpenAi) -> String {
    fake.last_request()
        .expect("a model request")
        .body
        .to_string()
}

#[tokio::test]
async fn a_fork_continues_from_its_message_and_leaves_the_original_as_it_was() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    t.fake.push(Reply::text("Monday: gym."));
    say(&client, "work", "plan the week").await;
    t.fake.push(Reply::text("Buy milk."));
    say(&client, "work", "and groceries?").await;

    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams {
            session_key: Some("work".into()),
            limit: None,
        })
        .await
        .unwrap();
    let seqs: Vec<Option<i64>> = history.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3), Some(4)]);

    // Fork after the first answer: the second question is not part of the branch.
    let fork = client
        .call::<spec::SessionsFork>(SessionsForkParams {
            key: "work".into(),
            at_seq: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fork.key, "agent:main:work:fork:1");
    assert_eq!((fork.fork_seq, fork.messages), (2, 2));
    assert_eq!(Some(fork.parent_id.as_str()), history.session_id.as_deref());

    t.fake.push(Reply::text("Tuesday: rest."));
    say(&client, &fork.key, "what about tuesday?").await;
    let prompt = last_prompt(&t.fake);
    assert!(
        prompt.contains("plan the week") && prompt.contains("Monday: gym."),
        "{prompt}"
    );
    assert!(
        !prompt.contains("and groceries?"),
        "the branch must not see later messages: {prompt}"
    );

    let original = client
        .call::<spec::ChatHistory>(ChatHistoryParams {
            session_key: Some("work".into()),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(original.messages.len(), 4, "the original is untouched");
    let list = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap();
    let branch = list.sessions.iter().find(|s| s.key == fork.key).unwrap();
    assert_eq!(branch.parent_id, history.session_id);
    assert_eq!(branch.fork_seq, Some(2));
    assert_eq!(branch.message_count, 4);

    // A second fork gets the next free name; a fork beyond the end is refused.
    let second = client
        .call::<spec::SessionsFork>(SessionsForkParams {
            key: fork.key.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(second.key, "agent:main:work:fork:2");
    let beyond = client
        .call::<spec::SessionsFork>(SessionsForkParams {
            key: "work".into(),
            at_seq: Some(99),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(beyond.to_string().contains("1 to 4"), "{beyond}");
    let missing = client
        .call::<spec::SessionsFork>(SessionsForkParams {
            key: "nothing-here".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("no session to fork"),
        "{missing}"
    );
}

struct Clocked {
    gateway: hearth_core::RunningGateway,
    fake: FakeOpenAi,
    clock: Arc<ManualClock>,
    _home: tempfile::TempDir,
}

async fn start_clocked(extra: &str) -> Clocked {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("hearth.json"), config(&fake, extra)).unwrap();
    let clock = Arc::new(ManualClock::default());
    let mut opts = GatewayOptions::new(StateDir::new(home.path()));
    opts.clock = Some(clock.clone());
    let gateway = Gateway::start(opts).await.unwrap();
    Clocked {
        gateway,
        fake,
        clock,
        _home: home,
    }
}

async fn client_of(c: &Clocked) -> hearth_client::Client {
    let opts = hearth_client::ConnectOptions::new(
        format!("ws://{}/", c.gateway.local_addr()),
        Some(TOKEN.to_owned()),
        "test",
    );
    hearth_client::Client::connect(opts).await.unwrap()
}

async fn sessions_of(client: &hearth_client::Client, key: &str) -> Vec<SessionInfo> {
    client
        .call::<spec::SessionsList>(SessionsListParams {
            include_archived: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .sessions
        .into_iter()
        .filter(|s| s.key == key)
        .collect()
}

#[tokio::test]
async fn an_idle_session_starts_afresh_and_the_old_one_stays_readable() {
    let c = start_clocked(r#"session: { reset: { mode: "idle", idleMinutes: 30 } }"#).await;
    let client = client_of(&c).await;
    say(&client, "main", "remember the blue door").await;
    c.clock.advance(Duration::from_secs(29 * 60));
    say(&client, "main", "still there?").await;
    assert!(last_prompt(&c.fake).contains("remember the blue door"));
    assert_eq!(sessions_of(&client, "agent:main:main").await.len(), 1);

    c.clock.advance(Duration::from_secs(31 * 60));
    say(&client, "main", "new day").await;
    let prompt = last_prompt(&c.fake);
    assert!(!prompt.contains("remember the blue door"), "{prompt}");
    let sessions = sessions_of(&client, "agent:main:main").await;
    assert_eq!(sessions.len(), 2);
    let old = sessions
        .iter()
        .find(|s| s.archived)
        .expect("the old session");
    assert_eq!(old.message_count, 4, "the old session keeps its messages");
    c.gateway.shutdown().await;
}

#[tokio::test]
async fn a_daily_reset_rolls_over_and_by_type_rules_apply_per_chat_type() {
    // Direct chats roll over daily; groups would reset when idle (not exercised by webchat).
    let c = start_clocked(
        r#"session: { resetByType: { direct: { mode: "daily", atHour: 4 }, group: { mode: "idle", idleMinutes: 1 } } }"#,
    )
    .await;
    let client = client_of(&c).await;
    say(&client, "main", "the code word is heron").await;
    c.clock.advance(Duration::from_secs(60 * 60));
    say(&client, "main", "one hour later").await;
    // An hour can cross 04:00; only the day's count matters below.
    let after_hour = sessions_of(&client, "agent:main:main").await.len();
    c.clock.advance(Duration::from_secs(25 * 60 * 60));
    say(&client, "main", "tomorrow").await;
    assert!(!last_prompt(&c.fake).contains("heron"));
    assert_eq!(
        sessions_of(&client, "agent:main:main").await.len(),
        after_hour + 1
    );
    c.gateway.shutdown().await;
}

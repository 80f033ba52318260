//! Spending caps end to end: a daily cap with `stop` refuses the next run with a clear message
//! and announces itself once (`budget.exceeded`, an audit record); `switch` sends the next
//! request to the cheaper model. Prices come from `models.providers.*.models[].cost`; here a
//! token costs a dollar, so the first run alone passes a small cap.

use std::time::Duration;

use hearth_protocol::events::{ChatState, Event};
use hearth_protocol::methods::{
    AuditSearchParams, BudgetActionKind, BudgetPeriod, ChatSendParams, Empty, spec,
};
use hearth_test_utils::{FakeOpenAi, Reply};

use crate::harness::{TOKEN, TestGateway, chat_final, chat_to_end, start_in};

/// A gateway whose `fake-model` costs a dollar a token and `cheap-model` nothing, with `budgets`.
async fn gateway_with_budgets(budgets: &str) -> TestGateway {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{{
  gateway: {{ port: 0, auth: {{ mode: "token", token: "{TOKEN}" }} }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{
    baseUrl: "{base}", apiKey: "sk-fake", api: "openai-completions",
    models: [
      {{ id: "fake-model", cost: {{ input: 1000000, output: 1000000 }} }},
      {{ id: "cheap-model", cost: {{ input: 0, output: 0 }} }}
    ] }} }} }},
  budgets: {budgets},
}}"#,
        base = fake.base_url()
    );
    std::fs::write(home.path().join("hearth.json"), config).unwrap();
    let gateway = Some(start_in(home.path()).await);
    TestGateway {
        gateway,
        fake,
        home,
    }
}

fn message(text: &str) -> ChatSendParams {
    ChatSendParams {
        message: text.to_owned(),
        ..ChatSendParams::default()
    }
}

#[tokio::test]
async fn a_daily_stop_cap_refuses_the_next_run_and_is_announced_once() {
    let t = gateway_with_budgets(r#"[ { scope: "*", daily: 1, action: "stop" } ]"#).await;
    let client = t.client().await;
    let mut events = client.events();
    t.fake.push(Reply::text("First answer."));
    chat_final(&client, message("hello")).await;

    for attempt in 0..2 {
        let end = chat_to_end(&client, message("and again")).await;
        assert_eq!(end.state, ChatState::Error, "attempt {attempt}");
        let error = end.error.expect("an error");
        assert!(
            error.message.contains("budget for today is used up"),
            "{}",
            error.message
        );
    }
    // The refused runs never reached the model.
    assert_eq!(t.fake.request_count(), 1);

    // Exactly one announcement, however many runs were refused.
    let mut announced = Vec::new();
    loop {
        match events.try_recv() {
            Ok(frame) => {
                if let Ok(Event::BudgetExceeded(b)) = Event::parse(&frame.event, frame.payload) {
                    announced.push(b);
                }
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert_eq!(announced.len(), 1, "{announced:?}");
    let budget = &announced[0];
    assert_eq!(budget.scope, "*");
    assert_eq!(budget.period, BudgetPeriod::Day);
    assert_eq!(budget.action, BudgetActionKind::Stop);
    assert_eq!(budget.limit, 1.0);
    assert!(budget.spent > 1.0, "{}", budget.spent);

    let status = client.call::<spec::BudgetsStatus>(Empty {}).await.unwrap();
    assert_eq!(status.budgets.len(), 1);
    let cap = &status.budgets[0];
    assert!(cap.exceeded);
    assert_eq!(cap.spent, budget.spent);
    assert_eq!(cap.period, BudgetPeriod::Day);

    let records = client
        .call::<spec::AuditSearch>(AuditSearchParams {
            kind: Some("budget".into()),
            ..AuditSearchParams::default()
        })
        .await
        .unwrap();
    assert_eq!(records.entries.len(), 1, "{:?}", records.entries);
    assert_eq!(records.entries[0]["log"], "gateway");
    assert_eq!(records.entries[0]["action"], "stop");
}

#[tokio::test]
async fn a_switch_cap_moves_the_next_request_to_the_cheaper_model() {
    let t = gateway_with_budgets(
        r#"[ { scope: "agent:main", daily: 1, action: "switch", model: "fake/cheap-model" } ]"#,
    )
    .await;
    let client = t.client().await;
    let mut events = client.events();
    t.fake.push(Reply::text("Expensive."));
    t.fake.push(Reply::text("Cheap."));
    let first = chat_final(&client, message("hello")).await;
    assert_eq!(first.model.as_deref(), Some("fake/fake-model"));
    let second = chat_final(&client, message("and again")).await;
    assert_eq!(second.model.as_deref(), Some("fake/cheap-model"));
    let models: Vec<String> = t
        .fake
        .requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(models, ["fake-model", "cheap-model"]);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let budget = loop {
        let frame = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("budget.exceeded in time")
            .unwrap();
        if let Ok(Event::BudgetExceeded(b)) = Event::parse(&frame.event, frame.payload) {
            break b;
        }
    };
    assert_eq!(budget.scope, "agent:main");
    assert_eq!(budget.action, BudgetActionKind::Switch);
    assert_eq!(budget.model.as_deref(), Some("fake/cheap-model"));
    let status = client.call::<spec::BudgetsStatus>(Empty {}).await.unwrap();
    assert!(status.budgets[0].exceeded);
    assert_eq!(status.budgets[0].model.as_deref(), Some("fake/cheap-model"));
}

//! `sessions.*` and `models.list` / `config.*` / `status` over WebSocket.

use hearth_protocol::events::{Event, SessionChange};
use hearth_protocol::methods::*;

use crate::harness::{TestGateway, chat_final, next_event};

async fn chat(client: &hearth_client::Client, key: &str, text: &str) {
    chat_final(
        client,
        ChatSendParams {
            session_key: Some(key.into()),
            message: text.into(),
            ..Default::default()
        },
    )
    .await;
}

#[tokio::test]
async fn list_preview_reset_delete() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let mut events = client.events();
    chat(&client, "work", "plan the week").await;
    let created = next_event(&mut events, |e| match e {
        Event::SessionsChanged(c) if c.reason == SessionChange::Created => Some(c.key),
        _ => None,
    })
    .await;
    assert_eq!(created, "agent:main:work");
    chat(&client, "home", "groceries").await;

    let list = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap();
    let keys: Vec<&str> = list.sessions.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["agent:main:home", "agent:main:work"],
        "newest first"
    );
    let work = list
        .sessions
        .iter()
        .find(|s| s.key == "agent:main:work")
        .unwrap();
    assert_eq!(work.message_count, 2);
    assert_eq!(work.title.as_deref(), Some("plan the week"));
    assert_eq!(work.channel, "webchat");
    assert!(work.usage.input > 0);

    let filtered = client
        .call::<spec::SessionsList>(SessionsListParams {
            search: Some("WEEK".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(filtered.sessions.len(), 1);

    let preview = client
        .call::<spec::SessionsPreview>(SessionsPreviewParams {
            keys: vec!["work".into(), "nope".into()],
            limit: Some(1),
        })
        .await
        .unwrap();
    assert_eq!(preview.previews[0].items.len(), 1);
    assert_eq!(preview.previews[0].items[0].text, "echo: plan the week");
    assert!(!preview.previews[1].found);

    let reset = client
        .call::<spec::SessionsReset>(SessionKeyParams { key: "work".into() })
        .await
        .unwrap();
    let old_id = reset.previous_session_id.unwrap();
    let history = client
        .call::<spec::ChatHistory>(ChatHistoryParams {
            session_key: Some("work".into()),
            limit: None,
        })
        .await
        .unwrap();
    assert!(history.messages.is_empty(), "a reset key starts empty");
    chat(&client, "work", "fresh start").await;
    let all = client
        .call::<spec::SessionsList>(SessionsListParams {
            include_archived: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let archived = all
        .sessions
        .iter()
        .find(|s| s.session_id == old_id)
        .unwrap();
    assert!(archived.archived, "the old session stays readable");
    assert_eq!(archived.message_count, 2);

    let deleted = client
        .call::<spec::SessionsDelete>(SessionKeyParams { key: "work".into() })
        .await
        .unwrap();
    assert_eq!(deleted.deleted, 2);
    let list = client
        .call::<spec::SessionsList>(SessionsListParams {
            include_archived: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list.sessions.len(), 1);
}

#[tokio::test]
async fn status_models_and_config() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let status = client.call::<spec::Status>(Empty {}).await.unwrap();
    assert_eq!(status.default_agent, "main");
    assert_eq!(status.agents[0].model, "fake/fake-model");
    assert_eq!(status.providers[0].id, "fake");
    assert!(status.providers[0].available);
    assert_eq!(status.connections, 1);

    let models = client.call::<spec::ModelsList>(Empty {}).await.unwrap();
    assert_eq!(models.models[0].id, "fake/fake-model");
    assert_eq!(models.models[0].context_window, 128_000);

    let config = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert_eq!(config.hash.len(), 64);
    let text = config.config.to_string();
    assert!(!text.contains("sk-fake"), "secrets are redacted");
    assert!(!text.contains(crate::harness::TOKEN));
    assert_eq!(
        config.config["models"]["providers"]["fake"]["apiKey"],
        "__redacted__"
    );

    let schema = client.call::<spec::ConfigSchema>(Empty {}).await.unwrap();
    assert!(schema.schema["properties"]["gateway"].is_object());
}

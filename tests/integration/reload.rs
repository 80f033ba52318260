//! Hot reload of hearth.json while the gateway runs.

use std::time::Duration;

use hearth_protocol::events::Event;
use hearth_protocol::methods::{Empty, spec};

use crate::harness::{TestGateway, next_event};

#[tokio::test]
async fn live_settings_apply_and_restart_settings_are_reported() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let mut events = client.events();
    let path = t.home.path().join("hearth.json");
    let cfg = std::fs::read_to_string(&path).unwrap();
    let cfg = cfg
        .replace(r#"name: "Fake""#, r#"name: "Fake", reasoning: true"#)
        .replace("port: 0,", "port: 1,");
    std::fs::write(&path, cfg).unwrap();
    let changed = next_event(&mut events, |e| match e {
        Event::ConfigChanged(c) => Some(c),
        _ => None,
    })
    .await;
    assert!(changed.errors.is_empty(), "{:?}", changed.errors);
    assert_eq!(changed.restart_required, vec!["gateway.port".to_owned()]);
    let models = client.call::<spec::ModelsList>(Empty {}).await.unwrap();
    assert!(models.models[0].reasoning, "the live change applied");
    // Still serving on the old port.
    assert!(client.call::<spec::Health>(Empty {}).await.unwrap().ok);
    let config = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    assert_eq!(config.restart_required, vec!["gateway.port".to_owned()]);
}

#[tokio::test]
async fn an_invalid_file_keeps_the_running_config() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let before = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    let mut events = client.events();
    let path = t.home.path().join("hearth.json");
    let cfg = std::fs::read_to_string(&path)
        .unwrap()
        .replace("gateway: {", "gateway: { prot: 1,");
    std::fs::write(&path, cfg).unwrap();
    let changed = next_event(&mut events, |e| match e {
        Event::ConfigChanged(c) => Some(c),
        _ => None,
    })
    .await;
    assert!(
        changed.errors.iter().any(|e| e.contains("gateway.prot")),
        "{:?}",
        changed.errors
    );
    let after = client.call::<spec::ConfigGet>(Empty {}).await.unwrap();
    // The running config is unchanged; `hash` and `raw` are the (invalid) file on disk.
    assert_eq!(before.config, after.config);
    assert_ne!(before.hash, after.hash);
    assert!(after.raw.contains("prot: 1"));
    // Still answering with the old config.
    let mut events = client.events();
    let run = client
        .call::<spec::ChatSend>(hearth_protocol::methods::ChatSendParams {
            message: "still ok?".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    next_event(&mut events, |e| matches!(e, Event::Chat(c) if c.run_id == run.run_id && c.state == hearth_protocol::events::ChatState::Final).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

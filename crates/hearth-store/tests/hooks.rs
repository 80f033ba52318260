//! Webhook calls: recorded queued, run, finished once; those a dead gateway left behind are
//! reported interrupted at the next start; old ones are pruned.

#![allow(clippy::unwrap_used)]

use hearth_protocol::cron::HookStatus;
use hearth_store::{HookRunEnd, Store, StoreError};

fn end(status: HookStatus, ended_at: i64) -> HookRunEnd<'static> {
    HookRunEnd {
        status,
        ended_at,
        run_id: Some("run-1"),
        session_key: Some("agent:main:hook:github:1"),
        output: Some("Pushed 2 commits"),
        error: None,
        delivered_to: Some("telegram:5"),
    }
}

#[tokio::test]
async fn a_call_is_queued_run_and_finished_once() {
    let store = Store::open_memory().await.unwrap();
    let row = store
        .insert_hook_run("h1", "github", "gw-a", 1_000)
        .await
        .unwrap();
    assert_eq!(row.status, HookStatus::Queued);
    assert_eq!(store.hook_run("h1").await.unwrap().unwrap(), row);
    assert!(matches!(
        store.insert_hook_run("h1", "github", "gw-a", 1_001).await,
        Err(StoreError::Conflict(_))
    ));

    assert!(
        store
            .start_hook_run("h1", Some("agent:main:x"))
            .await
            .unwrap()
    );
    assert!(!store.start_hook_run("h1", None).await.unwrap());
    let running = store.hook_run("h1").await.unwrap().unwrap();
    assert_eq!(running.status, HookStatus::Running);
    assert_eq!(running.session_key.as_deref(), Some("agent:main:x"));

    assert!(
        store
            .finish_hook_run("h1", &end(HookStatus::Completed, 2_000))
            .await
            .unwrap()
    );
    let done = store.hook_run("h1").await.unwrap().unwrap();
    assert_eq!(done.status, HookStatus::Completed);
    assert_eq!(done.ended_at, Some(2_000));
    assert_eq!(done.output.as_deref(), Some("Pushed 2 commits"));
    assert_eq!(done.delivered_to.as_deref(), Some("telegram:5"));
    assert_eq!(
        done.session_key.as_deref(),
        Some("agent:main:hook:github:1")
    );
    let view = done.to_run();
    assert_eq!((view.id.as_str(), view.hook.as_str()), ("h1", "github"));
    assert_eq!(view.status, HookStatus::Completed);

    // An ended call stays as it ended.
    assert!(
        !store
            .finish_hook_run("h1", &end(HookStatus::Failed, 3_000))
            .await
            .unwrap()
    );
    assert_eq!(
        store.hook_run("h1").await.unwrap().unwrap().status,
        HookStatus::Completed
    );
    assert!(
        !store
            .finish_hook_run("nope", &end(HookStatus::Failed, 3_000))
            .await
            .unwrap()
    );
    assert!(store.hook_run("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn calls_left_by_a_dead_gateway_are_interrupted_at_start() {
    let store = Store::open_memory().await.unwrap();
    store.insert_hook_run("q", "agent", "old", 1).await.unwrap();
    store.insert_hook_run("r", "wake", "old", 2).await.unwrap();
    store.start_hook_run("r", None).await.unwrap();
    store.insert_hook_run("d", "agent", "old", 3).await.unwrap();
    store
        .finish_hook_run("d", &end(HookStatus::Completed, 4))
        .await
        .unwrap();
    store
        .insert_hook_run("mine", "agent", "new", 5)
        .await
        .unwrap();

    let mut unfinished = store.unfinished_hook_instances().await.unwrap();
    unfinished.sort_unstable();
    assert_eq!(unfinished, ["new", "old"]);
    let interrupted = store.interrupt_hook_runs("old", 10).await.unwrap();
    let mut ids: Vec<&str> = interrupted.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["q", "r"]);
    for id in ["q", "r"] {
        let row = store.hook_run(id).await.unwrap().unwrap();
        assert_eq!(row.status, HookStatus::Interrupted);
        assert_eq!(row.ended_at, Some(10));
        assert!(row.error.unwrap().contains("gateway stopped"));
    }
    assert_eq!(
        store.hook_run("d").await.unwrap().unwrap().status,
        HookStatus::Completed
    );
    assert_eq!(
        store.hook_run("mine").await.unwrap().unwrap().status,
        HookStatus::Queued
    );
    assert!(
        store
            .interrupt_hook_runs("old", 11)
            .await
            .unwrap()
            .is_empty()
    );

    // A gateway that was alive after all still records its run's end.
    assert!(
        store
            .finish_hook_run("r", &end(HookStatus::Completed, 12))
            .await
            .unwrap()
    );
    assert_eq!(
        store.hook_run("r").await.unwrap().unwrap().status,
        HookStatus::Completed
    );
}

#[tokio::test]
async fn pruning_keeps_recent_and_unfinished_calls() {
    let store = Store::open_memory().await.unwrap();
    for i in 0..6_i64 {
        let id = format!("h{i}");
        store
            .insert_hook_run(&id, "agent", "gw", i * 100)
            .await
            .unwrap();
        if i != 0 {
            store
                .finish_hook_run(&id, &end(HookStatus::Completed, i * 100 + 1))
                .await
                .unwrap();
        }
    }
    // h1 is older than the cut-off; h2 falls outside the newest three; h0 is still queued.
    let gone = store.prune_hook_runs(150, 3).await.unwrap();
    assert_eq!(gone, 2);
    let left: Vec<String> = store
        .recent_hook_runs(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, ["h5", "h4", "h3", "h0"]);
    assert_eq!(store.prune_hook_runs(0, 100).await.unwrap(), 0);
}

#[tokio::test]
async fn recent_calls_are_newest_first_and_filtered_by_hook() {
    let store = Store::open_memory().await.unwrap();
    for (id, hook, at) in [
        ("a", "github", 100),
        ("b", "agent", 200),
        ("c", "github", 300),
        ("d", "wake", 300),
        ("e", "github", 400),
    ] {
        store.insert_hook_run(id, hook, "gw", at).await.unwrap();
    }
    let ids = |rows: Vec<hearth_store::HookRunRow>| -> Vec<String> {
        rows.into_iter().map(|r| r.id).collect()
    };
    // Calls received in the same millisecond come newest id first.
    assert_eq!(
        ids(store.recent_hook_runs(None, 10).await.unwrap()),
        ["e", "d", "c", "b", "a"]
    );
    assert_eq!(
        ids(store.recent_hook_runs(None, 2).await.unwrap()),
        ["e", "d"]
    );
    assert_eq!(
        ids(store.recent_hook_runs(Some("github"), 10).await.unwrap()),
        ["e", "c", "a"]
    );
    assert_eq!(
        ids(store.recent_hook_runs(Some("github"), 1).await.unwrap()),
        ["e"]
    );
    assert_eq!(
        ids(store.recent_hook_runs(Some("wake"), 10).await.unwrap()),
        ["d"]
    );
    assert!(
        store
            .recent_hook_runs(Some("nope"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

//! Scheduled jobs' fires: claimed once across two stores on one file, interrupted when their
//! gateway died, never run again after that.

#![allow(clippy::unwrap_used)]

use hearth_store::{Claim, CronJobRow, FireEnd, FireStatus, Store, StoreError};

fn job(id: &str, name: &str) -> CronJobRow {
    CronJobRow {
        id: id.to_owned(),
        name: name.to_owned(),
        spec_json: r#"{"schedule":{"cron":"0 8 * * 1-5"}}"#.to_owned(),
        enabled: true,
        next_at: Some(1_000),
        consecutive_failures: 0,
        created_at: 1,
        updated_at: 1,
    }
}

fn end(status: FireStatus) -> FireEnd<'static> {
    FireEnd {
        status,
        ended_at: 2_000,
        run_id: Some("run-1"),
        input_tokens: 10,
        output_tokens: 5,
        cost: Some(0.01),
        output: Some("Good morning"),
        error: None,
        session_key: Some("cron:briefing:1"),
        delivered_to: Some("telegram:5"),
    }
}

fn claim<'a>(job_id: &'a str, at: i64, instance: &'a str, now: i64, lease: i64) -> Claim<'a> {
    Claim {
        job_id,
        scheduled_at: at,
        instance,
        now,
        lease_until: lease,
        trigger: "schedule",
        seen_next: Some(at),
    }
}

#[tokio::test]
async fn two_gateways_on_one_file_claim_a_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let a = Store::open(&path).await.unwrap();
    let b = Store::open(&path).await.unwrap();
    a.insert_cron_job(&job("j1", "briefing")).await.unwrap();
    for fire in 0..20 {
        let at = 1_000 + fire;
        let (ca, cb) = (
            claim("j1", at, "gw-a", 10, 60_000),
            claim("j1", at, "gw-b", 10, 60_000),
        );
        let (x, y) = tokio::join!(
            a.claim_fire(&ca, Some(at + 1)),
            b.claim_fire(&cb, Some(at + 1)),
        );
        let won = [x.unwrap(), y.unwrap()];
        assert_eq!(won.iter().flatten().count(), 1, "fire {at}: {won:?}");
    }
    // A restart (a new store on the file) does not get it either.
    drop(a);
    let c = Store::open(&path).await.unwrap();
    assert_eq!(
        c.claim_fire(&claim("j1", 1_000, "gw-c", 10, 60_000), None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.fire_history("j1", 100).await.unwrap().len(), 20);
    assert_eq!(
        c.cron_job("briefing").await.unwrap().unwrap().next_at,
        Some(1_020)
    );
}

#[tokio::test]
async fn a_fire_whose_gateway_died_is_interrupted_and_never_rerun() {
    let store = Store::open_memory().await.unwrap();
    store.insert_cron_job(&job("j1", "digest")).await.unwrap();
    let dead = store
        .claim_fire(&claim("j1", 1_000, "gw-dead", 1_000, 5_000), Some(2_000))
        .await
        .unwrap()
        .unwrap();
    let alive = store
        .claim_fire(&claim("j1", 2_000, "gw-alive", 2_000, 5_000), Some(3_000))
        .await
        .unwrap()
        .unwrap();
    store.renew_fire_lease(&alive, 20_000).await.unwrap();
    let interrupted = store.interrupt_expired_fires(10_000).await.unwrap();
    assert_eq!(interrupted.len(), 1);
    assert_eq!(interrupted[0].id, dead);
    assert_eq!(interrupted[0].status, FireStatus::Interrupted);
    assert!(interrupted[0].error.as_deref().unwrap().contains("stopped"));
    assert_eq!(
        store
            .claim_fire(&claim("j1", 1_000, "gw-new", 10_000, 60_000), None)
            .await
            .unwrap(),
        None,
        "an interrupted fire is not run again by claiming it"
    );
    let history = store.fire_history("j1", 10).await.unwrap();
    let statuses: Vec<(i64, FireStatus)> =
        history.iter().map(|f| (f.scheduled_at, f.status)).collect();
    assert_eq!(
        statuses,
        [
            (2_000, FireStatus::Running),
            (1_000, FireStatus::Interrupted)
        ]
    );
}

#[tokio::test]
async fn failures_count_until_a_success_and_skips_are_claims() {
    let store = Store::open_memory().await.unwrap();
    store.insert_cron_job(&job("j1", "check")).await.unwrap();
    let mut counts = Vec::new();
    for (at, status) in [
        (1, FireStatus::Failed),
        (2, FireStatus::Interrupted),
        (3, FireStatus::Failed),
        (4, FireStatus::Completed),
        (5, FireStatus::Failed),
    ] {
        let id = store
            .claim_fire(&claim("j1", at, "gw", 0, 60_000), None)
            .await
            .unwrap()
            .unwrap();
        counts.push(store.finish_fire(&id, &end(status)).await.unwrap());
    }
    assert_eq!(counts, [1, 2, 3, 0, 1]);
    let done = &store.fire_history("j1", 10).await.unwrap()[1];
    assert_eq!(
        (done.status, done.output.as_deref(), done.cost),
        (FireStatus::Completed, Some("Good morning"), Some(0.01))
    );

    let skipped = store.skip_fire("j1", 6, "gw", 10, "missed").await.unwrap();
    assert!(skipped.is_some());
    assert!(
        store
            .skip_fire("j1", 6, "gw", 10, "missed")
            .await
            .unwrap()
            .is_none()
    );
    let row = store.fire(&skipped.unwrap()).await.unwrap().unwrap();
    assert_eq!(row.error.as_deref(), Some("missed"));
    assert_eq!(
        store
            .claim_fire(&claim("j1", 6, "gw", 10, 60_000), None)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.finish_fire("nope", &end(FireStatus::Completed)).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn job_names_are_unique_and_deleting_a_job_drops_its_history() {
    let store = Store::open_memory().await.unwrap();
    store.insert_cron_job(&job("j1", "briefing")).await.unwrap();
    let taken = store
        .insert_cron_job(&job("j2", "briefing"))
        .await
        .unwrap_err();
    assert!(taken.to_string().contains("already exists"), "{taken}");
    let mut edited = job("j1", "morning briefing");
    edited.enabled = false;
    edited.next_at = None;
    assert!(store.update_cron_job(&edited).await.unwrap());
    let found = store.cron_job("j1").await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), found.enabled, found.next_at),
        ("morning briefing", false, None)
    );
    store
        .claim_fire(&claim("j1", 5, "gw", 0, 1), None)
        .await
        .unwrap();
    assert!(store.delete_cron_job("j1").await.unwrap());
    assert!(store.fire_history("j1", 10).await.unwrap().is_empty());
    assert!(store.cron_jobs().await.unwrap().is_empty());
    assert!(!store.delete_cron_job("j1").await.unwrap());
}

#[tokio::test]
async fn an_interrupted_fire_is_taken_back_by_one_gateway_and_recorded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hearth.db")).await.unwrap();
    store.insert_cron_job(&job("j1", "briefing")).await.unwrap();
    let fire = store
        .claim_fire(&claim("j1", 1_000, "gw-dead", 1_000, 5_000), Some(2_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.running_fires().await.unwrap().len(), 1);
    let probe = store.cron_probe().await.unwrap();
    assert_eq!((probe.running_fires, probe.next_due), (1, Some(2_000)));
    assert!(store.interrupt_fire(&fire, 6_000).await.unwrap());
    assert_eq!(store.cron_probe().await.unwrap().running_fires, 0);
    assert!(!store.interrupt_fire(&fire, 6_000).await.unwrap());
    assert!(
        !store
            .reclaim_fire("nope", "gw", 7_000, 9_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .reclaim_fire(&fire, "gw-new", 7_000, 9_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reclaim_fire(&fire, "gw-other", 7_000, 9_000)
            .await
            .unwrap()
    );
    store
        .finish_fire(&fire, &end(FireStatus::Completed))
        .await
        .unwrap();
    let row = store.fire(&fire).await.unwrap().unwrap();
    assert_eq!(row.trigger, "rerun");
    assert_eq!(row.instance, "gw-new");
    assert_eq!(row.session_key.as_deref(), Some("cron:briefing:1"));
    assert_eq!(row.delivered_to.as_deref(), Some("telegram:5"));
    assert_eq!(store.recent_fires(10).await.unwrap()[0].id, fire);
    assert!(store.running_fires().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_edit_made_while_a_fire_is_claimed_keeps_its_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hearth.db")).await.unwrap();
    store.insert_cron_job(&job("j1", "briefing")).await.unwrap();
    // The scheduler read next_at 1000; meanwhile the schedule was edited to fire at 5000.
    let mut edited = job("j1", "briefing");
    edited.next_at = Some(5_000);
    store.update_cron_job(&edited).await.unwrap();
    store
        .claim_fire(&claim("j1", 1_000, "gw", 1_000, 60_000), Some(2_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.cron_job("j1").await.unwrap().unwrap().next_at,
        Some(5_000)
    );
    // Names are one whatever their case.
    let err = store
        .insert_cron_job(&job("j2", "Briefing"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

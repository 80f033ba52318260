//! The scheduler against a real gateway with its clock under the test's control: the seed's
//! three jobs from the sample in the docs fire at their local times over a week, a repeated
//! daylight-saving hour fires once, missed fires follow their job's policy across a restart,
//! and the heartbeat keeps quiet when all is well and outside its active hours.

use std::sync::Arc;
use std::time::Duration;

use hearth_client::Client;
use hearth_core::clock::ManualClock;
use hearth_core::{Gateway, GatewayOptions, RunningGateway, StateDir};
use hearth_protocol::cron::{CronFire, CronJobSpec, FireStatus, FireTrigger};
use hearth_protocol::events::Event;
use hearth_protocol::frame::EventFrame;
use hearth_protocol::methods::*;
use hearth_test_utils::telegram::FakeTelegram;
use hearth_test_utils::{FakeOpenAi, Reply};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use tokio::sync::broadcast;

use crate::harness::{TOKEN, config};

const WAIT: Duration = Duration::from_secs(15);

struct Clocked {
    gateway: Option<RunningGateway>,
    fake: FakeOpenAi,
    clock: Arc<ManualClock>,
    home: tempfile::TempDir,
}

/// The harness's config with `agent_defaults` added to `agents.defaults`.
fn config_with(fake: &FakeOpenAi, agent_defaults: &str, extra: &str) -> String {
    config(fake, extra).replacen(
        r#"agents: { defaults: { model: { primary: "fake/fake-model" } } }"#,
        &format!(
            r#"agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }}, {agent_defaults} }} }}"#
        ),
        1,
    )
}

impl Clocked {
    async fn start(extra: &str, at: i64) -> Self {
        Self::start_with("", extra, at).await
    }

    async fn start_with(agent_defaults: &str, extra: &str, at: i64) -> Self {
        let fake = FakeOpenAi::start().await;
        let home = tempfile::tempdir().unwrap();
        let text = config_with(&fake, agent_defaults, extra);
        assert!(agent_defaults.is_empty() || text.contains(agent_defaults));
        std::fs::write(home.path().join("hearth.json"), text).unwrap();
        let clock = Arc::new(ManualClock::default());
        clock.set(at);
        let mut c = Self {
            gateway: None,
            fake,
            clock,
            home,
        };
        c.boot().await;
        c
    }

    async fn boot(&mut self) {
        let mut opts = GatewayOptions::new(StateDir::new(self.home.path()));
        opts.clock = Some(self.clock.clone());
        self.gateway = Some(Gateway::start(opts).await.unwrap());
    }

    async fn stop(&mut self) {
        if let Some(gw) = self.gateway.take() {
            gw.shutdown().await;
        }
    }

    async fn client(&self) -> Client {
        let addr = self.gateway.as_ref().unwrap().local_addr();
        let opts =
            hearth_client::ConnectOptions::new(format!("ws://{addr}/"), Some(TOKEN.into()), "test");
        Client::connect(opts).await.unwrap()
    }
}

fn berlin(local: &str) -> i64 {
    local
        .parse::<DateTime>()
        .unwrap()
        .to_zoned(TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

fn utc(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// Waits for the fire of `job` scheduled at `at` to end.
async fn ended(events: &mut broadcast::Receiver<EventFrame>, job: &str, at: i64) -> CronFire {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frame = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no end of {job} at {at}"))
            .unwrap();
        if let Ok(Event::Cron(fire)) = Event::parse(&frame.event, frame.payload)
            && fire.job_name == job
            && fire.scheduled_at == at
            && fire.status != FireStatus::Running
        {
            return fire;
        }
    }
}

async fn history(client: &Client, job: &str) -> Vec<CronFire> {
    client
        .call::<spec::CronHistory>(CronHistoryParams {
            id: Some(job.into()),
            limit: Some(100),
        })
        .await
        .unwrap()
        .fires
}

fn sample_jobs() -> Vec<CronJobSpec> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/cron-jobs.json"
    );
    let text = std::fs::read_to_string(path).expect("the sample in the docs");
    let file: CronImportParams = serde_json::from_str(&text).expect("the sample reads");
    file.jobs
}

fn telegram(t: &FakeTelegram) -> String {
    format!(
        r#"channels: {{ telegram: {{ botToken: "{}", apiRoot: "{}", dmPolicy: "open", allowFrom: ["*"], streaming: false }} }},"#,
        t.token(),
        t.url()
    )
}

async fn wait_connected(client: &Client) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        if status
            .channels
            .iter()
            .any(|c| c.channel == "telegram" && c.state == ChannelState::Connected)
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_jobs_fire_at_their_times_over_a_week() {
    let tg = FakeTelegram::start().await;
    // Sunday evening before the week.
    let mut c = Clocked::start(&telegram(&tg), berlin("2026-11-22T20:00")).await;
    let client = c.client().await;
    wait_connected(&client).await;
    let jobs = sample_jobs();
    assert_eq!(jobs.len(), 3);
    let imported = client
        .call::<spec::CronImport>(CronImportParams { jobs })
        .await
        .unwrap();
    assert_eq!(imported.added.len(), 3, "{imported:?}");

    let list = client.call::<spec::CronList>(Empty {}).await.unwrap();
    let next = |name: &str| {
        list.jobs
            .iter()
            .find(|j| j.job.name == name)
            .and_then(|j| j.next_at)
    };
    assert_eq!(next("morning-briefing"), Some(berlin("2026-11-23T08:00")));
    assert_eq!(next("monday-review"), Some(berlin("2026-11-23T09:00")));
    assert_eq!(next("friday-digest"), Some(berlin("2026-11-27T19:00")));

    // The week, in order: every fire the schedules ask for and nothing else.
    let expected = [
        ("morning-briefing", "2026-11-23T08:00"),
        ("monday-review", "2026-11-23T09:00"),
        ("morning-briefing", "2026-11-24T08:00"),
        ("morning-briefing", "2026-11-25T08:00"),
        ("morning-briefing", "2026-11-26T08:00"),
        ("morning-briefing", "2026-11-27T08:00"),
        ("friday-digest", "2026-11-27T19:00"),
    ];
    let mut events = client.events();
    for (i, (job, local)) in expected.iter().enumerate() {
        let at = berlin(local);
        // A minute before: nothing is due yet.
        c.clock.set(at - 60_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            c.fake.request_count(),
            i,
            "nothing ran before {job} at {local}"
        );
        c.fake.push(Reply::text(format!("{job} answer {i}")));
        c.clock.set(at);
        let fire = ended(&mut events, job, at).await;
        assert_eq!(fire.status, FireStatus::Completed, "{fire:?}");
        assert_eq!(fire.trigger, FireTrigger::Schedule);
        assert_eq!(
            fire.output.as_deref(),
            Some(format!("{job} answer {i}").as_str())
        );
        assert_eq!(fire.delivered_to.as_deref(), Some("telegram:123456789"));
        assert!(fire.input_tokens > 0 && fire.cost.is_some(), "{fire:?}");
        let prompt = c.fake.last_request().unwrap().body.to_string();
        let spec = sample_jobs().into_iter().find(|j| j.name == *job).unwrap();
        assert!(prompt.contains(&spec.prompt[..40]), "{job}: {prompt}");
        tg.outbox()
            .wait_for("123456789", i + 1, WAIT)
            .await
            .iter()
            .find(|m| m.text == format!("{job} answer {i}"))
            .unwrap_or_else(|| panic!("{job} delivered"));
    }
    // The weekend passes quietly; Monday begins again.
    c.clock.set(berlin("2026-11-30T07:59"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(c.fake.request_count(), expected.len());
    assert_eq!(history(&client, "morning-briefing").await.len(), 5);
    assert_eq!(history(&client, "friday-digest").await.len(), 1);
    let review = history(&client, "monday-review").await;
    assert_eq!(review.len(), 1);
    // A named session: the review continues one conversation week after week.
    assert_eq!(
        review[0].session_key.as_deref(),
        Some("agent:main:weekly-review")
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_daylight_saving_hour_fires_once_and_a_skipped_one_fires_after_the_jump() {
    // 2027-03-28: Berlin jumps from 02:00 to 03:00; 2027-10-31: from 03:00 back to 02:00.
    let mut c = Clocked::start("", utc("2027-03-27T12:00:00Z")).await;
    let client = c.client().await;
    let job = CronJobSpec {
        name: "night".into(),
        schedule: hearth_protocol::cron::CronSchedule::Cron {
            cron: "30 2 * * *".into(),
        },
        tz: Some("Europe/Berlin".into()),
        ..spec_with("night check")
    };
    client
        .call::<spec::CronAdd>(CronAddParams { job })
        .await
        .unwrap();
    let mut events = client.events();
    c.fake.set_default(Reply::text("checked"));

    // 02:30 does not exist on the 28th: the fire comes at 03:30 local (01:30 UTC).
    c.clock.set(utc("2027-03-27T23:59:00Z"));
    c.clock.set(utc("2027-03-28T01:30:00Z"));
    let fire = ended(&mut events, "night", utc("2027-03-28T01:30:00Z")).await;
    assert_eq!(fire.status, FireStatus::Completed);

    // In autumn 02:30 happens twice: only the first (00:30 UTC) fires.
    c.stop().await;
    c.clock.set(utc("2027-10-30T12:00:00Z"));
    c.boot().await;
    let client = c.client().await;
    let mut events = client.events();
    let first = utc("2027-10-31T00:30:00Z");
    c.clock.set(first);
    ended(&mut events, "night", first).await;
    let before = c.fake.request_count();
    c.clock.set(utc("2027-10-31T01:30:00Z"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.clock.set(utc("2027-10-31T01:31:00Z"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        c.fake.request_count(),
        before,
        "the repeated hour fired again"
    );
    let list = client.call::<spec::CronList>(Empty {}).await.unwrap();
    assert_eq!(
        list.jobs[0].next_at,
        Some(utc("2027-11-01T01:30:00Z")),
        "next: 02:30 CET on Nov 1"
    );
    c.stop().await;
}

fn spec_with(prompt: &str) -> CronJobSpec {
    serde_json::from_value(serde_json::json!({
        "name": "x",
        "schedule": { "every": "1h" },
        "prompt": prompt,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fires_missed_while_the_gateway_was_down_follow_the_jobs_policy() {
    let start = utc("2026-11-23T10:00:00Z");
    let mut c = Clocked::start("", start).await;
    let client = c.client().await;
    for (name, missed) in [("skipper", "skip"), ("catcher", "runOnce")] {
        let job: CronJobSpec = serde_json::from_value(serde_json::json!({
            "name": name,
            "schedule": { "cron": "0 * * * *" },
            "tz": "UTC",
            "prompt": format!("{name} hourly"),
            "missed": missed,
        }))
        .unwrap();
        client
            .call::<spec::CronAdd>(CronAddParams { job })
            .await
            .unwrap();
    }
    drop(client);
    c.stop().await;
    // Down from 10:00 to 15:20: 11:00 to 15:00 were missed (five instants each).
    c.clock.set(utc("2026-11-23T15:20:00Z"));
    c.fake.push(Reply::text("caught up"));
    c.boot().await;
    let client = c.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let catcher = loop {
        let fires = history(&client, "catcher").await;
        if fires.iter().any(|f| f.status == FireStatus::Completed) {
            break fires;
        }
        assert!(tokio::time::Instant::now() < deadline, "{fires:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // runOnce: the latest missed instant ran once; the earlier ones are one skipped record.
    let ran: Vec<_> = catcher
        .iter()
        .filter(|f| f.status == FireStatus::Completed)
        .collect();
    assert_eq!(ran.len(), 1, "{catcher:?}");
    assert_eq!(ran[0].scheduled_at, utc("2026-11-23T15:00:00Z"));
    assert_eq!(ran[0].trigger, FireTrigger::CatchUp);
    assert_eq!(ran[0].output.as_deref(), Some("caught up"));
    let skipped = catcher
        .iter()
        .find(|f| f.status == FireStatus::Skipped)
        .expect("the others recorded");
    assert!(
        skipped
            .error
            .as_deref()
            .unwrap_or("")
            .contains("4 fire(s) missed"),
        "{skipped:?}"
    );
    // skip: nothing ran, the miss is on record.
    let skipper = history(&client, "skipper").await;
    assert_eq!(skipper.len(), 1, "{skipper:?}");
    assert_eq!(skipper[0].status, FireStatus::Skipped);
    assert!(
        skipper[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("5 fire(s) missed")
    );
    assert_eq!(c.fake.request_count(), 1);
    // Both carry on at the next hour.
    let list = client.call::<spec::CronList>(Empty {}).await.unwrap();
    assert!(
        list.jobs
            .iter()
            .all(|j| j.next_at == Some(utc("2026-11-23T16:00:00Z"))),
        "{list:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_quiet_when_all_is_well_and_outside_its_hours() {
    let tg = FakeTelegram::start().await;
    let heartbeat = r#"heartbeat: { every: "30m", target: "telegram:42",
        activeHours: { start: "08:00", end: "22:00", timezone: "Europe/Berlin" } }"#;
    let mut c = Clocked::start_with(heartbeat, &telegram(&tg), berlin("2026-11-23T07:10")).await;
    let workspace = c.home.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("HEARTBEAT.md"),
        "# Heartbeat\n- check the inbox for anything urgent\n",
    )
    .unwrap();
    let client = c.client().await;
    wait_connected(&client).await;
    let mut events = client.events();

    // 07:30 is before the active hours: no model call.
    c.clock.set(berlin("2026-11-23T07:30"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.fake.request_count(), 0);

    // 08:00: all is well; the answer is kept, not delivered.
    c.fake.push(Reply::text("HEARTBEAT_OK"));
    c.clock.set(berlin("2026-11-23T08:00"));
    let quiet = ended(&mut events, "heartbeat", berlin("2026-11-23T08:00")).await;
    assert_eq!(quiet.status, FireStatus::Completed, "{quiet:?}");
    assert_eq!(quiet.output.as_deref(), Some("HEARTBEAT_OK"));
    assert_eq!(quiet.delivered_to, None);
    let prompt = c.fake.last_request().unwrap().body.to_string();
    assert!(
        prompt.contains("check the inbox for anything urgent"),
        "{prompt}"
    );

    // 08:30: something needs the owner; it is delivered.
    c.fake
        .push(Reply::text("Urgent: the landlord wrote about the heating."));
    c.clock.set(berlin("2026-11-23T08:30"));
    let loud = ended(&mut events, "heartbeat", berlin("2026-11-23T08:30")).await;
    assert_eq!(loud.delivered_to.as_deref(), Some("telegram:42"));
    let sent = tg.outbox().wait_for("42", 1, WAIT).await;
    assert_eq!(sent.len(), 1, "only the second heartbeat speaks: {sent:?}");
    assert!(sent[0].text.contains("landlord"));

    // 22:00 and later: outside the hours, nothing runs.
    let before = c.fake.request_count();
    for local in ["2026-11-23T22:00", "2026-11-23T22:30", "2026-11-24T07:30"] {
        c.clock.set(berlin(local));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(c.fake.request_count(), before);
    let list = client.call::<spec::CronList>(Empty {}).await.unwrap();
    let hb = list.heartbeat.expect("heartbeat listed");
    assert_eq!(hb.next_at, Some(berlin("2026-11-24T08:00")));
    // The heartbeat is not one of the jobs.
    assert!(list.jobs.is_empty(), "{:?}", list.jobs);
    c.stop().await;
}

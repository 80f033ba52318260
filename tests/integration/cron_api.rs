//! Scheduled jobs over the WebSocket (`cron.*`) against a real gateway: the round trip of a
//! job, refusals that name every problem, all-or-nothing imports, a job run by hand answered
//! by the fake model, and the agent's own `cron` tool, offered only when the policy allows it.

use std::sync::Arc;
use std::time::Duration;

use hearth_client::{Client, ClientError};
use hearth_core::clock::ManualClock;
use hearth_core::{Gateway, GatewayOptions, StateDir};
use hearth_protocol::cron::{
    CronAddParams, CronEditParams, CronFire, CronHistoryParams, CronIdParams, CronImportParams,
    CronJobSpec, CronSchedule, FireStatus, FireTrigger,
};
use hearth_protocol::frame::ErrorCode;
use hearth_protocol::methods::{ChatSendParams, Empty, spec};
use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply};
use serde_json::{Value, json};

use crate::harness::{TOKEN, TestGateway, chat_final, config};

fn job(name: &str, cron: &str) -> CronJobSpec {
    serde_json::from_value(json!({
        "name": name,
        "schedule": { "cron": cron },
        "tz": "Europe/Berlin",
        "prompt": "Brief me on today's calendar.",
    }))
    .unwrap()
}

fn refused(e: ClientError) -> (ErrorCode, String, Vec<String>) {
    let shape = e.shape().expect("an error response").clone();
    let problems = shape
        .details
        .as_ref()
        .and_then(|d| d.get("problems"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (shape.code, shape.message, problems)
}

async fn names(client: &Client) -> Vec<String> {
    client
        .call::<spec::CronList>(Empty {})
        .await
        .unwrap()
        .jobs
        .into_iter()
        .map(|j| j.job.name)
        .collect()
}

/// Polls the job's history until the fire has ended.
async fn ended(client: &Client, job_id: &str, fire_id: &str) -> CronFire {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let history = client
            .call::<spec::CronHistory>(CronHistoryParams {
                id: Some(job_id.to_owned()),
                limit: None,
            })
            .await
            .unwrap();
        if let Some(fire) = history
            .fires
            .into_iter()
            .find(|f| f.id == fire_id && f.status != FireStatus::Running)
        {
            return fire;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fire did not end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn jobs_are_added_listed_edited_and_removed() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let added = client
        .call::<spec::CronAdd>(CronAddParams {
            job: job("Morning brief", "0 8 * * 1-5"),
        })
        .await
        .unwrap();
    assert_eq!(added.agent_id, "main");
    assert_eq!(added.tz, "Europe/Berlin");
    assert!(added.next_at.is_some() && added.last.is_none());

    let taken = client
        .call::<spec::CronAdd>(CronAddParams {
            job: job("MORNING BRIEF", "0 9 * * *"),
        })
        .await
        .unwrap_err();
    let (code, message, _) = refused(taken);
    assert_eq!(code, ErrorCode::Conflict, "{message}");
    assert!(message.contains("already exists"), "{message}");

    let edited = client
        .call::<spec::CronEdit>(CronEditParams {
            id: "morning brief".to_owned(),
            patch: json!({ "schedule": { "every": "2h" }, "deliver": "telegram:123456", "enabled": false }),
        })
        .await
        .unwrap();
    assert_eq!(edited.id, added.id);
    assert_eq!(
        edited.job.schedule,
        CronSchedule::Every {
            every: "2h".to_owned()
        }
    );
    assert_eq!(edited.job.deliver.as_deref(), Some("telegram:123456"));
    assert_eq!(edited.next_at, None, "disabled");

    let unknown = client
        .call::<spec::CronEdit>(CronEditParams {
            id: added.id.clone(),
            patch: json!({ "colour": "red" }),
        })
        .await
        .unwrap_err();
    let (code, message, _) = refused(unknown);
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("unknown field `colour`"), "{message}");

    let listed = client.call::<spec::CronList>(Empty {}).await.unwrap();
    assert!(listed.enabled);
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].job.prompt, "Brief me on today's calendar.");

    let removed = client
        .call::<spec::CronRemove>(CronIdParams {
            id: "Morning brief".to_owned(),
        })
        .await
        .unwrap();
    assert!(removed.removed);
    assert!(names(&client).await.is_empty());
    let gone = client
        .call::<spec::CronRun>(CronIdParams {
            id: added.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused(gone).0, ErrorCode::NotFound);
}

#[tokio::test]
async fn a_bad_job_is_refused_with_every_problem() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let mut bad = job("Broken", "0 8 * *");
    bad.tz = Some("Mars/Olympus".to_owned());
    bad.agent_id = Some("nobody".to_owned());
    bad.deliver = Some("fax:123".to_owned());
    let (code, message, problems) = refused(
        client
            .call::<spec::CronAdd>(CronAddParams { job: bad })
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("4 problems"), "{message}");
    let fields: Vec<&str> = problems
        .iter()
        .map(|p| p.split(':').next().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["tz", "schedule.cron", "agentId", "deliver"],
        "{problems:#?}"
    );
    assert!(names(&client).await.is_empty());
}

#[tokio::test]
async fn an_import_is_all_or_nothing() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    client
        .call::<spec::CronAdd>(CronAddParams {
            job: job("Friday digest", "0 19 * * FRI"),
        })
        .await
        .unwrap();
    let mut broken = job("Monday review", "0 9 * * MON");
    broken.agent_id = Some("nobody".to_owned());
    let (code, _, problems) = refused(
        client
            .call::<spec::CronImport>(CronImportParams {
                jobs: vec![job("Morning brief", "0 8 * * 1-5"), broken],
            })
            .await
            .unwrap_err(),
    );
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("`Monday review`: agentId"),
        "{problems:?}"
    );
    assert_eq!(names(&client).await, ["Friday digest"], "nothing written");

    let mut digest = job("friday digest", "0 18 * * FRI");
    digest.prompt = "The week in five lines.".to_owned();
    let imported = client
        .call::<spec::CronImport>(CronImportParams {
            jobs: vec![
                job("Morning brief", "0 8 * * 1-5"),
                job("Monday review", "0 9 * * MON"),
                digest,
            ],
        })
        .await
        .unwrap();
    assert_eq!(imported.added, ["Morning brief", "Monday review"]);
    assert_eq!(imported.updated, ["friday digest"]);
    let listed = client.call::<spec::CronList>(Empty {}).await.unwrap();
    let names: Vec<&str> = listed.jobs.iter().map(|j| j.job.name.as_str()).collect();
    assert_eq!(names, ["friday digest", "Monday review", "Morning brief"]);
    assert_eq!(listed.jobs[0].job.prompt, "The week in five lines.");
}

#[tokio::test]
async fn a_job_run_by_hand_is_answered_and_recorded() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let mut disabled = job("Morning brief", "0 8 * * 1-5");
    disabled.enabled = false;
    let added = client
        .call::<spec::CronAdd>(CronAddParams { job: disabled })
        .await
        .unwrap();
    t.fake
        .push(Reply::text("Three meetings today; rain at noon."));
    let started = client
        .call::<spec::CronRun>(CronIdParams {
            id: "morning brief".to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(started.job_id, added.id);
    let fire = ended(&client, &added.id, &started.fire_id).await;
    assert_eq!(fire.status, FireStatus::Completed, "{fire:?}");
    assert_eq!(fire.trigger, FireTrigger::Manual);
    assert_eq!(fire.job_name, "Morning brief");
    assert_eq!(
        fire.output.as_deref(),
        Some("Three meetings today; rain at noon.")
    );
    assert!(fire.input_tokens > 0 && fire.output_tokens > 0, "{fire:?}");
    assert!(fire.cost.is_some_and(|c| c > 0.0), "{fire:?}");
    assert!(fire.duration_ms.is_some() && fire.delivered_to.is_none());
    let prompt = t.fake.last_request().unwrap().body.to_string();
    assert!(prompt.contains("Brief me on today's calendar."), "{prompt}");

    let all = client
        .call::<spec::CronHistory>(CronHistoryParams::default())
        .await
        .unwrap();
    assert_eq!(all.fires.len(), 1);
    assert_eq!(all.fires[0].job_name, "Morning brief");
    let listed = client.call::<spec::CronList>(Empty {}).await.unwrap();
    assert_eq!(
        listed.jobs[0].last.as_ref().map(|f| f.id.as_str()),
        Some(started.fire_id.as_str())
    );
}

#[tokio::test]
async fn next_runs_are_computed_on_the_gateways_clock() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("hearth.json"), config(&fake, "")).unwrap();
    let clock = Arc::new(ManualClock::default());
    // Friday 2026-11-20 10:00 UTC.
    clock.set(1_795_168_800_000);
    let mut opts = GatewayOptions::new(StateDir::new(home.path()));
    opts.clock = Some(clock.clone());
    let gateway = Gateway::start(opts).await.unwrap();
    let client = Client::connect(hearth_client::ConnectOptions::new(
        format!("ws://{}/", gateway.local_addr()),
        Some(TOKEN.to_owned()),
        "test",
    ))
    .await
    .unwrap();
    let mut weekday = job("Morning brief", "0 8 * * 1-5");
    weekday.tz = Some("UTC".to_owned());
    let added = client
        .call::<spec::CronAdd>(CronAddParams { job: weekday })
        .await
        .unwrap();
    // The next weekday 08:00 UTC after Friday 10:00 is Monday.
    assert_eq!(added.next_at, Some(1_795_420_800_000));
    assert_eq!(added.created_at, 1_795_168_800_000);
    let every = client
        .call::<spec::CronEdit>(CronEditParams {
            id: added.id.clone(),
            patch: json!({ "schedule": { "every": "30m" } }),
        })
        .await
        .unwrap();
    assert_eq!(every.next_at, Some(1_795_168_800_000 + 30 * 60_000));
    gateway.shutdown().await;
}

const CRON_CALL: &str = r#"{"action":"add","job":{"name":"Inbox check","schedule":{"every":"30m"},"prompt":"Anything urgent in the inbox?"}}"#;

#[tokio::test]
async fn the_agent_schedules_a_job_when_its_policy_allows() {
    let t = TestGateway::start_with(r#"tools: { allow: ["group:automation"] },"#).await;
    t.fake.push(Reply::tool_calls([FakeToolCall::new(
        "c1", "cron", CRON_CALL,
    )]));
    t.fake.push(Reply::text("Scheduled."));
    let client = t.client().await;
    let answer = chat_final(
        &client,
        ChatSendParams {
            message: "check my inbox every half hour".to_owned(),
            ..ChatSendParams::default()
        },
    )
    .await;
    assert_eq!(answer.plain_text(), "Scheduled.");
    let offered = t.fake.requests()[0].body["tools"].to_string();
    assert!(offered.contains(r#""name":"cron""#), "{offered}");
    let listed = client.call::<spec::CronList>(Empty {}).await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
    let job = &listed.jobs[0];
    assert_eq!(job.job.name, "Inbox check");
    assert_eq!(job.job.agent_id.as_deref(), Some("main"));
    assert!(job.next_at.is_some());
}

#[tokio::test]
async fn the_default_policy_does_not_let_the_agent_schedule() {
    let t = TestGateway::start().await;
    t.fake.push(Reply::tool_calls([FakeToolCall::new(
        "c1", "cron", CRON_CALL,
    )]));
    t.fake.push(Reply::text("I cannot schedule that."));
    let client = t.client().await;
    chat_final(
        &client,
        ChatSendParams {
            message: "check my inbox every half hour".to_owned(),
            ..ChatSendParams::default()
        },
    )
    .await;
    let offered = t.fake.requests()[0].body["tools"].to_string();
    assert!(!offered.contains(r#""name":"cron""#), "{offered}");
    let body = t.fake.last_request().unwrap().body;
    let result = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .unwrap();
    assert!(result.contains("not available"), "{result}");
    assert!(names(&client).await.is_empty());
}

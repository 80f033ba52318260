//! `hearth cron` against a running gateway: a job added, listed, changed, run with `--wait`
//! (the fake model's answer printed), its history shown, removed; a bad job refused with each
//! problem on its own line; a file imported all or nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Gateway, free_port, ok, run, text, write_config};
use hearth_test_utils::{FakeOpenAi, Reply};
use serde_json::Value;

const TOKEN: &str = "cron-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_from_the_command_line() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    write_config(h, port, TOKEN, &fake.base_url(), "");
    let _gateway = Gateway::start(h, port);

    let empty = ok(h, &["cron", "list"]);
    assert!(empty.contains("No scheduled jobs"), "{empty}");

    let added = ok(
        h,
        &[
            "cron",
            "add",
            "Morning brief",
            "--cron",
            "0 8 * * 1-5",
            "--tz",
            "Europe/Berlin",
            "--prompt",
            "Brief me on today's calendar.",
            "--deliver",
            "telegram:123456",
        ],
    );
    assert!(
        added.contains("job `Morning brief` added: next run") && added.contains("(in "),
        "{added}"
    );
    let duplicate = run(
        h,
        &[
            "cron",
            "add",
            "morning brief",
            "--every",
            "1h",
            "--prompt",
            "x",
        ],
    );
    assert!(!duplicate.status.success());
    assert!(
        text(&duplicate).contains("already exists"),
        "{}",
        text(&duplicate)
    );

    let listed = ok(h, &["cron", "list"]);
    assert!(
        listed.contains("NAME") && listed.contains("NEXT RUN"),
        "{listed}"
    );
    let row = listed
        .lines()
        .find(|l| l.starts_with("Morning brief"))
        .unwrap();
    assert!(
        row.contains("cron 0 8 * * 1-5") && row.contains("Europe/Berlin") && row.ends_with("yes"),
        "{row}"
    );

    let edited = ok(
        h,
        &[
            "cron",
            "edit",
            "morning brief",
            "--disable",
            "--no-deliver",
            "--prompt",
            "Only the calendar.",
        ],
    );
    assert!(edited.contains("disabled"), "{edited}");
    let json: Value = serde_json::from_str(&ok(h, &["cron", "list", "--json"])).unwrap();
    let job = &json["jobs"][0];
    assert_eq!(job["job"]["enabled"], false, "{json}");
    assert_eq!(job["job"]["prompt"], "Only the calendar.");
    assert!(job["job"].get("deliver").is_none(), "{json}");

    fake.push(Reply::text("Three meetings today.\nThe first at nine."));
    let ran = ok(h, &["cron", "run", "Morning brief", "--wait"]);
    assert!(
        ran.starts_with("completed in") && ran.contains("tokens"),
        "{ran}"
    );
    assert!(
        ran.contains("Three meetings today.\nThe first at nine."),
        "{ran}"
    );

    let history = ok(h, &["cron", "history", "Morning brief", "-n", "5"]);
    assert!(
        history.contains("STATUS") && history.contains("TOKENS"),
        "{history}"
    );
    let line = history.lines().nth(1).unwrap();
    assert!(
        line.contains("completed") && line.ends_with("Three meetings today."),
        "{line}"
    );
    let all: Value = serde_json::from_str(&ok(h, &["cron", "history", "--json"])).unwrap();
    assert_eq!(all["fires"][0]["jobName"], "Morning brief", "{all}");

    // Every model call fails from here, however often the provider is retried.
    fake.set_default(Reply::unauthorized());
    let failed = run(h, &["cron", "run", "Morning brief", "--wait"]);
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(text(&failed).starts_with("failed"), "{}", text(&failed));

    let removed = ok(h, &["cron", "remove", "Morning brief"]);
    assert!(removed.contains("removed"), "{removed}");
    let missing = run(h, &["cron", "run", "Morning brief"]);
    assert!(!missing.status.success());
    assert!(text(&missing).contains("no job"), "{}", text(&missing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_are_listed_and_imports_are_all_or_nothing() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let port = free_port();
    write_config(h, port, TOKEN, &fake.base_url(), "");
    let _gateway = Gateway::start(h, port);

    let bad = run(
        h,
        &[
            "cron",
            "add",
            "Broken",
            "--cron",
            "0 8 * *",
            "--tz",
            "Mars/Olympus",
            "--agent",
            "nobody",
            "--prompt",
            "x",
        ],
    );
    assert!(!bad.status.success());
    let shown = text(&bad);
    assert!(shown.contains("the job has 3 problems"), "{shown}");
    for field in ["\n  - tz:", "\n  - schedule.cron:", "\n  - agentId:"] {
        assert!(shown.contains(field), "{field}: {shown}");
    }

    let file = h.join("jobs.json");
    std::fs::write(
        &file,
        r#"{"jobs": [
  {"name": "Morning brief", "schedule": {"cron": "0 8 * * 1-5"}, "prompt": "Brief me"},
  {"name": "Friday digest", "schedule": {"cron": "0 19 * * FRI"}, "prompt": "Digest", "deliver": "fax:1"}
]}"#,
    )
    .unwrap();
    let refused = run(h, &["cron", "import", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("`Friday digest`: deliver"),
        "{}",
        text(&refused)
    );
    assert!(ok(h, &["cron", "list"]).contains("No scheduled jobs"));

    std::fs::write(
        &file,
        r#"{"jobs": [
  {"name": "Morning brief", "schedule": {"cron": "0 8 * * 1-5"}, "prompt": "Brief me"},
  {"name": "Friday digest", "schedule": {"cron": "0 19 * * FRI"}, "prompt": "Digest"}
]}"#,
    )
    .unwrap();
    let imported = ok(h, &["cron", "import", file.to_str().unwrap()]);
    assert!(
        imported.contains("2 job(s) added, 0 replaced: Morning brief, Friday digest"),
        "{imported}"
    );
    let again = ok(h, &["cron", "import", file.to_str().unwrap()]);
    assert!(again.contains("0 job(s) added, 2 replaced"), "{again}");

    std::fs::write(&file, r#"{"jobz": []}"#).unwrap();
    let unreadable = run(h, &["cron", "import", file.to_str().unwrap()]);
    assert!(!unreadable.status.success());
    assert!(
        text(&unreadable).contains(r#"the file is {"jobs""#),
        "{}",
        text(&unreadable)
    );
}

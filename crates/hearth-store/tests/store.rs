//! The store's public API against real database files.

use std::path::Path;
use std::sync::Arc;

use hearth_protocol::transcript::{Message, Usage};
use hearth_store::{NewSession, RunRecord, RunStatus, SessionFilter, Store};

fn new_session<'a>(key: &'a str, agent_id: &'a str, channel: &'a str) -> NewSession<'a> {
    NewSession {
        key,
        agent_id,
        channel,
        sender: None,
    }
}

/// Run times well after any session's creation (sessions start at the wall clock).
const T0: i64 = 4_000_000_000_000;

fn run(id: &str, session_id: Option<&str>, input: &str, usage: Usage, at: i64) -> RunRecord {
    RunRecord {
        id: id.to_owned(),
        session_id: session_id.map(str::to_owned),
        session_key: "agent:main:main".to_owned(),
        agent_id: "main".to_owned(),
        channel: Some("webchat".to_owned()),
        model: Some("anthropic/claude".to_owned()),
        status: RunStatus::Completed,
        input: input.to_owned(),
        error: None,
        usage,
        started_at: T0 + at - 10,
        ended_at: T0 + at,
        sender: Some("telegram:42".to_owned()),
        parent_run_id: None,
    }
}

fn usage(input: u64, output: u64, cost: Option<f64>) -> Usage {
    Usage {
        input,
        output,
        cache_read: 1,
        cache_write: 2,
        cost,
    }
}

async fn open(dir: &Path) -> Store {
    Store::open(&dir.join("hearth.db"))
        .await
        .expect("open the store")
}

#[tokio::test]
async fn opening_twice_runs_migrations_once_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (s, created) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    assert!(created);
    store.close().await;

    let store = open(dir.path()).await;
    store.ping().await.unwrap();
    assert_eq!(store.path(), Some(dir.path().join("hearth.db").as_path()));
    let (again, created) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, s.id);
    store.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("hearth.db");
    // A pre-existing world-readable file is tightened too.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let store = Store::open(&path).await.unwrap();
    store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    for file in ["hearth.db", "hearth.db-wal", "hearth.db-shm"] {
        let mode = std::fs::metadata(path.with_file_name(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} has mode {mode:o}");
    }
    store.close().await;
}

#[tokio::test]
async fn wal_and_pragmas_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    assert!(dir.path().join("hearth.db-wal").exists());
    store.close().await;

    // journal_mode=WAL is persistent in the file: a plain connection sees it.
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.path().join("hearth.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn concurrent_ensure_session_creates_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()).await);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .ensure_session(new_session("agent:main:main", "main", "cli"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for t in tasks {
        let (s, c) = t.await.unwrap();
        ids.push(s.id);
        created += usize::from(c);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(store.count_sessions().await.unwrap(), 1);
    store.close().await;
}

#[tokio::test]
async fn commit_turn_writes_transcript_totals_and_title_together() {
    let store = Store::open_memory().await.unwrap();
    let (s, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    assert_eq!(s.title, None);

    let turn1 = [
        Message::user("  What is the weather?  ").at(5),
        Message::assistant("Sunny."),
    ];
    store
        .commit_turn(
            &s.id,
            &run("r1", Some(&s.id), "What", usage(10, 5, Some(0.5)), 1_000),
            &turn1,
        )
        .await
        .unwrap();
    let turn2 = [Message::user("And tomorrow?"), Message::assistant("Rain.")];
    store
        .commit_turn(
            &s.id,
            &run("r2", None, "And", usage(20, 7, None), 2_000),
            &turn2,
        )
        .await
        .unwrap();

    let s = store.get_session(&s.id).await.unwrap().unwrap();
    assert_eq!(s.message_count, 4);
    assert_eq!(
        s.title.as_deref(),
        Some("What is the weather?"),
        "title is set once"
    );
    assert_eq!(s.updated_at, T0 + 2_000);
    assert_eq!((s.usage.input, s.usage.output), (30, 12));
    assert_eq!((s.usage.cache_read, s.usage.cache_write), (2, 4));
    assert_eq!(s.usage.cost, Some(0.5));
    assert_eq!(s.to_info().session_id, s.id);
    assert_eq!(s.to_info().usage, s.usage);

    let all: Vec<Message> = turn1.iter().chain(&turn2).cloned().collect();
    assert_eq!(store.transcript(&s.id, None).await.unwrap(), all);

    let runs = store.runs_for_session(&s.id).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    assert_eq!(
        runs[1].session_id.as_deref(),
        Some(s.id.as_str()),
        "stored under the session"
    );
    assert_eq!(
        store.get_run("r1").await.unwrap().unwrap().usage,
        usage(10, 5, Some(0.5))
    );
}

#[tokio::test]
async fn a_failed_commit_changes_nothing() {
    let store = Store::open_memory().await.unwrap();
    let (s, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    store
        .commit_turn(
            &s.id,
            &run("r1", None, "hi", usage(1, 1, None), 10),
            &[Message::user("hi")],
        )
        .await
        .unwrap();

    // Reusing the run id fails the transaction after nothing else could have been written.
    let err = store
        .commit_turn(
            &s.id,
            &run("r1", None, "again", usage(9, 9, None), 20),
            &[Message::user("again"), Message::assistant("no")],
        )
        .await;
    assert!(err.is_err());
    // A session that does not exist fails as well.
    assert!(
        store
            .commit_turn("nope", &run("r3", None, "x", Usage::default(), 30), &[])
            .await
            .is_err()
    );

    let after = store.get_session(&s.id).await.unwrap().unwrap();
    assert_eq!(after.message_count, 1);
    assert_eq!(after.usage.input, 1);
    assert_eq!(
        store.transcript(&s.id, None).await.unwrap(),
        [Message::user("hi")]
    );
    assert!(store.get_run("r3").await.unwrap().is_none());
}

#[tokio::test]
async fn transcript_limit_returns_the_last_messages_oldest_first() {
    let store = Store::open_memory().await.unwrap();
    let (s, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    for i in 0..5 {
        let msgs = [
            Message::user(format!("q{i}")),
            Message::assistant(format!("a{i}")),
        ];
        store
            .commit_turn(
                &s.id,
                &run(&format!("r{i}"), None, "q", Usage::default(), i),
                &msgs,
            )
            .await
            .unwrap();
    }
    let texts = |msgs: Vec<Message>| msgs.iter().map(Message::plain_text).collect::<Vec<_>>();
    assert_eq!(
        texts(store.transcript(&s.id, Some(3)).await.unwrap()),
        ["a3", "q4", "a4"]
    );
    assert_eq!(store.transcript(&s.id, None).await.unwrap().len(), 10);
    assert_eq!(store.transcript(&s.id, Some(0)).await.unwrap(), []);
    assert_eq!(store.transcript("unknown", Some(3)).await.unwrap(), []);
}

#[tokio::test]
async fn reset_archives_and_the_next_ensure_starts_a_new_session() {
    let store = Store::open_memory().await.unwrap();
    let (old, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    store
        .commit_turn(
            &old.id,
            &run("r1", None, "hi", Usage::default(), 1),
            &[Message::user("hi")],
        )
        .await
        .unwrap();

    assert_eq!(
        store.reset_session("k").await.unwrap().as_deref(),
        Some(old.id.as_str())
    );
    assert_eq!(
        store.reset_session("k").await.unwrap(),
        None,
        "nothing active to reset"
    );
    assert!(store.session_for_key("k").await.unwrap().is_none());
    assert_eq!(store.count_sessions().await.unwrap(), 0);

    let archived = store.get_session(&old.id).await.unwrap().unwrap();
    assert!(archived.archived);
    assert_eq!(
        store.transcript(&old.id, None).await.unwrap(),
        [Message::user("hi")]
    );

    let (new, created) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(new.id, old.id);
    assert_eq!(new.message_count, 0);
}

#[tokio::test]
async fn delete_removes_current_and_archived_sessions_and_detaches_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (a, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    store
        .commit_turn(
            &a.id,
            &run("r1", None, "one", Usage::default(), 1),
            &[Message::user("one")],
        )
        .await
        .unwrap();
    store.reset_session("k").await.unwrap();
    let (b, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    store
        .commit_turn(
            &b.id,
            &run("r2", None, "two", Usage::default(), 2),
            &[Message::user("two")],
        )
        .await
        .unwrap();
    let (other, _) = store
        .ensure_session(new_session("other", "main", "cli"))
        .await
        .unwrap();

    assert_eq!(store.delete_sessions("k").await.unwrap(), 2);
    assert_eq!(store.delete_sessions("k").await.unwrap(), 0);
    assert!(store.get_session(&a.id).await.unwrap().is_none());
    assert!(store.get_session(&b.id).await.unwrap().is_none());
    assert!(store.get_session(&other.id).await.unwrap().is_some());
    assert_eq!(store.transcript(&a.id, None).await.unwrap(), []);
    let left: i64 = {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.path().join("hearth.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(&mut conn)
            .await;
        conn.close().await.unwrap();
        n.unwrap()
    };
    assert_eq!(left, 0, "messages cascade");
    let r2 = store.get_run("r2").await.unwrap().unwrap();
    assert_eq!(r2.session_id, None);
    assert_eq!(r2.input, "two");
    store.close().await;
}

#[tokio::test]
async fn list_filters_and_orders_by_last_update() {
    let store = Store::open_memory().await.unwrap();
    let sessions = [
        ("agent:main:main", "main", "cli", "Planning the Trip"),
        (
            "agent:main:telegram:42",
            "main",
            "telegram",
            "Über groceries",
        ),
        ("agent:work:main", "work", "cli", "Quarterly report"),
    ];
    for (i, (key, agent, channel, title)) in sessions.into_iter().enumerate() {
        let (s, _) = store
            .ensure_session(new_session(key, agent, channel))
            .await
            .unwrap();
        let at = 1_000 * (i64::try_from(i).unwrap() + 1);
        store
            .commit_turn(
                &s.id,
                &run(key, None, title, Usage::default(), at),
                &[Message::user(title)],
            )
            .await
            .unwrap();
    }
    store.reset_session("agent:work:main").await.unwrap();

    let keys = |list: Vec<hearth_store::SessionRecord>| {
        list.into_iter().map(|s| s.key).collect::<Vec<_>>()
    };
    let all = SessionFilter {
        include_archived: true,
        ..SessionFilter::default()
    };
    assert_eq!(
        keys(store.list_sessions(&all).await.unwrap()),
        [
            "agent:work:main",
            "agent:main:telegram:42",
            "agent:main:main"
        ]
    );
    assert_eq!(
        keys(
            store
                .list_sessions(&SessionFilter::default())
                .await
                .unwrap()
        ),
        ["agent:main:telegram:42", "agent:main:main"]
    );
    let by_agent = SessionFilter {
        agent_id: Some("work".into()),
        ..all.clone()
    };
    assert_eq!(
        keys(store.list_sessions(&by_agent).await.unwrap()),
        ["agent:work:main"]
    );
    let by_channel = SessionFilter {
        channel: Some("cli".into()),
        ..SessionFilter::default()
    };
    assert_eq!(
        keys(store.list_sessions(&by_channel).await.unwrap()),
        ["agent:main:main"]
    );
    let search_title = SessionFilter {
        search: Some("TRIP".into()),
        ..SessionFilter::default()
    };
    assert_eq!(
        keys(store.list_sessions(&search_title).await.unwrap()),
        ["agent:main:main"]
    );
    let search_unicode = SessionFilter {
        search: Some("über".into()),
        ..SessionFilter::default()
    };
    assert_eq!(
        keys(store.list_sessions(&search_unicode).await.unwrap()),
        ["agent:main:telegram:42"]
    );
    let search_key = SessionFilter {
        search: Some("MAIN".into()),
        limit: Some(1),
        ..all.clone()
    };
    assert_eq!(
        keys(store.list_sessions(&search_key).await.unwrap()),
        ["agent:work:main"]
    );
    let limited = SessionFilter {
        limit: Some(1),
        ..SessionFilter::default()
    };
    assert_eq!(
        keys(store.list_sessions(&limited).await.unwrap()),
        ["agent:main:telegram:42"]
    );
}

#[tokio::test]
async fn record_run_keeps_a_failed_runs_input() {
    let store = Store::open_memory().await.unwrap();
    let (s, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    let mut failed = run(
        "r1",
        Some(&s.id),
        "please summarise my notes",
        Usage::default(),
        50,
    );
    failed.status = RunStatus::Failed;
    failed.error = Some("provider returned 529".to_owned());
    failed.model = None;
    store.record_run(&failed).await.unwrap();

    let mut stateless = run("r2", None, "one-off question", usage(3, 4, None), 60);
    stateless.status = RunStatus::Aborted;
    store.record_run(&stateless).await.unwrap();

    assert_eq!(store.get_run("r1").await.unwrap().unwrap(), failed);
    assert_eq!(store.get_run("r2").await.unwrap().unwrap(), stateless);
    assert_eq!(store.runs_for_session(&s.id).await.unwrap(), [failed]);
    let s = store.get_session(&s.id).await.unwrap().unwrap();
    assert_eq!(
        s.message_count, 0,
        "a failed run leaves the transcript alone"
    );
    assert_eq!(store.transcript(&s.id, None).await.unwrap(), []);
}

#[tokio::test]
async fn writes_reach_the_database_file_without_waiting_for_close() {
    // Checkpoints run in the background; a second process reading only the main file (the WAL
    // aside) must see a commit within a few seconds, and close() leaves no WAL behind.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (session, _) = store
        .ensure_session(new_session("agent:main:main", "main", "webchat"))
        .await
        .unwrap();
    // Let the checkpoint of the session row pass, so the next one is the commit's.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    store
        .commit_turn(
            &session.id,
            &run("r1", Some(&session.id), "hi", usage(1, 1, None), 1),
            &[Message::user("hi")],
        )
        .await
        .unwrap();
    let wal = dir.path().join("hearth.db-wal");
    let wal_frames = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(wal_frames() > 0, "the commit went to the WAL first");
    let main_mtime = || {
        std::fs::metadata(dir.path().join("hearth.db"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = main_mtime();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while main_mtime() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no background checkpoint within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    store.close().await;
    assert_eq!(wal_frames(), 0, "close() truncates the WAL");
}

#[tokio::test]
async fn concurrent_turns_commit_together_and_a_bad_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut sessions = Vec::new();
    for i in 0..4 {
        let key = format!("agent:main:s{i}");
        let (s, _) = store
            .ensure_session(new_session(&key, "main", "webchat"))
            .await
            .unwrap();
        sessions.push(s.id);
    }
    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = store.clone();
        let sid = sessions[n % 4].clone();
        tasks.push(tokio::spawn(async move {
            let r = run(
                &format!("r{n}"),
                Some(&sid),
                "x",
                usage(1, 1, None),
                n as i64 + 1,
            );
            store
                .commit_turn(
                    &sid,
                    &r,
                    &[
                        Message::user(format!("u{n}")),
                        Message::assistant(format!("a{n}")),
                    ],
                )
                .await
        }));
    }
    // A turn for a session that does not exist fails (foreign key) without failing the others.
    let bad = {
        let store = store.clone();
        tokio::spawn(async move {
            let r = run("bad", Some("no-such-session"), "x", usage(1, 1, None), 99);
            store
                .commit_turn("no-such-session", &r, &[Message::user("lost?")])
                .await
        })
    };
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(bad.await.unwrap().is_err());
    for sid in &sessions {
        let transcript = store.transcript(sid, None).await.unwrap();
        assert_eq!(transcript.len(), 20);
        let record = store.get_session(sid).await.unwrap().unwrap();
        assert_eq!(record.message_count, 20);
        assert_eq!(record.usage.input, 10);
    }
    assert!(store.get_run("bad").await.unwrap().is_none());
}

#[tokio::test]
async fn compaction_context_history_override_and_flush_mark() {
    use hearth_store::{NewCompaction, TranscriptEntry};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (s, _) = store
        .ensure_session(new_session("k", "main", "cli"))
        .await
        .unwrap();
    let msgs: Vec<Message> = (1..=6).map(|i| Message::user(format!("m{i}"))).collect();
    store
        .commit_turn(&s.id, &run("r1", None, "m1", usage(1, 1, None), 0), &msgs)
        .await
        .unwrap();
    assert_eq!(store.last_seq(&s.id).await.unwrap(), 6);
    let before = store.context(&s.id, None).await.unwrap();
    assert!(before.compaction.is_none());
    assert_eq!(before.messages.len(), 6);

    let new = NewCompaction {
        through_seq: 4,
        summary: "first four",
        messages_summarised: 4,
        tokens_before: 100,
        tokens_after: 20,
        model: Some("a/b"),
    };
    store.record_compaction(&s.id, &new).await.unwrap();
    let ctx = store.context(&s.id, Some(200)).await.unwrap();
    assert_eq!(ctx.compaction.as_ref().unwrap().summary, "first four");
    let texts: Vec<String> = ctx.messages.iter().map(Message::plain_text).collect();
    assert_eq!(texts, vec!["m5", "m6"]);
    assert_eq!(ctx.last_seq, 6);

    // The full history keeps every message, the summary right after the last one it covers.
    let entries = store.transcript_entries(&s.id, None).await.unwrap();
    assert_eq!(entries.len(), 7);
    assert!(matches!(&entries[4], TranscriptEntry::Compaction(c) if c.through_seq == 4));
    assert!(matches!(&entries[6], TranscriptEntry::Message(m) if m.plain_text() == "m6"));
    let tail = store.transcript_entries(&s.id, Some(2)).await.unwrap();
    assert_eq!(tail.len(), 2, "a summary before the window is left out");

    assert_eq!(store.model_override(&s.id).await.unwrap(), None);
    assert!(store.set_model_override(&s.id, Some("x/y")).await.unwrap());
    drop(store);
    let store = open(dir.path()).await;
    let again = store.session_for_key("k").await.unwrap().unwrap();
    assert_eq!(again.model_override.as_deref(), Some("x/y"));
    assert!(store.set_model_override(&s.id, None).await.unwrap());
    assert_eq!(store.model_override(&s.id).await.unwrap(), None);

    assert_eq!(store.memory_flushed_seq(&s.id).await.unwrap(), 0);
    store.set_memory_flushed_seq(&s.id, 4).await.unwrap();
    store.set_memory_flushed_seq(&s.id, 2).await.unwrap();
    assert_eq!(
        store.memory_flushed_seq(&s.id).await.unwrap(),
        4,
        "the mark never goes back"
    );

    store.delete_sessions("k").await.unwrap();
    assert!(
        store.compactions(&s.id).await.unwrap().is_empty(),
        "deleted with the session"
    );
}

#[tokio::test]
async fn sessions_filter_by_sender() {
    let store = Store::open_memory().await.unwrap();
    for (key, sender) in [
        ("agent:main:tg:1", Some("alice")),
        ("agent:main:tg:2", Some("bob")),
    ] {
        store
            .ensure_session(NewSession {
                sender,
                ..new_session(key, "main", "telegram")
            })
            .await
            .unwrap();
    }
    let alice = SessionFilter {
        sender: Some("alice".into()),
        ..SessionFilter::default()
    };
    let found = store.list_sessions(&alice).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key, "agent:main:tg:1");
}

#[tokio::test]
async fn recent_runs_and_usage_read_runs_back() {
    let store = Store::open_memory().await.unwrap();
    let (s, _) = store
        .ensure_session(new_session("agent:main:main", "main", "webchat"))
        .await
        .unwrap();
    for (i, cost) in [(1, Some(0.5)), (2, None), (3, Some(0.25))] {
        let r = run(
            &format!("r{i}"),
            None,
            "hi",
            usage(10 * i, i, cost),
            1_000 * i64::try_from(i).unwrap(),
        );
        store
            .commit_turn(&s.id, &r, &[Message::user("hi")])
            .await
            .unwrap();
    }
    let mut stateless = run("r4", None, "api", usage(7, 1, None), 4_000);
    stateless.channel = Some("openai".into());
    stateless.status = RunStatus::Failed;
    store.record_run(&stateless).await.unwrap();

    let recent = store.recent_runs(3).await.unwrap();
    let ids: Vec<&str> = recent.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["r4", "r3", "r2"]);
    assert_eq!(recent[0].status, RunStatus::Failed);
    assert_eq!(recent[0].channel.as_deref(), Some("openai"));
    assert_eq!(recent[1].session_id.as_deref(), Some(s.id.as_str()));

    // [T0 + 1990, T0 + 3990): runs 2 and 3 (started 10 ms before they ended).
    let used = store.usage_between(T0 + 1_990, T0 + 3_990).await.unwrap();
    assert_eq!(used.len(), 2);
    assert_eq!(used[0].usage.input, 20);
    assert_eq!(used[0].usage.cost, None);
    assert_eq!(used[1].usage.cost, Some(0.25));
    assert_eq!(used[1].channel.as_deref(), Some("webchat"));
    assert_eq!(used[1].model.as_deref(), Some("anthropic/claude"));
    assert_eq!(
        store.usage_between(T0 + 5_000, T0 + 6_000).await.unwrap(),
        Vec::new()
    );
}

#[tokio::test]
async fn a_fork_copies_the_messages_up_to_its_point_and_leaves_the_source_alone() {
    let store = Store::open_memory().await.unwrap();
    let (session, _) = store
        .ensure_session(NewSession {
            key: "agent:main:main",
            agent_id: "main",
            channel: "webchat",
            sender: None,
        })
        .await
        .unwrap();
    for (i, text) in ["one", "two"].iter().enumerate() {
        let at = i64::try_from(i).unwrap() * 100 + 100;
        store
            .commit_turn(
                &session.id,
                &run(
                    &format!("r{i}"),
                    Some(&session.id),
                    text,
                    usage(1, 1, None),
                    at,
                ),
                &[
                    Message::user(*text),
                    Message::assistant(format!("re {text}")),
                ],
            )
            .await
            .unwrap();
    }
    let fork = store
        .fork_session(&session.id, Some(3), "agent:main:main:fork:1")
        .await
        .unwrap();
    assert_eq!(fork.parent_id.as_deref(), Some(session.id.as_str()));
    assert_eq!(fork.fork_seq, Some(3));
    assert_eq!(fork.message_count, 3);
    let copied: Vec<String> = store
        .transcript(&fork.id, None)
        .await
        .unwrap()
        .iter()
        .map(Message::plain_text)
        .collect();
    assert_eq!(copied, ["one", "re one", "two"]);
    assert_eq!(store.transcript(&session.id, None).await.unwrap().len(), 4);
    assert_eq!(
        store
            .session_for_key("agent:main:main")
            .await
            .unwrap()
            .unwrap()
            .id,
        session.id
    );
    let runs = store.runs_for_session(&session.id).await.unwrap();
    assert_eq!(runs[0].sender.as_deref(), Some("telegram:42"));

    let taken = store
        .fork_session(&session.id, None, "agent:main:main:fork:1")
        .await
        .unwrap_err();
    assert!(taken.to_string().contains("already in use"), "{taken}");
    let beyond = store
        .fork_session(&session.id, Some(9), "agent:main:x")
        .await
        .unwrap_err();
    assert!(beyond.to_string().contains("1 to 4"), "{beyond}");
}

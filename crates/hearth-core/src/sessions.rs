//! Session keys, per-session serialisation of runs, and the registry of runs in flight.
//!
//! A session key names a conversation (`agent:<agentId>:<rest>`, OpenClaw's shape); the store
//! maps it to the active session id. Runs of one session are serialised by a per-key async mutex
//! (followup order); runs of different sessions go concurrently. What a message arriving during
//! a run does is decided by the queue (`agent::queue`), whose per-session state lives here, as
//! does the bookkeeping of sub-agents (children per run, slots gateway-wide).

use crate::util::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_protocol::transcript::Message;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::agent::queue::SessionQueue;

/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(600);

/// Longest accepted session key.
const MAX_KEY_LEN: usize = 256;

/// Transcripts kept in memory (most recently used sessions).
const CACHED_TRANSCRIPTS: usize = 32;

/// Resolves what a client sent as a session key into a full key.
///
/// Absent means the agent's main session; a full key (`agent:<id>:...`) is kept; anything else is
/// scoped to the agent: `work` becomes `agent:<agent>:work`.
pub fn resolve_key(given: Option<&str>, agent_id: &str, main_key: &str) -> Result<String, String> {
    let given = given.map(str::trim).filter(|s| !s.is_empty());
    let key = match given {
        None => format!("agent:{agent_id}:{main_key}"),
        Some(k) if k.starts_with("agent:") => k.to_owned(),
        Some(k) => format!("agent:{agent_id}:{k}"),
    };
    if key.len() > MAX_KEY_LEN {
        return Err(format!("session key is longer than {MAX_KEY_LEN} bytes"));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("session key must not contain spaces or control characters".to_owned());
    }
    let mut parts = key.splitn(3, ':');
    let (_, agent, rest) = (parts.next(), parts.next(), parts.next());
    if agent.is_none_or(str::is_empty) || rest.is_none_or(str::is_empty) {
        return Err(format!(
            "`{key}` is not a session key: write `agent:<agentId>:<name>` or a short name"
        ));
    }
    Ok(key)
}

/// The agent id inside a full session key.
pub fn agent_of_key(key: &str) -> Option<&str> {
    key.strip_prefix("agent:")
        .and_then(|rest| rest.split(':').next())
}

/// A run in flight.
#[derive(Debug, Clone)]
pub struct ActiveRun {
    pub session_key: String,
    pub cancel: CancellationToken,
}

/// Locks, runs and idempotency keys of the live sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    runs: Mutex<HashMap<String, ActiveRun>>,
    idempotency: Mutex<HashMap<String, (String, Instant)>>,
    ids: Mutex<HashMap<String, String>>,
    transcripts: Mutex<TranscriptCache>,
    /// Session id → its `/model` override, as stored (so a turn need not read it each time).
    overrides: Mutex<HashMap<String, Option<String>>>,
    /// Session key → its queue (`agent::queue`): the run going, the messages waiting, the steer
    /// inbox. An entry lives only while the session has work; the queue removes it when idle.
    queues: Mutex<HashMap<String, SessionQueue>>,
    /// Run id → sub-agents it started (`subagents.maxChildren`); forgotten when the run ends.
    children: Mutex<HashMap<String, u32>>,
    /// Sub-agents running gateway-wide (`subagents.maxConcurrent`).
    subagent_slots: SubagentSlots,
}

/// A semaphore whose size follows the config: grown at once, shrunk as permits come back.
#[derive(Debug)]
struct SubagentSlots {
    semaphore: Arc<Semaphore>,
    capacity: Mutex<usize>,
}

impl Default for SubagentSlots {
    fn default() -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(0)),
            capacity: Mutex::new(0),
        }
    }
}

impl SubagentSlots {
    fn resize(&self, wanted: usize) {
        let mut capacity = lock(&self.capacity);
        if wanted > *capacity {
            self.semaphore.add_permits(wanted - *capacity);
            *capacity = wanted;
        } else if wanted < *capacity {
            // Only free permits can go now; the rest go on a later call, once returned.
            *capacity -= self.semaphore.forget_permits(*capacity - wanted);
        }
    }
}

/// The recent history of the most recently used sessions, so a turn neither re-reads nor
/// re-decodes it from the store. The store stays the truth: an entry is only ever the tail of
/// what was committed, replaced after each committed turn.
#[derive(Debug, Default)]
struct TranscriptCache {
    entries: HashMap<String, Arc<Vec<Message>>>,
    order: VecDeque<String>,
}

impl TranscriptCache {
    fn touch(&mut self, session_id: &str) {
        if let Some(pos) = self.order.iter().position(|id| id == session_id) {
            self.order.remove(pos);
        }
        self.order.push_back(session_id.to_owned());
    }
}

impl Sessions {
    /// The mutex that serialises runs of `key`, and whether a run currently holds it.
    pub fn session_lock(&self, key: &str) -> (Arc<tokio::sync::Mutex<()>>, bool) {
        let mut locks = lock(&self.locks);
        // Forget locks nobody holds or waits for, so the map does not grow with every key ever seen.
        if locks.len() > 256 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        let l = locks.entry(key.to_owned()).or_default().clone();
        let busy = l.try_lock().is_err();
        (l, busy)
    }

    pub fn register_run(&self, run_id: &str, run: ActiveRun) {
        lock(&self.runs).insert(run_id.to_owned(), run);
    }

    pub fn finish_run(&self, run_id: &str) {
        lock(&self.runs).remove(run_id);
        lock(&self.children).remove(run_id);
    }

    pub fn active_runs(&self) -> usize {
        lock(&self.runs).len()
    }

    /// Cancels one run, or every run of a session, with the messages waiting behind it; answers
    /// the ids cancelled.
    pub fn abort(&self, session_key: &str, run_id: Option<&str>) -> Vec<String> {
        let runs = lock(&self.runs);
        let mut out = Vec::new();
        for (id, run) in runs.iter() {
            let matches = match run_id {
                Some(r) => r == id && run.session_key == session_key,
                None => run.session_key == session_key,
            };
            if matches {
                run.cancel.cancel();
                out.push(id.clone());
            }
        }
        drop(runs);
        // Messages queued behind the session's run (`agent::queue`) are dropped too.
        out.extend(crate::agent::queue::cancel_waiting(
            &mut lock(&self.queues),
            session_key,
            run_id,
        ));
        out.sort();
        out
    }

    /// The queues of the sessions that have work (`agent::queue`).
    pub(crate) fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionQueue>> {
        lock(&self.queues)
    }

    /// Counts one more sub-agent of `parent_run_id`; false when it already started `max`.
    pub fn claim_child(&self, parent_run_id: &str, max: u32) -> bool {
        let mut children = lock(&self.children);
        let n = children.entry(parent_run_id.to_owned()).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// A slot for one sub-agent, waiting while `max` of them run gateway-wide.
    pub async fn subagent_slot(&self, max: u32) -> OwnedSemaphorePermit {
        self.subagent_slots
            .resize(usize::try_from(max.max(1)).unwrap_or(usize::MAX));
        loop {
            if let Ok(permit) = self.subagent_slots.semaphore.clone().acquire_owned().await {
                return permit;
            }
        }
    }

    /// Records an idempotency key for a new run; answers the earlier run id if the key was seen.
    pub fn claim_idempotency(&self, key: &str, run_id: &str) -> Option<String> {
        let mut map = lock(&self.idempotency);
        let now = Instant::now();
        map.retain(|_, (_, at)| now.duration_since(*at) < IDEMPOTENCY_TTL);
        if let Some((existing, _)) = map.get(key) {
            return Some(existing.clone());
        }
        map.insert(key.to_owned(), (run_id.to_owned(), now));
        None
    }

    /// The cached active session id of a key.
    pub fn cached_id(&self, key: &str) -> Option<String> {
        lock(&self.ids).get(key).cloned()
    }

    pub fn cache_id(&self, key: &str, id: &str) {
        let mut ids = lock(&self.ids);
        if ids.len() > 4096 {
            ids.clear();
        }
        ids.insert(key.to_owned(), id.to_owned());
    }

    /// Forgets a key's cached id and transcript (after reset or delete).
    pub fn forget(&self, key: &str) {
        if let Some(id) = lock(&self.ids).remove(key) {
            let mut cache = lock(&self.transcripts);
            cache.entries.remove(&id);
            cache.order.retain(|x| *x != id);
        }
    }

    /// A session's `/model` override, if known: `Some(None)` means known to have none.
    pub fn cached_override(&self, session_id: &str) -> Option<Option<String>> {
        lock(&self.overrides).get(session_id).cloned()
    }

    pub fn cache_override(&self, session_id: &str, model: Option<String>) {
        let mut overrides = lock(&self.overrides);
        if overrides.len() > 4096 {
            overrides.clear();
        }
        overrides.insert(session_id.to_owned(), model);
    }

    /// The cached recent history of a session.
    pub fn cached_transcript(&self, session_id: &str) -> Option<Arc<Vec<Message>>> {
        let mut cache = lock(&self.transcripts);
        let hit = cache.entries.get(session_id).cloned();
        if hit.is_some() {
            cache.touch(session_id);
        }
        hit
    }

    /// Replaces a session's cached history with its last `limit` messages.
    pub fn cache_transcript(&self, session_id: &str, mut messages: Vec<Message>, limit: usize) {
        if messages.len() > limit {
            messages.drain(..messages.len() - limit);
        }
        let mut cache = lock(&self.transcripts);
        cache
            .entries
            .insert(session_id.to_owned(), Arc::new(messages));
        cache.touch(session_id);
        while cache.order.len() > CACHED_TRANSCRIPTS {
            if let Some(old) = cache.order.pop_front() {
                cache.entries.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_like_openclaw() {
        assert_eq!(
            resolve_key(None, "main", "main").unwrap(),
            "agent:main:main"
        );
        assert_eq!(
            resolve_key(Some("work"), "main", "main").unwrap(),
            "agent:main:work"
        );
        assert_eq!(
            resolve_key(Some("agent:ops:x"), "main", "main").unwrap(),
            "agent:ops:x"
        );
        assert!(resolve_key(Some("agent:ops"), "main", "main").is_err());
        assert!(resolve_key(Some("a b"), "main", "main").is_err());
        assert_eq!(agent_of_key("agent:ops:x:y"), Some("ops"));
    }

    #[test]
    fn idempotency_keys_answer_the_first_run() {
        let s = Sessions::default();
        assert_eq!(s.claim_idempotency("k", "r1"), None);
        assert_eq!(s.claim_idempotency("k", "r2").as_deref(), Some("r1"));
    }

    #[test]
    fn abort_cancels_only_the_sessions_runs() {
        let s = Sessions::default();
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        s.register_run(
            "r1",
            ActiveRun {
                session_key: "k1".into(),
                cancel: a.clone(),
            },
        );
        s.register_run(
            "r2",
            ActiveRun {
                session_key: "k2".into(),
                cancel: b.clone(),
            },
        );
        assert_eq!(s.abort("k1", None), vec!["r1".to_owned()]);
        assert!(a.is_cancelled() && !b.is_cancelled());
        assert!(s.abort("k1", Some("r2")).is_empty());
    }

    #[test]
    fn transcript_cache_keeps_the_tail_of_recent_sessions() {
        let s = Sessions::default();
        let msgs: Vec<Message> = (0..5).map(|i| Message::user(i.to_string())).collect();
        s.cache_id("k", "id0");
        s.cache_transcript("id0", msgs, 3);
        let cached = s.cached_transcript("id0").unwrap();
        let texts: Vec<String> = cached.iter().map(Message::plain_text).collect();
        assert_eq!(texts, vec!["2", "3", "4"]);
        for i in 1..=CACHED_TRANSCRIPTS {
            s.cache_transcript(&format!("id{i}"), Vec::new(), 3);
        }
        assert!(
            s.cached_transcript("id0").is_none(),
            "least recently used is evicted"
        );
        s.forget("k");
        s.cache_id("k2", "id5");
        s.forget("k2");
        assert!(
            s.cached_transcript("id5").is_none(),
            "forgetting a key drops its transcript"
        );
    }

    #[test]
    fn children_are_counted_per_run_and_forgotten_with_it() {
        let s = Sessions::default();
        assert!(s.claim_child("p", 2) && s.claim_child("p", 2));
        assert!(!s.claim_child("p", 2));
        assert!(s.claim_child("other", 2));
        s.finish_run("p");
        assert!(s.claim_child("p", 2));
    }

    #[tokio::test]
    async fn subagent_slots_follow_the_configured_size() {
        let s = Sessions::default();
        let short = Duration::from_millis(50);
        let a = s.subagent_slot(2).await;
        let b = s.subagent_slot(2).await;
        assert!(
            tokio::time::timeout(short, s.subagent_slot(2))
                .await
                .is_err(),
            "a third waits while two run"
        );
        drop(a);
        assert!(
            tokio::time::timeout(short, s.subagent_slot(1))
                .await
                .is_err(),
            "shrunk to one while one still runs: a newcomer waits"
        );
        drop(b);
        let c = tokio::time::timeout(Duration::from_secs(5), s.subagent_slot(1))
            .await
            .expect("the slot came back");
        assert_eq!(s.subagent_slots.semaphore.available_permits(), 0);
        drop(c);
        let _d = s.subagent_slot(3).await;
        assert_eq!(s.subagent_slots.semaphore.available_permits(), 2);
    }

    #[tokio::test]
    async fn session_lock_reports_busy() {
        let s = Sessions::default();
        let (l, busy) = s.session_lock("k");
        assert!(!busy);
        let _g = l.lock().await;
        assert!(s.session_lock("k").1);
    }
}

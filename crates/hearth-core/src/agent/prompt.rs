//! The system prompt: who the agent is and what day it is, then its workspace files
//! ([`super::workspace`]), then the index of its skills ([`super::skills`]), then the turn's
//! own extra instructions.
//!
//! Kept short on purpose: every byte here is paid on every message (OpenClaw's users complain
//! of a 60 KB prompt per message). Untouched templates and comments cost nothing, files are
//! capped, and skills contribute one line each, never their bodies.
//!
//! It is built on every turn, within the gateway's 2 ms budget, so [`ContextCache`] keeps the
//! files' texts, the skills, and the assembled prompt: a turn with nothing changed costs one
//! `stat` per workspace file and skills directory, and a comparison. The work is synchronous
//! on purpose: a dozen `stat`s are cheaper than a hop to a blocking thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hearth_config::Config;
use jiff::Zoned;

use super::skills::{SkillRegistry, SkillsCache};
use super::workspace::{self, Caps, Stamp, WorkspaceFiles};
use crate::StateDir;
use crate::agents::Agent;

/// The identity lines: name, role, language, date (the local one, which the daily notes use).
fn header(agent: &Agent, now: &Zoned) -> String {
    let emoji = agent
        .identity
        .emoji
        .as_deref()
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    let zone = match now.time_zone().iana_name() {
        Some(name) => name.to_owned(),
        None => format!("UTC{}", now.offset()),
    };
    format!(
        "You are {name}{emoji}, a personal assistant. You run inside Hearth, a gateway on the \
         user's own machine that connects you to the messengers they use. Answer in the \
         language the user writes in; be direct and concise.\nToday is {date} ({zone}).",
        name = agent.name,
        date = now.date(),
    )
}

/// Workspace files, skills and assembled prompts, kept between turns; one per running gateway
/// (`Runtime::context`), keyed by workspace path, agent id and memory directory.
#[derive(Debug, Default)]
pub struct ContextCache {
    agents: Mutex<HashMap<AgentKey, Arc<Mutex<AgentContext>>>>,
    skills: SkillsCache,
    reads: AtomicU64,
    /// How long a built prompt is used without looking at the files again (zero: every turn).
    recheck: std::time::Duration,
}

/// Workspace path, agent id and the conversation's memory directory.
type AgentKey = (PathBuf, String, Option<PathBuf>);

#[derive(Debug, Default)]
struct AgentContext {
    /// Whether seeding the workspace was considered (once per process).
    seeded: bool,
    files: WorkspaceFiles,
    built: Option<Built>,
    /// When the files behind `built` were last checked.
    checked: Option<std::time::Instant>,
}

/// A prompt and everything it was built from.
#[derive(Debug)]
struct Built {
    header: String,
    stamps: Vec<Option<Stamp>>,
    caps: Caps,
    skills: Arc<SkillRegistry>,
    prompt: Arc<str>,
}

impl ContextCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that looks at the workspace files at most once per `recheck`: the gateway's, so
    /// a busy session does not `stat` every file on every message; an edit shows within it.
    pub fn with_recheck(recheck: std::time::Duration) -> Self {
        Self {
            recheck,
            ..Self::default()
        }
    }

    /// Files read from disk so far, workspace files and `SKILL.md`s (for tests: a warm cache
    /// reads none).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed) + self.skills.reads()
    }

    /// `agent`'s skills registry (what `skills.list` shows and the `skill` tool reads).
    pub fn skills(&self, home: &StateDir, config: &Config, agent: &Agent) -> Arc<SkillRegistry> {
        self.skills.registry(home, config, agent)
    }

    /// The system prompt for `agent` at `now`, with `extra` (the turn's own instructions) at
    /// the end. Seeds an empty workspace the first time (unless `skipBootstrap`).
    pub fn system_prompt(
        &self,
        home: &StateDir,
        config: &Config,
        agent: &Agent,
        now: &Zoned,
        extra: Option<&str>,
    ) -> String {
        self.system_prompt_scoped(home, config, agent, now, extra, None)
    }

    /// The system prompt of a turn whose memory is `memory_dir` (relative to the workspace;
    /// `None` for the owner's): `USER.md`, `MEMORY.md` and the daily notes come from there.
    pub fn system_prompt_scoped(
        &self,
        home: &StateDir,
        config: &Config,
        agent: &Agent,
        now: &Zoned,
        extra: Option<&str>,
        memory_dir: Option<&std::path::Path>,
    ) -> String {
        let base = self.base_prompt(home, config, agent, now, memory_dir);
        let extra = extra.map(str::trim).filter(|e| !e.is_empty());
        let mut prompt = String::with_capacity(base.len() + extra.map_or(0, |e| e.len() + 2));
        prompt.push_str(&base);
        if let Some(extra) = extra {
            prompt.push_str("\n\n");
            prompt.push_str(extra);
        }
        prompt
    }

    fn base_prompt(
        &self,
        home: &StateDir,
        config: &Config,
        agent: &Agent,
        now: &Zoned,
        memory_dir: Option<&std::path::Path>,
    ) -> Arc<str> {
        let context = self
            .agents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((
                agent.workspace.clone(),
                agent.id.clone(),
                memory_dir.map(std::path::Path::to_path_buf),
            ))
            .or_default()
            .clone();
        let mut context = context.lock().unwrap_or_else(|p| p.into_inner());
        let defaults = &config.agents.defaults;
        if !context.seeded {
            context.seeded = true;
            if !defaults.skip_bootstrap {
                match workspace::seed(&agent.workspace) {
                    Ok(written) if !written.is_empty() => tracing::info!(
                        agent = %agent.id,
                        workspace = %agent.workspace.display(),
                        files = ?written,
                        "wrote the starter files into the agent's empty workspace"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(
                        agent = %agent.id,
                        workspace = %agent.workspace.display(),
                        error = %e,
                        "could not write the starter workspace files"
                    ),
                }
            }
        }

        let header = header(agent, now);
        if let (Some(built), Some(checked)) = (&context.built, context.checked)
            && checked.elapsed() < self.recheck
            && built.header == header
        {
            return built.prompt.clone();
        }
        context.checked = Some(std::time::Instant::now());
        let names = workspace::prompt_file_names(now.date())
            .into_iter()
            .map(|name| match memory_dir {
                Some(dir) if workspace::is_personal(&name) => {
                    dir.join(&name).to_string_lossy().into_owned()
                }
                _ => name,
            })
            .collect::<Vec<_>>();
        let files = context.files.load(&agent.workspace, &names, &self.reads);
        let stamps: Vec<Option<Stamp>> = files.iter().map(|f| f.stamp).collect();
        let caps = Caps {
            per_file: defaults.bootstrap_max_chars,
            total: defaults.bootstrap_total_max_chars,
        };
        let skills = self.skills.registry(home, config, agent);
        if let Some(built) = &context.built
            && built.header == header
            && built.stamps == stamps
            && built.caps == caps
            && Arc::ptr_eq(&built.skills, &skills)
        {
            return built.prompt.clone();
        }

        let mut prompt = header.clone();
        for section in [
            workspace::render(&agent.workspace, &files, caps),
            skills.prompt_index().map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        {
            prompt.push_str("\n\n");
            prompt.push_str(section.trim_end());
        }
        let prompt: Arc<str> = Arc::from(prompt);
        context.built = Some(Built {
            header,
            stamps,
            caps,
            skills,
            prompt: prompt.clone(),
        });
        prompt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_config::Identity;
    use jiff::tz::TimeZone;

    fn agent(workspace: &std::path::Path) -> Agent {
        Agent {
            id: "main".into(),
            name: "Ember".into(),
            workspace: workspace.to_path_buf(),
            model: Default::default(),
            identity: Identity {
                name: None,
                emoji: Some("🔥".into()),
            },
            queue: Default::default(),
            subagents: vec!["main".into()],
        }
    }

    fn at(ms: i64) -> Zoned {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .to_zoned(TimeZone::UTC)
    }

    fn write(path: &std::path::Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn another_persons_prompt_has_their_memory_and_not_the_owners() {
        let tmp = tempfile::tempdir().unwrap();
        let home = StateDir::new(tmp.path());
        let ws = tmp.path().join("ws");
        write(&ws.join("SOUL.md"), "Be kind.");
        write(&ws.join("USER.md"), "The owner is Sam.");
        write(&ws.join("MEMORY.md"), "Sam's bank is Acme.");
        write(
            &ws.join("people/telegram_42/MEMORY.md"),
            "Alex likes chess.",
        );
        let mut config = Config::default();
        config.agents.defaults.skip_bootstrap = true;
        let cache = ContextCache::new();
        let now = at(1_779_000_000_000);
        let owner = cache.system_prompt(&home, &config, &agent(&ws), &now, None);
        assert!(owner.contains("Sam's bank is Acme.") && owner.contains("The owner is Sam."));
        let alex = cache.system_prompt_scoped(
            &home,
            &config,
            &agent(&ws),
            &now,
            None,
            Some(std::path::Path::new("people/telegram_42")),
        );
        assert!(
            alex.contains("Alex likes chess.") && alex.contains("Be kind."),
            "{alex}"
        );
        assert!(!alex.contains("Acme") && !alex.contains("Sam"), "{alex}");
        // The owner's cached prompt is not disturbed by the other one.
        let again = cache.system_prompt(&home, &config, &agent(&ws), &now, None);
        assert_eq!(again, owner);
    }

    #[test]
    fn prompt_names_the_agent_and_date_and_ends_with_extra() {
        let tmp = tempfile::tempdir().unwrap();
        let home = StateDir::new(tmp.path());
        let mut config = Config::default();
        config.agents.defaults.skip_bootstrap = true;
        let cache = ContextCache::new();
        let p = cache.system_prompt(
            &home,
            &config,
            &agent(&tmp.path().join("ws")),
            &at(1_779_000_000_000),
            Some("Be brief."),
        );
        assert!(p.starts_with("You are Ember 🔥"));
        assert!(p.contains("Today is 2026-05-17 (UTC)"), "{p}");
        assert!(p.ends_with("\n\nBe brief."));
        assert!(!p.contains("# Workspace"), "nothing to show: {p}");
    }

    #[test]
    fn files_come_in_order_with_daily_notes_by_local_date() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        for (name, text) in [
            ("MEMORY.md", "Likes tea."),
            ("SOUL.md", "Warm and dry."),
            ("AGENTS.md", "Write things down."),
            ("USER.md", "<!-- still a template -->"),
            ("TOOLS.md", ""),
            ("memory/2026-05-16.md", "Yesterday: planned a trip."),
            ("memory/2026-05-17.md", "Today: booked it."),
            ("memory/2026-05-15.md", "Too old to load."),
        ] {
            write(&ws.join(name), text);
        }
        let mut config = Config::default();
        config.agents.defaults.skip_bootstrap = true;
        let cache = ContextCache::new();
        // 23:30 at UTC+02 on the 17th is 21:30 UTC; the notes follow the local date.
        let now = jiff::civil::date(2026, 5, 17)
            .at(23, 30, 0, 0)
            .to_zoned(TimeZone::fixed(jiff::tz::offset(2)))
            .unwrap();
        let p = cache.system_prompt(&StateDir::new(tmp.path()), &config, &agent(&ws), &now, None);
        assert!(p.contains("Today is 2026-05-17 (UTC+02"), "{p}");
        let order = [
            "## AGENTS.md\nWrite things down.",
            "## SOUL.md\nWarm and dry.",
            "## MEMORY.md\nLikes tea.",
            "## memory/2026-05-16.md\nYesterday: planned a trip.",
            "## memory/2026-05-17.md\nToday: booked it.",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|s| p.find(s).unwrap_or_else(|| panic!("{s} missing from {p}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{p}");
        for absent in ["USER.md", "TOOLS.md", "Too old", "template"] {
            assert!(!p.contains(absent), "{absent} in {p}");
        }
    }

    #[test]
    fn an_untouched_seeded_workspace_costs_little() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let cache = ContextCache::new();
        let p = cache.system_prompt(
            &StateDir::new(tmp.path()),
            &Config::default(),
            &agent(&ws),
            &at(1_779_000_000_000),
            None,
        );
        assert!(ws.join("HEARTBEAT.md").is_file(), "seeded");
        assert!(
            p.contains("## AGENTS.md") && p.contains("## SOUL.md"),
            "{p}"
        );
        assert!(!p.contains("## USER.md") && !p.contains("<!--"), "{p}");
        assert!(
            p.len() < 2_500,
            "an untouched workspace costs {} bytes",
            p.len()
        );
    }

    #[test]
    fn skip_bootstrap_leaves_the_workspace_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let mut config = Config::default();
        config.agents.defaults.skip_bootstrap = true;
        ContextCache::new().system_prompt(
            &StateDir::new(tmp.path()),
            &config,
            &agent(&ws),
            &at(0),
            None,
        );
        assert!(!ws.join("AGENTS.md").exists());
    }

    #[test]
    fn caps_come_from_the_config() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        write(&ws.join("MEMORY.md"), &"m".repeat(100));
        let mut config = Config::default();
        config.agents.defaults.skip_bootstrap = true;
        config.agents.defaults.bootstrap_max_chars = 40;
        let p = ContextCache::new().system_prompt(
            &StateDir::new(tmp.path()),
            &config,
            &agent(&ws),
            &at(0),
            None,
        );
        assert!(
            p.contains(&format!(
                "{}\n[truncated: 60 more bytes in MEMORY.md]",
                "m".repeat(40)
            )),
            "{p}"
        );
    }

    #[test]
    fn a_warm_cache_reads_nothing_and_reuses_the_prompt() {
        let tmp = tempfile::tempdir().unwrap();
        let home = StateDir::new(tmp.path().join("home"));
        let ws = tmp.path().join("ws");
        write(&ws.join("SOUL.md"), "Warm.");
        write(&ws.join("MEMORY.md"), "Likes tea.");
        write(
            &ws.join("skills/notes/SKILL.md"),
            "---\nname: notes\ndescription: Keep notes.\n---\nBody.\n",
        );
        let config = Config::default();
        let cache = ContextCache::new();
        let agent = agent(&ws);
        let now = at(1_779_000_000_000);
        let first = cache.system_prompt(&home, &config, &agent, &now, None);
        let reads = cache.reads();
        assert!(
            reads >= 3,
            "SOUL.md, MEMORY.md, SKILL.md and the seeded-or-not files: {reads}"
        );
        let base = cache.base_prompt(&home, &config, &agent, &now, None);
        for _ in 0..1000 {
            let again = cache.base_prompt(&home, &config, &agent, &now, None);
            assert!(Arc::ptr_eq(&again, &base), "the prompt was rebuilt");
        }
        assert_eq!(cache.reads(), reads, "a warm cache read files again");
        assert_eq!(
            cache.system_prompt(&home, &config, &agent, &now, None),
            first
        );

        // A changed file is read again, and only that one.
        write(&ws.join("MEMORY.md"), "Likes coffee now.");
        let changed = cache.system_prompt(&home, &config, &agent, &now, None);
        assert!(changed.contains("Likes coffee now."));
        assert_eq!(cache.reads(), reads + 1);
    }
}

//! Skills in the AgentSkills format: a folder with a `SKILL.md` (YAML frontmatter with `name`
//! and `description`, then Markdown instructions) and any scripts or references it mentions.
//!
//! Skills are found in `<workspace>/skills/*/SKILL.md`, then `$HEARTH_HOME/skills/*/SKILL.md`,
//! then each of `skills.load.extraDirs`; a name found again later is shadowed. Only a skill's
//! name, description and location go into the system prompt ([`SkillRegistry::prompt_index`]);
//! the model reads the rest on demand with [`SkillRegistry::read_skill`] (progressive
//! disclosure), so a dozen installed skills cost a few hundred bytes per message, not their
//! bodies.
//!
//! A skill whose requirements are not met here (`metadata.openclaw.requires.bins` not on
//! `PATH`, `requires.env` not set, `os` not this one), or that the config disables, is listed
//! with the reason and left out of the prompt. A `SKILL.md` that cannot be read is reported
//! with its path and line ([`SkillIssue`]); the other skills load regardless.
//!
//! YAML is parsed with `serde-saphyr` rather than `yaml-rust2`: skills are third-party
//! content, and serde-saphyr enforces a budget on aliases, nesting and size (a "billion laughs"
//! frontmatter fails instead of eating memory), reports errors with line numbers, never panics
//! on bad input, and deserializes straight into typed structs, so no hand-walking of a YAML tree.
//!
//! [`SkillsCache`] keeps what was loaded: a turn costs one `stat` per skills directory; the
//! directories are rescanned when their modification time changes or every few seconds (to
//! see edits inside a skill's folder), and only `SKILL.md` files whose modification time or
//! length changed are read again.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hearth_config::{Config, SkillsConfig};
use hearth_protocol::methods::{SkillInfo, SkillLoadError, SkillsListResult};
use serde::Deserialize;

use super::workspace::Stamp;
use crate::StateDir;
use crate::agents::Agent;

/// The file that makes a folder a skill.
pub const SKILL_FILE: &str = "SKILL.md";

/// Largest file [`SkillRegistry::read_skill`] answers, and largest `SKILL.md` loaded.
pub const MAX_SKILL_FILE_BYTES: u64 = 256 * 1024;

/// How long a scan of a skills directory is trusted when the directory itself did not change
/// (edits inside a skill's folder do not touch its parent's modification time).
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(5);

/// A description longer than this is cut in the prompt (AgentSkills' own limit).
const MAX_DESCRIPTION_BYTES: usize = 1024;

/// Why a skill or a file of it could not be read for the model.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    #[error("no skill named `{0}`")]
    NotFound(String),
    #[error("the skill `{name}` is not available: {reason}")]
    Unavailable { name: String, reason: String },
    #[error("`{0}` is not a file inside the skill's folder (use a relative path without `..`)")]
    BadPath(String),
    #[error("`{path}` is {size} bytes; files larger than {max} bytes are not read")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("`{0}` is not UTF-8 text")]
    NotText(String),
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where a skills directory comes from, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkillOrigin {
    /// `<workspace>/skills`.
    Workspace,
    /// `$HEARTH_HOME/skills`.
    Home,
    /// One of `skills.load.extraDirs`.
    Extra,
}

/// A directory of skill folders.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SkillRoot {
    pub dir: PathBuf,
    pub origin: SkillOrigin,
}

/// The skills directories of an agent, highest precedence first.
pub fn skill_roots(home: &StateDir, config: &Config, workspace: &Path) -> Vec<SkillRoot> {
    let mut roots = vec![
        SkillRoot {
            dir: workspace.join("skills"),
            origin: SkillOrigin::Workspace,
        },
        SkillRoot {
            dir: home.root().join("skills"),
            origin: SkillOrigin::Home,
        },
    ];
    for dir in &config.skills.load.extra_dirs {
        let dir = expand_home(dir);
        if !roots.iter().any(|r| r.dir == dir) {
            roots.push(SkillRoot {
                dir,
                origin: SkillOrigin::Extra,
            });
        }
    }
    roots
}

fn expand_home(path: &str) -> PathBuf {
    let home = || std::env::home_dir().unwrap_or_default();
    if path == "~" {
        home()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home().join(rest)
    } else {
        PathBuf::from(path)
    }
}

/// What a skill needs from the machine (`metadata.openclaw` in its frontmatter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Programs that must be on `PATH`.
    pub bins: Vec<String>,
    /// Environment variables that must be set (here or in `skills.entries.<name>.env`).
    pub env: Vec<String>,
    /// Operating systems it runs on (`darwin`, `linux`, `win32`); empty means any.
    pub os: Vec<String>,
}

/// One parsed `SKILL.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// The skill's folder.
    pub dir: PathBuf,
    /// Its `SKILL.md`.
    pub path: PathBuf,
    /// The skills directory it was found in.
    pub root: SkillRoot,
    pub requires: Requirements,
}

/// A `SKILL.md` that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillIssue {
    pub path: PathBuf,
    /// 1-based line in the file, when known.
    pub line: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for SkillIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A skill and whether this agent may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillStatus {
    pub skill: Arc<Skill>,
    /// Why the skill is not offered; `None` when it is.
    pub unavailable: Option<String>,
}

impl SkillStatus {
    pub fn available(&self) -> bool {
        self.unavailable.is_none()
    }
}

// ---------------------------------------------------------------------------------------------
// parsing

#[derive(Debug, Deserialize)]
struct Frontmatter {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    openclaw: Option<OpenclawMetadata>,
}

#[derive(Debug, Default, Deserialize)]
struct OpenclawMetadata {
    #[serde(default)]
    requires: Option<RequiresMetadata>,
    #[serde(default)]
    os: Option<OneOrMany>,
}

#[derive(Debug, Default, Deserialize)]
struct RequiresMetadata {
    #[serde(default)]
    bins: Option<OneOrMany>,
    #[serde(default)]
    env: Option<OneOrMany>,
}

/// Hand-written skills say `bins: jq` as often as `bins: [jq]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(this: Option<Self>) -> Vec<String> {
        match this {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s],
            Some(OneOrMany::Many(v)) => v,
        }
    }
}

/// A `SKILL.md` split into its frontmatter and body.
struct Split<'a> {
    yaml: &'a str,
    body: &'a str,
}

/// Finds the frontmatter: the file opens with a `---` line and the YAML runs to the next
/// `---` line. The YAML starts on line 2 of the file.
fn split_frontmatter(text: &str) -> Option<Split<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_end = text.find('\n')?;
    if text[..first_end].trim_end() != "---" {
        return None;
    }
    let rest = &text[first_end + 1..];
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Some(Split {
                yaml: &rest[..offset],
                body: &rest[offset + line.len()..],
            });
        }
        offset += line.len();
    }
    None
}

/// The body of a `SKILL.md`: everything after its frontmatter.
pub fn skill_body(text: &str) -> &str {
    split_frontmatter(text).map_or(text, |s| s.body.trim_start_matches(['\r', '\n']))
}

/// Whether `name` is a valid skill name: 1 to 64 of `a-z`, `0-9` and `-`.
pub fn valid_skill_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses one `SKILL.md`.
pub fn parse_skill(path: &Path, text: &str, root: &SkillRoot) -> Result<Skill, SkillIssue> {
    let issue = |line: Option<u32>, message: String| SkillIssue {
        path: path.to_path_buf(),
        line,
        message,
    };
    let split = split_frontmatter(text).ok_or_else(|| {
        issue(
            Some(1),
            "no YAML frontmatter: the file must start with a `---` line, then `name:` and \
             `description:`, then a closing `---` line"
                .to_owned(),
        )
    })?;
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_aliases: 64,
            max_anchors: 64,
            max_depth: 32,
            max_nodes: 10_000,
        },
    };
    let front: Frontmatter = if split.yaml.trim().is_empty() {
        Frontmatter {
            name: None,
            description: None,
            metadata: None,
        }
    } else {
        serde_saphyr::from_str_with_options(split.yaml, options).map_err(|e| {
            // The YAML starts on the file's second line.
            let line = e
                .location()
                .and_then(|l| u32::try_from(l.line()).ok())
                .filter(|l| *l > 0)
                .map(|l| l + 1);
            issue(line, yaml_message(&e))
        })?
    };
    let key_line = |key: &str| {
        split
            .yaml
            .lines()
            .position(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
            .and_then(|i| u32::try_from(i + 2).ok())
    };
    let name = front
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| issue(Some(1), "the frontmatter has no `name`".to_owned()))?;
    if !valid_skill_name(&name) {
        return Err(issue(
            key_line("name"),
            format!(
                "invalid name `{name}`: use 1 to 64 lowercase letters, digits and `-`, e.g. `pdf-tools`"
            ),
        ));
    }
    let description = front
        .description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| issue(Some(1), "the frontmatter has no `description`".to_owned()))?;
    let openclaw = front.metadata.and_then(|m| m.openclaw).unwrap_or_default();
    let requires = openclaw.requires.unwrap_or_default();
    Ok(Skill {
        name,
        description,
        dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        path: path.to_path_buf(),
        root: root.clone(),
        requires: Requirements {
            bins: OneOrMany::into_vec(requires.bins),
            env: OneOrMany::into_vec(requires.env),
            os: OneOrMany::into_vec(openclaw.os),
        },
    })
}

/// serde-saphyr's message, without its source snippet; positions it mentions (for aliases)
/// are shifted to the file's lines.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
        line_offset: 1,
    });
    format!("invalid YAML frontmatter: {}", text.trim())
}

// ---------------------------------------------------------------------------------------------
// requirements

/// The name this OS has in skills' `os` lists (Node's `process.platform`).
pub fn current_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    }
}

fn on_path(bin: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(bin)))
        || (cfg!(windows)
            && std::env::split_paths(&path)
                .any(|dir| is_executable(&dir.join(format!("{bin}.exe")))))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Why `skill` cannot be offered, checked in the order a user would fix things.
fn unavailable_reason(
    skill: &Skill,
    config: &SkillsConfig,
    agent: Option<(&str, &[String])>,
) -> Option<String> {
    let entry = config.entries.get(&skill.name);
    if entry.is_some_and(|e| !e.enabled) {
        return Some(format!(
            "disabled (skills.entries.{}.enabled is false)",
            skill.name
        ));
    }
    if let Some((agent_id, allowed)) = agent
        && !allowed.iter().any(|n| n == &skill.name)
    {
        return Some(format!(
            "not in the skills list of agent `{agent_id}` (agents.list[].skills)"
        ));
    }
    let os = current_os();
    if !skill.requires.os.is_empty() && !skill.requires.os.iter().any(|o| o == os) {
        return Some(format!(
            "runs on {} only (this is {os})",
            skill.requires.os.join(", ")
        ));
    }
    let missing_bins: Vec<&str> = skill
        .requires
        .bins
        .iter()
        .filter(|b| !on_path(b))
        .map(String::as_str)
        .collect();
    if !missing_bins.is_empty() {
        return Some(format!(
            "needs {} on PATH (not found)",
            missing_bins.join(", ")
        ));
    }
    let missing_env: Vec<&str> = skill
        .requires
        .env
        .iter()
        .filter(|k| {
            std::env::var_os(k.as_str()).is_none_or(|v| v.is_empty())
                && entry.is_none_or(|e| e.env.get(k.as_str()).is_none_or(|v| v.is_empty()))
        })
        .map(String::as_str)
        .collect();
    if !missing_env.is_empty() {
        return Some(format!(
            "needs the environment variable{} {} (set {} or add skills.entries.{}.env)",
            if missing_env.len() > 1 { "s" } else { "" },
            missing_env.join(", "),
            if missing_env.len() > 1 { "them" } else { "it" },
            skill.name
        ));
    }
    None
}

// ---------------------------------------------------------------------------------------------
// scanning

/// One `SKILL.md` found in a skills directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScanEntry {
    path: PathBuf,
    stamp: Stamp,
    parsed: Result<Arc<Skill>, SkillIssue>,
}

/// Reads and parses the `SKILL.md` files of one skills directory, reusing `previous` entries
/// whose file did not change. Counts files read in `reads`.
fn scan_root(root: &SkillRoot, previous: &[ScanEntry], reads: &AtomicU64) -> Vec<ScanEntry> {
    let Ok(dir) = std::fs::read_dir(&root.dir) else {
        return Vec::new();
    };
    let mut folders: Vec<PathBuf> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    folders.sort();
    let mut entries = Vec::new();
    for folder in folders {
        let path = folder.join(SKILL_FILE);
        // Follows symlinks: an installed skill is often a link to a checkout elsewhere.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let stamp = Stamp::of(&meta);
        if let Some(old) = previous.iter().find(|e| e.path == path && e.stamp == stamp) {
            entries.push(old.clone());
            continue;
        }
        reads.fetch_add(1, Ordering::Relaxed);
        let parsed = read_capped(&path, MAX_SKILL_FILE_BYTES)
            .map_err(|e| SkillIssue {
                path: path.clone(),
                line: None,
                message: e.to_string(),
            })
            .and_then(|text| parse_skill(&path, &text, root))
            .map(Arc::new);
        entries.push(ScanEntry {
            path,
            stamp,
            parsed,
        });
    }
    entries
}

fn read_capped(path: &Path, max: u64) -> Result<String, SkillError> {
    let shown = path.display().to_string();
    let io = |source| SkillError::Io {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > max {
        return Err(SkillError::TooLarge {
            path: shown,
            size,
            max,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(SkillError::TooLarge {
            path: shown,
            size: bytes.len() as u64,
            max,
        });
    }
    String::from_utf8(bytes).map_err(|_| SkillError::NotText(shown))
}

// ---------------------------------------------------------------------------------------------
// the registry

/// The skills one agent sees: every skill found, whether it may use it, and the files that
/// could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRegistry {
    skills: Vec<SkillStatus>,
    errors: Vec<SkillIssue>,
    index: Option<String>,
}

impl SkillRegistry {
    /// Loads the skills of `roots` from disk, without any cache (the CLI's way).
    pub fn load(
        roots: &[SkillRoot],
        config: &SkillsConfig,
        agent: Option<(&str, &[String])>,
    ) -> Self {
        let reads = AtomicU64::new(0);
        let scans: Vec<Vec<ScanEntry>> = roots.iter().map(|r| scan_root(r, &[], &reads)).collect();
        Self::build(scans.iter().flatten(), config, agent)
    }

    fn build<'e>(
        entries: impl Iterator<Item = &'e ScanEntry>,
        config: &SkillsConfig,
        agent: Option<(&str, &[String])>,
    ) -> Self {
        let mut skills: Vec<SkillStatus> = Vec::new();
        let mut errors = Vec::new();
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for entry in entries {
            match &entry.parsed {
                Err(issue) => errors.push(issue.clone()),
                Ok(skill) => {
                    let unavailable = match seen.get(&skill.name) {
                        Some(first) => Some(format!(
                            "shadowed by {} (the same name found earlier)",
                            first.display()
                        )),
                        None => {
                            seen.insert(skill.name.clone(), skill.path.clone());
                            unavailable_reason(skill, config, agent)
                        }
                    };
                    skills.push(SkillStatus {
                        skill: skill.clone(),
                        unavailable,
                    });
                }
            }
        }
        let index = prompt_index(&skills);
        Self {
            skills,
            errors,
            index,
        }
    }

    /// Every skill found, in precedence order, shadowed ones included.
    pub fn skills(&self) -> &[SkillStatus] {
        &self.skills
    }

    /// The skills this agent may use.
    pub fn available(&self) -> impl Iterator<Item = &Skill> {
        self.skills
            .iter()
            .filter(|s| s.available())
            .map(|s| s.skill.as_ref())
    }

    /// `SKILL.md` files that could not be loaded.
    pub fn errors(&self) -> &[SkillIssue] {
        &self.errors
    }

    /// The system prompt's skills section; `None` when no skill is available.
    pub fn prompt_index(&self) -> Option<&str> {
        self.index.as_deref()
    }

    /// The body of an available skill's `SKILL.md` (without its frontmatter), or with `file`,
    /// a file inside the skill's folder, such as `references/api.md`.
    pub fn read_skill(&self, name: &str, file: Option<&str>) -> Result<String, SkillError> {
        let status = self
            .skills
            .iter()
            // The first of a name is the one that counts; later ones are shadowed by it.
            .find(|s| s.skill.name == name)
            .ok_or_else(|| SkillError::NotFound(name.to_owned()))?;
        if let Some(reason) = &status.unavailable {
            return Err(SkillError::Unavailable {
                name: name.to_owned(),
                reason: reason.clone(),
            });
        }
        let skill = &status.skill;
        match file.map(str::trim).filter(|f| !f.is_empty()) {
            None => {
                let text = read_capped(&skill.path, MAX_SKILL_FILE_BYTES)?;
                Ok(skill_body(&text).to_owned())
            }
            Some(file) => {
                let path = resolve_inside(&skill.dir, file)?;
                read_capped(&path, MAX_SKILL_FILE_BYTES)
            }
        }
    }

    /// The registry in the shape of `skills.list`.
    pub fn list_result(&self) -> SkillsListResult {
        SkillsListResult {
            skills: self
                .skills
                .iter()
                .map(|s| SkillInfo {
                    name: s.skill.name.clone(),
                    description: s.skill.description.clone(),
                    source: s.skill.root.dir.display().to_string(),
                    path: s.skill.path.display().to_string(),
                    available: s.available(),
                    reason: s.unavailable.clone(),
                })
                .collect(),
            errors: self
                .errors
                .iter()
                .map(|e| SkillLoadError {
                    path: e.path.display().to_string(),
                    line: e.line,
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

/// `file` under `dir`, refusing anything that leaves it: absolute paths, `..`, and symlinks
/// that point outside.
fn resolve_inside(dir: &Path, file: &str) -> Result<PathBuf, SkillError> {
    let bad = || SkillError::BadPath(file.to_owned());
    let relative = Path::new(file);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad());
    }
    let base = dir.canonicalize().map_err(|source| SkillError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let target = base.join(relative).canonicalize().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SkillError::Io {
                path: file.to_owned(),
                source,
            }
        } else {
            bad()
        }
    })?;
    if !target.starts_with(&base) || !target.is_file() {
        return Err(bad());
    }
    Ok(target)
}

/// The prompt's skills section: one line per available skill.
fn prompt_index(skills: &[SkillStatus]) -> Option<String> {
    let mut available = skills.iter().filter(|s| s.available()).peekable();
    available.peek()?;
    let mut out = String::from(
        "# Skills\nSkills hold instructions for particular tasks. When a task matches a skill's \
         description, first read the skill with the `skill` tool (its name; `file` for a file \
         its instructions mention), then follow it. Read only the skill you need.\n",
    );
    for s in available {
        let description = s.skill.description.replace(['\n', '\r'], " ");
        let description = crate::util::truncate_chars(&description, MAX_DESCRIPTION_BYTES);
        let _ = writeln!(
            out,
            "- {}: {} ({})",
            s.skill.name,
            description,
            s.skill.path.display()
        );
    }
    Some(out)
}

/// The `agents.list[].skills` filter of an agent, with its id.
pub fn agent_filter<'c>(config: &'c Config, agent_id: &str) -> Option<&'c [String]> {
    config
        .agents
        .list
        .iter()
        .find(|a| a.id == agent_id)
        .and_then(|a| a.skills.as_deref())
}

/// Loads `agent`'s skills from disk, without any cache (for the CLI).
pub fn load_for_agent(home: &StateDir, config: &Config, agent: &Agent) -> SkillRegistry {
    let roots = skill_roots(home, config, &agent.workspace);
    let filter = agent_filter(config, &agent.id).map(|f| (agent.id.as_str(), f));
    SkillRegistry::load(&roots, &config.skills, filter)
}

// ---------------------------------------------------------------------------------------------
// the cache

/// Scans of skills directories and the registries built from them, kept across turns.
#[derive(Debug, Default)]
pub struct SkillsCache {
    roots: Mutex<HashMap<PathBuf, RootSlot>>,
    registries: Mutex<HashMap<(String, PathBuf), RegistrySlot>>,
    reads: AtomicU64,
    generation: AtomicU64,
}

#[derive(Debug)]
struct RootSlot {
    dir_modified: Option<SystemTime>,
    scanned_at: Instant,
    /// Changes whenever `entries` does, so a registry can tell its inputs changed.
    generation: u64,
    entries: Arc<Vec<ScanEntry>>,
}

#[derive(Debug)]
struct RegistrySlot {
    roots: Vec<(SkillRoot, u64)>,
    config: SkillsConfig,
    filter: Option<Vec<String>>,
    checked_at: Instant,
    registry: Arc<SkillRegistry>,
}

impl SkillsCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// `SKILL.md` files read so far (for tests: a warm cache reads none).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// The registry of `agent`, from cache when nothing changed. Requirements (binaries on
    /// `PATH`, environment) are checked again at most every [`RESCAN_INTERVAL`]; the same `Arc`
    /// comes back as long as the outcome is the same.
    pub fn registry(&self, home: &StateDir, config: &Config, agent: &Agent) -> Arc<SkillRegistry> {
        let mut scans = Vec::new();
        let mut roots = Vec::new();
        for root in skill_roots(home, config, &agent.workspace) {
            let (generation, entries) = self.scan(&root);
            scans.push(entries);
            roots.push((root, generation));
        }
        let filter = agent_filter(config, &agent.id);
        let build = || {
            SkillRegistry::build(
                scans.iter().flat_map(|s| s.iter()),
                &config.skills,
                filter.map(|f| (agent.id.as_str(), f)),
            )
        };
        let slot_key = (agent.id.clone(), agent.workspace.clone());
        let mut registries = self.registries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = registries.get_mut(&slot_key)
            && slot.roots == roots
            && slot.config == config.skills
            && slot.filter.as_deref() == filter
        {
            if slot.checked_at.elapsed() >= RESCAN_INTERVAL {
                slot.checked_at = Instant::now();
                let fresh = build();
                if fresh != *slot.registry {
                    slot.registry = Arc::new(fresh);
                }
            }
            return slot.registry.clone();
        }
        let registry = Arc::new(build());
        registries.insert(
            slot_key,
            RegistrySlot {
                roots,
                config: config.skills.clone(),
                filter: filter.map(<[String]>::to_vec),
                checked_at: Instant::now(),
                registry: registry.clone(),
            },
        );
        registry
    }

    /// The entries of one skills directory, rescanned when it changed or the last scan is old.
    fn scan(&self, root: &SkillRoot) -> (u64, Arc<Vec<ScanEntry>>) {
        let dir_modified = std::fs::metadata(&root.dir)
            .ok()
            .and_then(|m| m.modified().ok());
        let mut slots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(&root.dir) {
            if slot.dir_modified == dir_modified && slot.scanned_at.elapsed() < RESCAN_INTERVAL {
                return (slot.generation, slot.entries.clone());
            }
            let entries = scan_root(root, &slot.entries, &self.reads);
            if entries != *slot.entries {
                slot.entries = Arc::new(entries);
                slot.generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
            }
            slot.dir_modified = dir_modified;
            slot.scanned_at = Instant::now();
            return (slot.generation, slot.entries.clone());
        }
        let entries = Arc::new(scan_root(root, &[], &self.reads));
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        slots.insert(
            root.dir.clone(),
            RootSlot {
                dir_modified,
                scanned_at: Instant::now(),
                generation,
                entries: entries.clone(),
            },
        );
        (generation, entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_config::SkillEntryConfig;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn root(dir: &Path, origin: SkillOrigin) -> SkillRoot {
        SkillRoot {
            dir: dir.to_path_buf(),
            origin,
        }
    }

    fn skill_md(name: &str, description: &str, extra: &str) -> String {
        format!(
            "---\nname: {name}\ndescription: {description}\n{extra}---\n# {name}\nThe body of {name}.\n"
        )
    }

    fn parse(text: &str) -> Result<Skill, SkillIssue> {
        parse_skill(
            Path::new("/s/x/SKILL.md"),
            text,
            &root(Path::new("/s"), SkillOrigin::Workspace),
        )
    }

    #[test]
    fn frontmatter_with_metadata_and_unknown_keys_parses() {
        let skill = parse(
            "---\nname: gh-issues\ndescription: |\n  Work with GitHub issues.\nlicense: MIT\nallowed-tools: [bash]\n\
             metadata: {\"openclaw\": {\"emoji\": \"🐙\", \"requires\": {\"bins\": [\"gh\"], \"env\": \"GH_TOKEN\"}, \"os\": [\"darwin\", \"linux\"]}, \"author\": \"x\"}\n---\nBody\n",
        )
        .unwrap();
        assert_eq!(skill.name, "gh-issues");
        assert_eq!(skill.description, "Work with GitHub issues.");
        assert_eq!(skill.requires.bins, ["gh"]);
        assert_eq!(skill.requires.env, ["GH_TOKEN"]);
        assert_eq!(skill.requires.os, ["darwin", "linux"]);
        assert_eq!(skill.dir, Path::new("/s/x"));
        assert_eq!(skill_body("---\nname: a\n---\n\nBody\n"), "Body\n");
    }

    #[test]
    fn bad_frontmatter_is_reported_with_its_line() {
        let err = parse("---\nname: ok\ndescription: [unclosed\n---\nbody\n").unwrap_err();
        assert_eq!(err.path, Path::new("/s/x/SKILL.md"));
        assert!(matches!(err.line, Some(3..=4)), "{err:?}");
        assert!(err.message.starts_with("invalid YAML frontmatter"), "{err}");

        let err = parse("---\ndescription: d\nname: Bad_Name\n---\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("invalid name `Bad_Name`"), "{err}");

        let err = parse("---\nname: a\n---\n").unwrap_err();
        assert_eq!(
            (err.line, err.message.as_str()),
            (Some(1), "the frontmatter has no `description`")
        );
        let err = parse("---\ndescription: d\n---\n").unwrap_err();
        assert!(err.message.contains("no `name`"));
        let err = parse("# Just markdown\n").unwrap_err();
        assert!(err.message.starts_with("no YAML frontmatter"), "{err}");
        let err = parse("---\nname: a\ndescription: d\n").unwrap_err();
        assert!(err.message.starts_with("no YAML frontmatter"), "{err}");
        assert!(!valid_skill_name(&"a".repeat(65)));
        assert!(valid_skill_name("pdf-2-text"));
    }

    #[test]
    fn alias_bombs_fail_instead_of_expanding() {
        let mut yaml = String::from(
            "---\nname: bomb\ndescription: d\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
        );
        for i in 1..12 {
            let p = i - 1;
            yaml.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        yaml.push_str("---\n");
        assert!(parse(&yaml).is_err());
    }

    #[test]
    fn earlier_roots_win_and_broken_files_do_not_stop_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws/skills");
        let home = tmp.path().join("home/skills");
        write(
            &ws.join("notes/SKILL.md"),
            &skill_md("notes", "Workspace notes.", ""),
        );
        write(
            &ws.join("broken/SKILL.md"),
            "---\nname: broken\ndescription: : :\n  bad: [\n---\n",
        );
        write(&ws.join("empty-folder/README.md"), "not a skill");
        write(
            &home.join("notes/SKILL.md"),
            &skill_md("notes", "Home notes.", ""),
        );
        write(
            &home.join("weather/SKILL.md"),
            &skill_md("weather", "Forecasts.", ""),
        );
        let roots = [
            root(&ws, SkillOrigin::Workspace),
            root(&home, SkillOrigin::Home),
        ];
        let reg = SkillRegistry::load(&roots, &SkillsConfig::default(), None);

        let names: Vec<(&str, bool)> = reg
            .skills()
            .iter()
            .map(|s| (s.skill.name.as_str(), s.available()))
            .collect();
        assert_eq!(
            names,
            [("notes", true), ("notes", false), ("weather", true)]
        );
        let shadowed = &reg.skills()[1];
        assert!(
            shadowed
                .unavailable
                .as_deref()
                .unwrap()
                .starts_with("shadowed by"),
            "{shadowed:?}"
        );
        assert_eq!(reg.errors().len(), 1);
        assert_eq!(reg.errors()[0].path, ws.join("broken/SKILL.md"));
        assert!(reg.errors()[0].line.is_some());
        assert_eq!(
            reg.read_skill("notes", None).unwrap(),
            "# notes\nThe body of notes.\n"
        );

        let list = reg.list_result();
        assert_eq!(list.skills[0].source, ws.display().to_string());
        assert_eq!(
            list.errors[0].path,
            ws.join("broken/SKILL.md").display().to_string()
        );
    }

    #[test]
    fn requirements_config_and_agent_lists_decide_availability() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("skills");
        let other_os = if current_os() == "linux" {
            "darwin"
        } else {
            "linux"
        };
        let missing_env = "HEARTH_TEST_VARIABLE_THAT_IS_NEVER_SET";
        for (name, extra) in [
            ("plain", String::new()),
            (
                "has-sh",
                "metadata: {openclaw: {requires: {bins: [sh], env: [PATH]}}}\n".to_owned(),
            ),
            (
                "no-bin",
                "metadata: {openclaw: {requires: {bins: [sh, hearth-no-such-binary]}}}\n"
                    .to_owned(),
            ),
            (
                "no-env",
                format!("metadata: {{openclaw: {{requires: {{env: [{missing_env}]}}}}}}\n"),
            ),
            (
                "env-from-config",
                format!("metadata: {{openclaw: {{requires: {{env: [{missing_env}]}}}}}}\n"),
            ),
            (
                "other-os",
                format!("metadata: {{openclaw: {{os: [{other_os}]}}}}\n"),
            ),
            ("turned-off", String::new()),
        ] {
            write(
                &dir.join(name).join(SKILL_FILE),
                &skill_md(name, "d", &extra),
            );
        }
        let mut config = SkillsConfig::default();
        config.entries.insert(
            "env-from-config".into(),
            SkillEntryConfig {
                enabled: true,
                env: [(missing_env.to_owned(), "value".to_owned())].into(),
            },
        );
        config.entries.insert(
            "turned-off".into(),
            SkillEntryConfig {
                enabled: false,
                env: Default::default(),
            },
        );
        let roots = [root(&dir, SkillOrigin::Extra)];
        let reg = SkillRegistry::load(&roots, &config, None);
        let reason = |name: &str| {
            reg.skills()
                .iter()
                .find(|s| s.skill.name == name)
                .unwrap()
                .unavailable
                .clone()
        };
        assert_eq!(reason("plain"), None);
        assert_eq!(reason("has-sh"), None);
        assert_eq!(reason("env-from-config"), None);
        assert_eq!(
            reason("no-bin").unwrap(),
            "needs hearth-no-such-binary on PATH (not found)"
        );
        assert!(reason("no-env").unwrap().contains(missing_env));
        assert!(reason("other-os").unwrap().contains(other_os));
        assert!(reason("turned-off").unwrap().starts_with("disabled"));

        let index = reg.prompt_index().unwrap();
        assert!(index.contains(&format!(
            "- plain: d ({})",
            dir.join("plain/SKILL.md").display()
        )));
        assert!(!index.contains("no-bin") && !index.contains("turned-off"));
        assert!(!index.contains("The body of"));
        assert!(matches!(
            reg.read_skill("no-bin", None),
            Err(SkillError::Unavailable { .. })
        ));
        assert!(matches!(
            reg.read_skill("nope", None),
            Err(SkillError::NotFound(_))
        ));

        let allowed = ["plain".to_owned(), "no-bin".to_owned()];
        let reg = SkillRegistry::load(&roots, &config, Some(("ops", &allowed)));
        let available: Vec<&str> = reg.available().map(|s| s.name.as_str()).collect();
        assert_eq!(available, ["plain"]);
        let listed = reg
            .skills()
            .iter()
            .find(|s| s.skill.name == "has-sh")
            .unwrap();
        assert!(
            listed
                .unavailable
                .as_deref()
                .unwrap()
                .contains("agent `ops`")
        );

        let reg = SkillRegistry::load(&roots, &config, Some(("ops", &[])));
        assert!(reg.prompt_index().is_none());
    }

    #[test]
    fn read_skill_stays_inside_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("skills");
        write(&dir.join("pdf/SKILL.md"), &skill_md("pdf", "PDFs.", ""));
        write(&dir.join("pdf/references/api.md"), "API notes");
        write(
            &dir.join("pdf/big.txt"),
            &"x".repeat(MAX_SKILL_FILE_BYTES as usize + 1),
        );
        write(&tmp.path().join("secret.txt"), "outside");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("secret.txt"), dir.join("pdf/link.txt"))
                .unwrap();
            std::os::unix::fs::symlink(dir.join("pdf/references"), dir.join("pdf/refs")).unwrap();
        }
        let reg = SkillRegistry::load(
            &[root(&dir, SkillOrigin::Home)],
            &SkillsConfig::default(),
            None,
        );
        assert_eq!(
            reg.read_skill("pdf", Some("references/api.md")).unwrap(),
            "API notes"
        );
        assert_eq!(
            reg.read_skill("pdf", Some("./references/api.md")).unwrap(),
            "API notes"
        );
        for bad in [
            "../secret.txt",
            "references/../../secret.txt",
            "/etc/passwd",
            "references",
        ] {
            assert!(
                matches!(
                    reg.read_skill("pdf", Some(bad)),
                    Err(SkillError::BadPath(_))
                ),
                "{bad} was read"
            );
        }
        assert!(matches!(
            reg.read_skill("pdf", Some("missing.md")),
            Err(SkillError::Io { .. })
        ));
        assert!(matches!(
            reg.read_skill("pdf", Some("big.txt")),
            Err(SkillError::TooLarge { .. })
        ));
        #[cfg(unix)]
        {
            assert!(matches!(
                reg.read_skill("pdf", Some("link.txt")),
                Err(SkillError::BadPath(_))
            ));
            assert_eq!(
                reg.read_skill("pdf", Some("refs/api.md")).unwrap(),
                "API notes"
            );
        }
    }

    #[test]
    fn the_cache_reads_each_skill_once_and_sees_new_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let home = StateDir::new(tmp.path().join("home"));
        let ws = tmp.path().join("ws");
        write(&ws.join("skills/a/SKILL.md"), &skill_md("a", "A.", ""));
        write(
            &home.root().join("skills/b/SKILL.md"),
            &skill_md("b", "B.", ""),
        );
        let agent = Agent {
            id: "main".into(),
            name: "Hearth".into(),
            workspace: ws.clone(),
            model: Default::default(),
            identity: Default::default(),
            queue: Default::default(),
            subagents: vec!["main".into()],
        };
        let config = Config::default();
        let cache = SkillsCache::new();
        let first = cache.registry(&home, &config, &agent);
        assert_eq!(cache.reads(), 2);
        for _ in 0..100 {
            assert!(Arc::ptr_eq(&cache.registry(&home, &config, &agent), &first));
        }
        assert_eq!(cache.reads(), 2);

        // A new folder changes the directory's modification time.
        std::thread::sleep(Duration::from_millis(20));
        write(&ws.join("skills/c/SKILL.md"), &skill_md("c", "C.", ""));
        let next = cache.registry(&home, &config, &agent);
        let names: Vec<&str> = next.available().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "c", "b"]);
        assert_eq!(cache.reads(), 3, "only the new SKILL.md is read");

        // A config change rebuilds the registry without reading anything.
        let mut config = Config::default();
        config.skills.entries.insert(
            "a".into(),
            SkillEntryConfig {
                enabled: false,
                env: Default::default(),
            },
        );
        let off = cache.registry(&home, &config, &agent);
        assert_eq!(off.available().count(), 2);
        assert_eq!(cache.reads(), 3);
    }
}

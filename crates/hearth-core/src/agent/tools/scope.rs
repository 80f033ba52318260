//! Whose memory a turn sees. The owner's conversations use the workspace's own `MEMORY.md`
//! and `memory/`; anyone else's (another person, a team with shared memory, a group) have a
//! memory directory of their own under the workspace (`TurnContext::memory_dir`, chosen by
//! routing). For those turns, file tools read and write `USER.md`, `MEMORY.md` and `memory/...` inside
//! that directory, and every other conversation's memory is out of reach, so one person's
//! chat never leaks into another's.

use std::path::{Component, Path};

use super::ToolError;

/// The top-level folders that hold conversations' memories.
pub const SCOPE_ROOTS: [&str; 3] = ["people", "teams", "chats"];

/// Maps a path an agent gave to the path it means in this turn's memory scope.
///
/// With no memory directory (the owner), the path is unchanged. Otherwise `MEMORY.md` and
/// `memory/...` move into the directory, and paths into another conversation's memory are
/// refused.
pub fn scoped_path(memory_dir: Option<&Path>, given: &str) -> Result<String, ToolError> {
    let Some(dir) = memory_dir else {
        return Ok(given.to_owned());
    };
    let trimmed = given.trim();
    let parts: Vec<String> = Path::new(trimmed)
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let first = parts.first().map(String::as_str);
    let is_memory = matches!(first, Some("MEMORY.md" | "USER.md" | "memory"));
    if is_memory && !Path::new(trimmed).is_absolute() && !trimmed.contains("..") {
        return Ok(dir.join(trimmed).to_string_lossy().into_owned());
    }
    if let Some(root) = first
        && SCOPE_ROOTS.contains(&root)
    {
        let own: Vec<String> = dir
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if !parts.starts_with(&own) {
            return Err(ToolError::Refused(format!(
                "`{given}` is another conversation's memory; this conversation's memory is \
                 `MEMORY.md` and `memory/`"
            )));
        }
    }
    Ok(given.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_sees_paths_as_given() {
        assert_eq!(scoped_path(None, "MEMORY.md").unwrap(), "MEMORY.md");
        assert_eq!(
            scoped_path(None, "people/bob/MEMORY.md").unwrap(),
            "people/bob/MEMORY.md"
        );
    }

    #[test]
    fn others_get_their_own_memory_and_nobody_elses() {
        let dir = Path::new("people/alice");
        assert_eq!(
            scoped_path(Some(dir), "MEMORY.md").unwrap(),
            "people/alice/MEMORY.md"
        );
        assert_eq!(
            scoped_path(Some(dir), "./memory/2026-11-21.md").unwrap(),
            "people/alice/./memory/2026-11-21.md"
        );
        assert_eq!(
            scoped_path(Some(dir), "people/alice/notes.md").unwrap(),
            "people/alice/notes.md"
        );
        assert_eq!(scoped_path(Some(dir), "SOUL.md").unwrap(), "SOUL.md");
        for other in [
            "people/bob/MEMORY.md",
            "teams/slack-T1/MEMORY.md",
            "./chats/x/memory/a.md",
            "people",
        ] {
            let err = scoped_path(Some(dir), other).unwrap_err();
            assert!(
                err.to_string().contains("another conversation's memory"),
                "{other}: {err}"
            );
        }
    }
}

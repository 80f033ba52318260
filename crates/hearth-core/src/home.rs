//! The state directory, `$HEARTH_HOME` (default `~/.hearth`), and the files in it.
//!
//! Directories are created 0700 and files 0600: the directory holds conversations and, in the
//! encrypted-file fallback, secrets.

use std::path::{Path, PathBuf};

use crate::CoreError;

/// Where one Hearth keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$HEARTH_HOME`, else `~/.hearth`, else `./.hearth` when there is no home directory.
    pub fn from_env() -> Self {
        if let Some(dir) = std::env::var_os("HEARTH_HOME").filter(|v| !v.is_empty()) {
            return Self::new(PathBuf::from(dir));
        }
        let home = std::env::home_dir().unwrap_or_else(|| PathBuf::from("."));
        Self::new(home.join(".hearth"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `hearth.json`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("hearth.json")
    }

    /// `hearth.db`.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("hearth.db")
    }

    /// The default agent's workspace.
    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Pid file of the background gateway (`hearth gateway start`).
    pub fn pid_path(&self) -> PathBuf {
        self.root.join("gateway.pid")
    }

    /// Creates the directory tree with owner-only permissions (fixing them if they are looser).
    pub fn ensure(&self) -> Result<(), CoreError> {
        for dir in [self.root.clone(), self.logs(), self.workspace()] {
            create_private_dir(&dir)?;
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> Result<(), CoreError> {
    let err = |source| CoreError::StateDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir).map_err(err)?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    Ok(())
}

/// Writes `contents` to `path` with owner-only permissions, atomically (temp file + rename).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_creates_private_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let home = StateDir::new(tmp.path().join("h"));
        home.ensure().unwrap();
        assert!(home.logs().is_dir());
        assert!(home.workspace().is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.root()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn write_private_is_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f.json");
        write_private(&p, b"{}").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

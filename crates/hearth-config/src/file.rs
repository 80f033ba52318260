//! The configuration file on disk: loading with a content hash, and atomic writes that refuse
//! to overwrite a file that changed since it was read.
//!
//! The hash is what makes concurrent editors safe: the CLI and the Control UI pass back the
//! hash they loaded, and [`write_atomic`] compares it with the file's current hash before
//! replacing it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Config, ConfigError, Issue, parse_str, validate};

/// A configuration loaded from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Issue>,
    pub migrated_from: Option<u32>,
    /// SHA-256 (hex) of the file's bytes; of empty input when the file does not exist.
    pub hash: String,
    pub path: PathBuf,
    pub exists: bool,
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn io_error(path: &Path, source: io::Error) -> ConfigError {
    ConfigError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file's bytes, or `None` when it does not exist.
fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error(path, err)),
    }
}

/// Reads and checks the configuration file. A missing file is the default configuration with
/// `exists: false`.
pub fn load_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
    let Some(bytes) = read_if_exists(path)? else {
        let config = Config::default();
        return Ok(Loaded {
            warnings: validate(&config),
            config,
            migrated_from: None,
            hash: content_hash(b""),
            path: path.to_owned(),
            exists: false,
        });
    };
    let text = std::str::from_utf8(&bytes).map_err(|err| {
        io_error(
            path,
            io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {err}")),
        )
    })?;
    let parsed = parse_str(text, env)?;
    Ok(Loaded {
        config: parsed.config,
        warnings: parsed.warnings,
        migrated_from: parsed.migrated_from,
        hash: content_hash(&bytes),
        path: path.to_owned(),
        exists: true,
    })
}

/// Replaces the file with `doc` as pretty JSON (valid JSON5) and returns the new hash.
///
/// With `expected_hash`, refuses with [`ConfigError::Conflict`] when the file's current hash
/// differs (a missing file hashes as empty input). The previous content is kept as
/// `<name>.bak`. The new file is written to a temporary file in the same directory, synced and
/// renamed over, so readers see the old file or the new one, never a mix. Both files are
/// created readable by the owner only: the configuration may hold secrets.
pub fn write_atomic(
    path: &Path,
    doc: &Value,
    expected_hash: Option<&str>,
) -> Result<String, ConfigError> {
    let mut text = serde_json::to_string_pretty(doc)
        .map_err(|err| io_error(path, io::Error::new(io::ErrorKind::InvalidData, err)))?;
    text.push('\n');
    write_text_atomic(path, &text, expected_hash)
}

/// Replaces the file with `text` byte for byte (comments and layout kept) and returns the new
/// hash; otherwise as [`write_atomic`]: hash check, `.bak`, atomic rename, owner-only files.
/// The caller checks the text first (see [`crate::parse_str`]).
pub fn write_text_atomic(
    path: &Path,
    text: &str,
    expected_hash: Option<&str>,
) -> Result<String, ConfigError> {
    let previous = read_if_exists(path)?;
    let actual = content_hash(previous.as_deref().unwrap_or_default());
    if let Some(expected) = expected_hash
        && expected != actual
    {
        return Err(ConfigError::Conflict {
            expected: expected.to_owned(),
            actual,
        });
    }

    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir).map_err(|err| io_error(&dir, err))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io_error(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?;

    if let Some(previous) = previous {
        let backup = dir.join(format!("{name}.bak"));
        replace_with(&dir, &name, &backup, &previous)?;
    }
    replace_with(&dir, &name, path, text.as_bytes())?;
    sync_dir(&dir).map_err(|err| io_error(&dir, err))?;
    Ok(content_hash(text.as_bytes()))
}

/// Writes `bytes` to a fresh owner-only temporary file in `dir`, syncs it and renames it to
/// `target`.
fn replace_with(dir: &Path, name: &str, target: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
    let written = (|| {
        let mut file = create_private_file(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, target)
    })();
    written.map_err(|err| {
        // The temporary file is ours and useless now; failing to remove it changes nothing.
        let _ = fs::remove_file(&temp);
        io_error(target, err)
    })
}

fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes the rename durable: on Unix a rename lives in the directory's metadata.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{default_document, get_path, set_path};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_missing_file_is_the_default_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.json");
        let loaded = load_file(&path, &no_env).unwrap();
        assert!(!loaded.exists);
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.hash, content_hash(b""));
        assert_eq!(
            loaded.hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(loaded.path, path);
        assert_eq!(loaded.warnings.len(), 1);
    }

    #[test]
    fn written_files_load_back_with_the_returned_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("hearth.json");
        let hash = write_atomic(&path, &default_document(), Some(&content_hash(b""))).unwrap();
        let loaded = load_file(&path, &no_env).unwrap();
        assert!(loaded.exists);
        assert_eq!(loaded.hash, hash);
        assert_eq!(loaded.config, Config::default());
        assert!(!dir.path().join("nested").join("hearth.json.bak").exists());
    }

    #[test]
    fn edits_keep_a_backup_and_detect_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.json");
        let first = write_atomic(&path, &default_document(), None).unwrap();
        let original = fs::read(&path).unwrap();

        let mut doc = default_document();
        set_path(&mut doc, "gateway.port", json!(18790)).unwrap();
        let second = write_atomic(&path, &doc, Some(&first)).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            fs::read(dir.path().join("hearth.json.bak")).unwrap(),
            original
        );
        let reread = crate::parse_document(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(get_path(&reread, "gateway.port"), Some(&json!(18790)));

        // Someone else wrote in between: the stale hash is refused and nothing changes.
        let err = write_atomic(&path, &default_document(), Some(&first)).unwrap_err();
        match err {
            ConfigError::Conflict { expected, actual } => {
                assert_eq!(expected, first);
                assert_eq!(actual, second);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(
            load_file(&path, &no_env).unwrap().config.gateway.port,
            18790
        );

        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert_eq!(leftovers, Vec::<String>::new());
    }

    #[test]
    fn text_is_written_verbatim_with_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.json");
        fs::write(&path, "{}").unwrap();
        let text = "// my settings\n{ gateway: { port: 18790, /* why */ } }\n";
        let hash = write_text_atomic(&path, text, Some(&content_hash(b"{}"))).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert_eq!(hash, content_hash(text.as_bytes()));
        assert_eq!(
            fs::read_to_string(dir.path().join("hearth.json.bak")).unwrap(),
            "{}"
        );
        let err = write_text_atomic(&path, "{}", Some(&content_hash(b"{}"))).unwrap_err();
        assert!(matches!(err, ConfigError::Conflict { .. }), "{err:?}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn a_conflict_is_detected_when_the_file_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.json");
        fs::write(&path, "{}").unwrap();
        let err = write_atomic(&path, &default_document(), Some(&content_hash(b""))).unwrap_err();
        assert!(matches!(err, ConfigError::Conflict { .. }), "{err:?}");
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.json");
        fs::write(&path, "{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, &default_document(), None).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("hearth.json.bak")), 0o600);
    }

    #[test]
    fn unreadable_content_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.json");
        fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            load_file(&path, &no_env),
            Err(ConfigError::Io { .. })
        ));
        fs::write(&path, "{ gateway: { port: 'x' } }").unwrap();
        assert!(matches!(
            load_file(&path, &no_env),
            Err(ConfigError::Invalid { .. })
        ));
    }
}

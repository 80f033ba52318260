//! Private files: created owner-only (0600 on unix) and replaced atomically, so a crash leaves
//! either the old file or the new one, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::SecretsError;

/// Creates `dir` (owner-only on unix) when it does not exist; an existing one is left as it is.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), SecretsError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| SecretsError::io(dir, e))
}

/// Opens a new file that only its owner can read; fails if `path` exists.
pub(crate) fn create_new_private(path: &Path) -> io::Result<File> {
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path)
}

/// Replaces `path` with `bytes`: a private temp file beside it, fsync, rename, fsync the folder.
pub(crate) fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", rand::random::<u64>()));
    let written = (|| {
        let mut file = create_new_private(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        // The temp file may not exist (create failed); nothing more to clean.
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(|e| SecretsError::io(path, e))
}

/// Makes a rename durable. Windows cannot open a directory as a file, and needs no such step.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Refuses a key file that group or others may read or write.
#[cfg(unix)]
pub(crate) fn check_owner_only(path: &Path) -> Result<(), SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|e| SecretsError::io(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SecretsError::BadKey(format!(
            "{} is open to other users (mode {:03o}); refusing to use it. Run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_owner_only(_path: &Path) -> Result<(), SecretsError> {
    Ok(())
}

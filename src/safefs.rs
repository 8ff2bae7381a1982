//! Refusing directories and files another user could steer.
//!
//! mcp often runs as root. Were its state or registry directory owned, or
//! writable, by another user, that user could plant a symlink named like
//! `mcp.lock` pointing at a file of root's, which mcp would then overwrite.
//! So such a directory is refused outright, and files mcp creates or writes
//! in its directories are opened without following symlinks.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates `dir` (mode 0700) if missing; otherwise checks that the running
/// user owns it and that neither group nor others may write to it, and
/// drops any group/other read access. `what` names it in messages.
pub fn private_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {what} {}", dir.display()))?;
    }
    let meta = fs::metadata(dir).with_context(|| format!("reading {what} {}", dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{what} {} is not a directory", dir.display());
    }
    let me = euid();
    if meta.uid() != me {
        anyhow::bail!(
            "refusing {what} {}: it is owned by uid {}, not by the running user (uid {me}); another user could redirect mcp's files through it. Use a directory of your own (chown it, or pick another with a flag or MCP_* variable)",
            dir.display(),
            meta.uid()
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        anyhow::bail!(
            "refusing {what} {}: its mode {mode:04o} lets group or others write to it, so they could plant files mcp would follow. Run `chmod go-w {}`",
            dir.display(),
            dir.display()
        );
    }
    if mode & 0o077 != 0 {
        // Readable by others only: VM state may hold env values, keep it private.
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("restricting permissions of {}", dir.display()))?;
    }
    Ok(())
}

/// Opens `path` for reading and writing, creating it (mode 0600) if missing,
/// without following a symlink; an existing file must belong to the running
/// user.
pub fn open_private(path: &Path, what: &str, truncate: bool) -> anyhow::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refused_link(e, path))
        .with_context(|| format!("opening {what} {}", path.display()))?;
    let owner = file.metadata()?.uid();
    if owner != euid() {
        anyhow::bail!(
            "refusing {what} {}: it is owned by uid {owner}, not by the running user",
            path.display()
        );
    }
    Ok(file)
}

/// Reads `path` without following a symlink; a missing file reads as "".
pub fn read_nofollow(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(mut f) => {
            f.read_to_string(&mut text)?;
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(text),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` (mode 0600) without following a symlink.
pub fn write_nofollow(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refused_link(e, path))
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Creates `path`, which must not exist yet, holding `bytes` with `mode`
/// (service files: 0600 when they hold env values), never through a symlink.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// Creates `path` afresh (mode 0600): a leftover file or symlink of that
/// name is removed first, and the new one is created exclusively, so no
/// symlink is ever followed.
pub fn create_fresh(path: &Path) -> anyhow::Result<File> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", path.display()));
        }
        _ => {}
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// ELOOP from O_NOFOLLOW means the last component is a symlink: say so.
fn refused_link(e: std::io::Error, path: &Path) -> std::io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        std::io::Error::other(format!(
            "{} is a symbolic link; mcp does not follow links for its own files (remove it)",
            path.display()
        ))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_writable_dir_is_refused_and_readable_one_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state");
        private_dir(&dir, "state directory").unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir, "state directory").unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o770)).unwrap();
        let err = private_dir(&dir, "state directory").unwrap_err();
        assert!(format!("{err:#}").contains("chmod go-w"), "{err:#}");
    }

    #[test]
    fn planted_symlinks_are_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let link = root.path().join("mcp.lock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = open_private(&link, "lock file", false).unwrap_err();
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
        assert!(write_nofollow(&link, b"x").is_err());
        assert!(read_nofollow(&link).is_err());
        let mut f = create_fresh(&link).unwrap();
        std::io::Write::write_all(&mut f, b"new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(fs::read_to_string(&link).unwrap(), "new");
    }
}

//! The SQLite registry: desired state, observed state and history.

mod desired;
mod events;
pub mod migrations;
mod rows;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;

pub use desired::{ChangeKind, ServiceChange};
pub use events::{Event, NewEvent};
pub use rows::{ComponentRow, DesiredState, ServiceRow};

pub struct Registry {
    conn: Connection,
}

impl Registry {
    /// Opens (creating if needed, mode 0600) and migrates the registry.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        // The registry decides what mcp removes: its directory must be ours
        // alone, and the file is never reached through a planted symlink.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::safefs::private_dir(dir, "registry directory")?;
        let file = crate::safefs::open_private(path, "registry", false)?;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode != 0o600 {
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting permissions of {}", path.display()))?;
        }
        drop(file);
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening registry {}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .context("enabling WAL on the registry")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut conn)
            .with_context(|| format!("migrating registry {}", path.display()))?;
        Ok(Registry { conn })
    }

    /// Opens the registry only if it exists: read-only commands (`status`,
    /// `logs`, `history`) must not leave an empty registry, or the
    /// directories for one, behind a mistyped `--db` or on a host that was
    /// never synced. `None` means there is no registry yet.
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<Self>> {
        match fs::metadata(path) {
            Ok(_) => Registry::open(path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("opening registry {}", path.display())),
        }
    }

    pub fn integrity_ok(&self) -> anyhow::Result<bool> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(result == "ok")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_from_empty_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/registry.db");
        let reg = Registry::open(&path).unwrap();
        let version: i64 = reg
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, migrations::MIGRATIONS.len());
        assert!(reg.integrity_ok().unwrap());
        drop(reg);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Opening again runs no migration twice.
        Registry::open(&path).unwrap();
    }

    #[test]
    fn migrates_from_each_earlier_version() {
        for start in 0..migrations::MIGRATIONS.len() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.db");
            {
                let mut conn = Connection::open(&path).unwrap();
                for (i, sql) in migrations::MIGRATIONS.iter().enumerate().take(start) {
                    conn.execute_batch(sql).unwrap();
                    conn.pragma_update(None, "user_version", (i + 1) as i64)
                        .unwrap();
                }
                let _ = &mut conn;
            }
            let reg = Registry::open(&path).unwrap();
            assert!(reg.integrity_ok().unwrap());
        }
    }

    #[test]
    fn processes_opening_a_fresh_registry_at_once_migrate_it_once() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.db");
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || Registry::open(&path).map(|_| ()))
                })
                .collect();
            for o in openers {
                o.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn records_the_image_digest_and_keeps_it_when_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("r.db")).unwrap();
        reg.adopt("web", "api", "web-api", "container", "r/a:v1", "running")
            .unwrap();
        assert_eq!(
            reg.component("web", "api").unwrap().unwrap().image_digest,
            None
        );
        let digests = |d: &[&str]| d.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        reg.set_image_digests("web", "api", &digests(&["sha256:aa", "sha256:a2"]))
            .unwrap();
        reg.set_image_digests("web", "api", &[]).unwrap();
        let row = reg.component("web", "api").unwrap().unwrap();
        assert_eq!(row.image_digest.as_deref(), Some("sha256:aa"));
        assert_eq!(row.known_digests(), digests(&["sha256:aa", "sha256:a2"]));
        reg.set_image_digests("web", "api", &digests(&["sha256:bb"]))
            .unwrap();
        let row = reg.component("web", "api").unwrap().unwrap();
        assert_eq!(row.image_digest.as_deref(), Some("sha256:bb"));
        assert_eq!(row.known_digests(), digests(&["sha256:bb"]));
    }

    #[test]
    fn open_existing_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/r.db");
        assert!(Registry::open_existing(&path).unwrap().is_none());
        assert!(!dir.path().join("missing").exists());
        Registry::open(&path).unwrap();
        assert!(Registry::open_existing(&path).unwrap().is_some());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Registry::open(&path).err().unwrap();
        assert!(format!("{err:#}").contains("newer than this mcp knows"));
    }
}

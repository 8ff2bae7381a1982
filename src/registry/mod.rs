//! The SQLite registry: desired state, observed state and history.

mod desired;
mod events;
pub mod migrations;
mod record;
mod rows;
mod sql;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::Connection;

pub use desired::{ChangeKind, ServiceChange};
pub use events::{Event, EventOutcome, NewEvent};
pub use record::{Change, ComponentRecord};
pub use rows::{ComponentRow, DesiredState, Origin, ServiceRow};

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
        enable_wal(&conn).context("enabling WAL on the registry")?;
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

/// Switches the registry to WAL, retrying while another process holds the
/// lock. SQLite answers the journal-mode switch with SQLITE_BUSY at once,
/// without calling the busy handler, when two connections race to upgrade
/// their shared locks on a fresh file (cron's sync and a person's status
/// opening a new registry together), so `busy_timeout` alone is not enough.
fn enable_wal(conn: &Connection) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
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

    /// A registry written before records existed (schema 1, one column per
    /// field) reads back after the migration as the same records: syncing
    /// the same file changes nothing, and the deployed spec is kept.
    #[test]
    fn the_record_migration_keeps_what_schema_1_held() {
        let text = "[[components]]\nname = \"api\"\nimage = \"r:5000/web:v1\"\nports = [\"8080:80\"]\ncmd = [\"httpd\", \"-f\"]\nenv = { K = \"v\" }\nmemory_mb = 64\n[components.health]\ntcp = 8080\n[[components.routes]]\nport = 8080\nhostname = \"web.example\"\n";
        let mut reader = crate::spec::parse::FileReader::new(Path::new("web.toml"), text);
        let spec = reader.read_service("web").unwrap().spec;
        let c = &spec.components[0];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(migrations::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            fn json<T: serde::Serialize>(v: &T) -> String {
                serde_json::to_string(v).unwrap()
            }
            let ports: Vec<String> = c.ports.iter().map(ToString::to_string).collect();
            let runtime = crate::spec::hash::RuntimeSpec::of(c);
            let mut deployed = serde_json::to_value(&runtime).unwrap();
            deployed["image"] = "r:5000/web:v0".into();
            conn.execute("INSERT INTO services (name, active) VALUES ('web', 1)", [])
                .unwrap();
            conn.execute(
                "INSERT INTO components (service, name, runtime, image, restart, ports, cmd, env,
                    memory_mb, health, desired_state, version, spec_hash, deployed_hash,
                    deployed_spec)
                 VALUES ('web', 'api', 'container', ?1, ?2, ?3, ?4, ?5, 64, ?6, 'running', 'v1',
                    ?7, ?7, ?8)",
                rusqlite::params![
                    c.image,
                    c.restart.as_str(),
                    json(&ports),
                    json(&c.cmd),
                    json(&c.env),
                    json(&c.health),
                    runtime.hash(),
                    deployed.to_string(),
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO routes (service, component, name, port, mode, hostname)
                 VALUES ('web', 'api', 'default', 8080, 'l4', 'web.example')",
                [],
            )
            .unwrap();
        }
        let mut reg = Registry::open(&path).unwrap();
        let row = reg.component("web", "api").unwrap().unwrap();
        assert_eq!(row.record, Some(ComponentRecord::of(c)));
        let deployed = row.deployed.unwrap();
        assert_eq!(deployed.image.to_string(), "r:5000/web:v0");
        assert_eq!(deployed.spec, crate::spec::hash::RuntimeSpec::of(c));
        let changes = reg
            .sync_desired(std::slice::from_ref(&spec), &[], false, true)
            .unwrap();
        assert_eq!(changes[0].kind, ChangeKind::Unchanged, "{changes:?}");
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
        reg.adopt(
            "web",
            "api",
            "web-api",
            crate::model::RuntimeKind::Container,
            "r/a:v1",
            "running",
        )
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

//! Ordered schema migrations. `PRAGMA user_version` records how many have
//! run; each runs in its own transaction together with the version bump.

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};

/// Append only: never edit a migration that has shipped.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE services (
        name        TEXT PRIMARY KEY,
        active      INTEGER NOT NULL,
        comment     TEXT NOT NULL DEFAULT '',
        origin      TEXT NOT NULL DEFAULT 'file' CHECK (origin IN ('file', 'adopted')),
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE components (
        service        TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
        name           TEXT NOT NULL,
        runtime        TEXT NOT NULL,
        image          TEXT NOT NULL,
        network        TEXT,
        user_spec      TEXT,
        restart        TEXT NOT NULL,
        ports          TEXT NOT NULL DEFAULT '[]',
        volumes        TEXT NOT NULL DEFAULT '[]',
        cmd            TEXT,
        env            TEXT NOT NULL DEFAULT '{}',
        memory_mb      INTEGER,
        vcpus          INTEGER,
        health         TEXT,
        desired_state  TEXT NOT NULL CHECK (desired_state IN ('running', 'stopped', 'ignore')),
        observed_state TEXT,
        version        TEXT NOT NULL,
        spec_hash      TEXT NOT NULL,
        deployed_hash  TEXT,
        deployed_spec  TEXT,
        image_id       TEXT,
        previous_image TEXT,
        updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (service, name)
    );
    CREATE TABLE routes (
        service   TEXT NOT NULL,
        component TEXT NOT NULL,
        name      TEXT NOT NULL,
        port      INTEGER NOT NULL,
        mode      TEXT NOT NULL,
        hostname  TEXT,
        PRIMARY KEY (service, component, name),
        FOREIGN KEY (service, component) REFERENCES components(service, name) ON DELETE CASCADE
    );
    CREATE TABLE events (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        command   TEXT NOT NULL,
        service   TEXT NOT NULL,
        component TEXT,
        action    TEXT NOT NULL,
        detail    TEXT NOT NULL DEFAULT '',
        outcome   TEXT NOT NULL
    );
    CREATE INDEX events_by_service ON events(service, id);",
    // 2: the registry digest of the image each component was deployed from,
    // and every manifest digest podman knows for that image (one image may
    // have been pulled through several manifests), so `mcp update` can tell
    // whether its tag has moved since.
    "ALTER TABLE components ADD COLUMN image_digest TEXT;
    ALTER TABLE components ADD COLUMN image_digests TEXT NOT NULL DEFAULT '[]';",
    // 3: why a rollout failed (exit code, last log lines), kept as JSON
    // because the rollback removes the failed instance.
    "ALTER TABLE events ADD COLUMN evidence TEXT;",
    // 4: one record per component. What the service file declares and what
    // was last deployed are each one JSON column (registry::ComponentRecord);
    // only what SQL reads keeps a column of its own.
    "ALTER TABLE components ADD COLUMN record TEXT;
    ALTER TABLE components ADD COLUMN deployed TEXT;
    UPDATE components SET record = json_object(
        'image', image,
        'spec', json_object('runtime', runtime, 'network', network, 'user', user_spec,
            'restart', restart, 'ports', json(ports), 'volumes', json(volumes),
            'cmd', json(cmd), 'env', json(env), 'memory_mb', memory_mb, 'vcpus', vcpus),
        'health', json(health),
        'routes', json((SELECT json_group_array(json_object('name', r.name, 'port', r.port,
            'mode', r.mode, 'hostname', r.hostname)) FROM routes r
            WHERE r.service = components.service AND r.component = components.name)))
    WHERE desired_state != 'ignore';
    UPDATE components SET deployed = json_object(
        'image', json_extract(deployed_spec, '$.image'),
        'spec', json_remove(deployed_spec, '$.image'))
    WHERE deployed_spec IS NOT NULL AND json_valid(deployed_spec);
    ALTER TABLE components DROP COLUMN network;
    ALTER TABLE components DROP COLUMN user_spec;
    ALTER TABLE components DROP COLUMN restart;
    ALTER TABLE components DROP COLUMN ports;
    ALTER TABLE components DROP COLUMN volumes;
    ALTER TABLE components DROP COLUMN cmd;
    ALTER TABLE components DROP COLUMN env;
    ALTER TABLE components DROP COLUMN memory_mb;
    ALTER TABLE components DROP COLUMN vcpus;
    ALTER TABLE components DROP COLUMN health;
    ALTER TABLE components DROP COLUMN deployed_spec;",
    // 5: the run that owns a pending event (pid and its start time in clock
    // ticks since boot), so `history` reads an event of a dead run as
    // interrupted at once instead of `pending` until the next run.
    "ALTER TABLE events ADD COLUMN run_pid INTEGER;
    ALTER TABLE events ADD COLUMN run_start INTEGER;",
    // 6: the container or VM name of an adopted component whose name is not
    // `<service>-<component>` (e.g. `solo`, adopted as solo/main); NULL for
    // the usual name.
    "ALTER TABLE components ADD COLUMN instance TEXT;",
];

pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    // Each step reads the version inside an IMMEDIATE transaction: two mcp
    // processes opening a fresh registry at once (cron's sync and a
    // person's status) must not both apply the same migration; the second
    // waits on the write lock, then finds the work done.
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: usize = tx
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .context("reading the registry schema version")?
            .try_into()
            .unwrap_or(0);
        if current > MIGRATIONS.len() {
            anyhow::bail!(
                "the registry has schema version {current}, newer than this mcp knows ({}); upgrade mcp",
                MIGRATIONS.len()
            );
        }
        let Some(sql) = MIGRATIONS.get(current) else {
            return Ok(());
        };
        tx.execute_batch(sql)
            .with_context(|| format!("applying registry migration {}", current + 1))?;
        tx.pragma_update(None, "user_version", (current + 1) as i64)?;
        tx.commit()?;
    }
}

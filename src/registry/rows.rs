//! Typed rows of the registry and the reads and writes on single rows.

use anyhow::Context;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Registry;

pub use crate::model::DesiredState;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRow {
    pub name: String,
    pub active: bool,
    pub comment: String,
    /// `file` for services from a service file, `adopted` for adopted ones.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentRow {
    pub service: String,
    pub name: String,
    pub runtime: String,
    pub image: String,
    pub network: Option<String>,
    pub user_spec: Option<String>,
    pub restart: String,
    /// JSON arrays and objects, as stored.
    pub ports: String,
    pub volumes: String,
    pub cmd: Option<String>,
    #[serde(skip)]
    pub env: String,
    pub memory_mb: Option<u32>,
    pub vcpus: Option<u32>,
    pub health: Option<String>,
    pub routes: String,
    pub desired: DesiredState,
    pub observed: Option<String>,
    pub version: String,
    pub spec_hash: String,
    pub deployed_hash: Option<String>,
    pub deployed_spec: Option<String>,
    pub image_id: Option<String>,
    pub previous_image: Option<String>,
    pub updated_at: String,
    /// Registry digest (`sha256:...`) of the image last deployed, when known.
    pub image_digest: Option<String>,
    /// Every manifest digest known for that image (JSON array).
    #[serde(skip)]
    pub image_digests: String,
    /// The instance's name when it is not `<service>-<component>` (adopted
    /// under another name); see [`ComponentRow::instance`].
    pub instance: Option<String>,
}

impl ComponentRow {
    /// The container or VM this row stands for.
    pub fn instance(&self) -> String {
        self.instance
            .clone()
            .unwrap_or_else(|| crate::model::instance_name(&self.service, &self.name))
    }

    /// The digests a registry tag may name without the deployed image having
    /// changed: the recorded one and every other manifest of the same image.
    pub fn known_digests(&self) -> Vec<String> {
        let mut all: Vec<String> = self.image_digest.iter().cloned().collect();
        all.extend(serde_json::from_str::<Vec<String>>(&self.image_digests).unwrap_or_default());
        all.dedup();
        all
    }
}

const COMPONENT_COLUMNS: &str = "c.service, c.name, c.runtime, c.image, c.network, c.user_spec,
    c.restart, c.ports, c.volumes, c.cmd, c.env, c.memory_mb, c.vcpus, c.health,
    (SELECT json_group_array(json_object('name', r.name, 'port', r.port, 'mode', r.mode,
        'hostname', r.hostname)) FROM routes r WHERE r.service = c.service AND r.component = c.name),
    c.desired_state, c.observed_state, c.version, c.spec_hash, c.deployed_hash, c.deployed_spec,
    c.image_id, c.previous_image, c.updated_at, c.image_digest, c.image_digests, c.instance";

fn component_from_row(r: &Row<'_>) -> rusqlite::Result<ComponentRow> {
    Ok(ComponentRow {
        service: r.get(0)?,
        name: r.get(1)?,
        runtime: r.get(2)?,
        image: r.get(3)?,
        network: r.get(4)?,
        user_spec: r.get(5)?,
        restart: r.get(6)?,
        ports: r.get(7)?,
        volumes: r.get(8)?,
        cmd: r.get(9)?,
        env: r.get(10)?,
        memory_mb: r.get(11)?,
        vcpus: r.get(12)?,
        health: r.get(13)?,
        routes: r.get(14)?,
        desired: DesiredState::parse(&r.get::<_, String>(15)?),
        observed: r.get(16)?,
        version: r.get(17)?,
        spec_hash: r.get(18)?,
        deployed_hash: r.get(19)?,
        deployed_spec: r.get(20)?,
        image_id: r.get(21)?,
        previous_image: r.get(22)?,
        updated_at: r.get(23)?,
        image_digest: r.get(24)?,
        image_digests: r.get(25)?,
        instance: r.get(26)?,
    })
}

impl Registry {
    pub fn services(&self) -> anyhow::Result<Vec<ServiceRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, active, comment, origin FROM services ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ServiceRow {
                    name: r.get(0)?,
                    active: r.get(1)?,
                    comment: r.get(2)?,
                    origin: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
            .context("reading services from the registry")?;
        Ok(rows)
    }

    pub fn components(&self) -> anyhow::Result<Vec<ComponentRow>> {
        let sql =
            format!("SELECT {COMPONENT_COLUMNS} FROM components c ORDER BY c.service, c.name");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map([], component_from_row)?
            .collect::<Result<Vec<_>, _>>()
            .context("reading components from the registry")?;
        Ok(rows)
    }

    pub fn component(&self, service: &str, name: &str) -> anyhow::Result<Option<ComponentRow>> {
        let sql = format!(
            "SELECT {COMPONENT_COLUMNS} FROM components c WHERE c.service = ?1 AND c.name = ?2"
        );
        Ok(self
            .conn
            .query_row(&sql, params![service, name], component_from_row)
            .optional()?)
    }

    pub fn set_observed(&self, service: &str, name: &str, observed: &str) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE components SET observed_state = ?3
             WHERE service = ?1 AND name = ?2 AND observed_state IS NOT ?3",
            params![service, name, observed],
        )?;
        Ok(())
    }

    /// Records what was just deployed: its hash, its spec as JSON (with an
    /// `image` field), the image id, and the image it replaced (kept for
    /// rollback and history).
    pub fn record_deployed(
        &self,
        service: &str,
        name: &str,
        deployed_hash: &str,
        deployed_spec: &str,
        image_id: Option<&str>,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE components SET
                previous_image = CASE
                    WHEN json_extract(deployed_spec, '$.image') IS NOT json_extract(?4, '$.image')
                         AND deployed_spec IS NOT NULL
                    THEN json_extract(deployed_spec, '$.image') ELSE previous_image END,
                deployed_hash = ?3, deployed_spec = ?4,
                image_id = COALESCE(?5, image_id),
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE service = ?1 AND name = ?2",
            params![service, name, deployed_hash, deployed_spec, image_id],
        )?;
        Ok(())
    }

    /// Records the manifest digests of the image a component now runs (after
    /// a deploy or update), podman's own first. None known leaves what was
    /// recorded in place: a runtime that cannot tell does not erase it.
    pub fn set_image_digests(
        &self,
        service: &str,
        name: &str,
        digests: &[String],
    ) -> anyhow::Result<()> {
        let Some(first) = digests.first() else {
            return Ok(());
        };
        let all = serde_json::to_string(digests).context("encoding image digests")?;
        self.conn.execute(
            "UPDATE components SET image_digest = ?3, image_digests = ?4
             WHERE service = ?1 AND name = ?2",
            params![service, name, first, all],
        )?;
        Ok(())
    }

    /// Records an untracked container or VM as adopted, desired `ignore`.
    /// `instance` is its actual name, kept when it is not the usual
    /// `<service>-<component>`, so that it is recognised as tracked.
    pub fn adopt(
        &self,
        service: &str,
        name: &str,
        instance: &str,
        runtime: &str,
        image: &str,
        observed: &str,
    ) -> anyhow::Result<bool> {
        let version = crate::spec::fields::image_version(image);
        let instance = (instance != crate::model::instance_name(service, name)).then_some(instance);
        self.conn.execute(
            "INSERT INTO services (name, active, origin) VALUES (?1, 1, 'adopted')
             ON CONFLICT (name) DO NOTHING",
            params![service],
        )?;
        let inserted = self.conn.execute(
            "INSERT INTO components (service, name, runtime, image, restart, desired_state,
                observed_state, version, spec_hash, instance)
             VALUES (?1, ?2, ?3, ?4, 'no', 'ignore', ?5, ?6, '', ?7)
             ON CONFLICT (service, name) DO NOTHING",
            params![service, name, runtime, image, observed, version, instance],
        )?;
        Ok(inserted == 1)
    }

    /// Sets the desired state of one component (stop/start by hand).
    pub fn set_desired(
        &self,
        service: &str,
        name: &str,
        desired: DesiredState,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE components SET desired_state = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE service = ?1 AND name = ?2",
            params![service, name, desired.as_str()],
        )?;
        Ok(())
    }
}

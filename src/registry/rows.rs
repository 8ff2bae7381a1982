//! Typed rows of the registry and the reads and writes on single rows.

use anyhow::Context;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Registry;
use super::record::ComponentRecord;

pub use crate::model::DesiredState;
use crate::model::{ObservedState, RuntimeKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRow {
    pub name: String,
    pub active: bool,
    pub comment: String,
    pub origin: Origin,
}

/// Where a service came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A service file declares it.
    File,
    /// Adopted from what was found running; no file.
    Adopted,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::File => "file",
            Origin::Adopted => "adopted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "file" => Some(Origin::File),
            "adopted" => Some(Origin::Adopted),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentRow {
    pub service: String,
    pub name: String,
    pub runtime: RuntimeKind,
    pub image: String,
    /// What the service file declares; `None` for adopted components.
    #[serde(skip)]
    pub record: Option<ComponentRecord>,
    pub desired: DesiredState,
    pub observed: Option<String>,
    pub version: String,
    pub spec_hash: String,
    pub deployed_hash: Option<String>,
    /// What was last rolled out, to name changed fields later.
    #[serde(skip)]
    pub deployed: Option<ComponentRecord>,
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

const COMPONENT_COLUMNS: &str = "c.service, c.name, c.runtime, c.image, c.record,
    c.desired_state, c.observed_state, c.version, c.spec_hash, c.deployed_hash, c.deployed,
    c.image_id, c.previous_image, c.updated_at, c.image_digest, c.image_digests, c.instance";

/// A record column; one that no longer parses reads as absent (the next
/// sync writes it again) rather than making the registry unreadable.
fn record_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<ComponentRecord>> {
    Ok(r.get::<_, Option<String>>(i)?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

fn component_from_row(r: &Row<'_>) -> rusqlite::Result<ComponentRow> {
    Ok(ComponentRow {
        service: r.get(0)?,
        name: r.get(1)?,
        runtime: r.get(2)?,
        image: r.get(3)?,
        record: record_at(r, 4)?,
        desired: r.get(5)?,
        observed: r.get(6)?,
        version: r.get(7)?,
        spec_hash: r.get(8)?,
        deployed_hash: r.get(9)?,
        deployed: record_at(r, 10)?,
        image_id: r.get(11)?,
        previous_image: r.get(12)?,
        updated_at: r.get(13)?,
        image_digest: r.get(14)?,
        image_digests: r.get(15)?,
        instance: r.get(16)?,
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

    pub fn set_observed(
        &self,
        service: &str,
        name: &str,
        observed: ObservedState,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE components SET observed_state = ?3
             WHERE service = ?1 AND name = ?2 AND observed_state IS NOT ?3",
            params![service, name, observed],
        )?;
        Ok(())
    }

    /// Records what was just deployed: its hash, its record, the image id,
    /// and the image it replaced (kept for rollback and history).
    pub fn record_deployed(
        &self,
        service: &str,
        name: &str,
        deployed_hash: &str,
        deployed: &ComponentRecord,
        image_id: Option<&str>,
    ) -> anyhow::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        let before: Option<ComponentRecord> = tx
            .query_row(
                "SELECT deployed FROM components WHERE service = ?1 AND name = ?2",
                params![service, name],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok());
        let replaced = before
            .map(|b| b.image)
            .filter(|image| *image != deployed.image)
            .map(|image| image.to_string());
        tx.execute(
            "UPDATE components SET
                previous_image = COALESCE(?6, previous_image),
                deployed_hash = ?3, deployed = ?4,
                image_id = COALESCE(?5, image_id),
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE service = ?1 AND name = ?2",
            params![
                service,
                name,
                deployed_hash,
                serde_json::to_string(deployed).context("recording the deployed spec")?,
                image_id,
                replaced
            ],
        )?;
        tx.commit()?;
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
        runtime: RuntimeKind,
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
            "INSERT INTO components (service, name, runtime, image, desired_state,
                observed_state, version, spec_hash, instance)
             VALUES (?1, ?2, ?3, ?4, 'ignore', ?5, ?6, '', ?7)
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
            params![service, name, desired],
        )?;
        Ok(())
    }
}

//! The registry half of `sync`: make the registry's desired state match the
//! service files, in one transaction, and say precisely what changed.

use std::collections::BTreeMap;

use anyhow::Context;
use rusqlite::{Transaction, params};
use serde::Serialize;

use super::Registry;
use super::record::ComponentRecord;
use super::rows::{ComponentRow, DesiredState, Origin};
use crate::model::ImageRef;
use crate::spec::hash::RuntimeSpec;
use crate::spec::{ComponentSpec, ServiceSpec, fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Unchanged,
    Removed,
    /// In the registry, but its file is gone and `--prune` was not given.
    Orphaned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceChange {
    pub service: String,
    pub kind: ChangeKind,
    pub changes: Vec<String>,
}

/// What the registry holds of a component, as a record to compare with the
/// file's. An adopted component has no record: it is described by what was
/// found (image and runtime), with a restart policy of `no`.
fn stored(row: &ComponentRow) -> ComponentRecord {
    row.record.clone().unwrap_or_else(|| ComponentRecord {
        image: ImageRef::parse(&row.image),
        spec: RuntimeSpec {
            runtime: row.runtime,
            network: None,
            user: None,
            restart: "no".into(),
            ports: Vec::new(),
            volumes: Vec::new(),
            cmd: None,
            env: Default::default(),
            memory_mb: None,
            vcpus: None,
            stop_signal: None,
            stop_timeout: None,
        },
        health: None,
        routes: Vec::new(),
    })
}

impl Registry {
    /// Makes the registry's desired state match `specs`. `scope` limits the
    /// services considered (empty: all). With `commit = false` nothing is
    /// written (dry run), but the changes are still computed and returned.
    pub fn sync_desired(
        &mut self,
        specs: &[ServiceSpec],
        scope: &[String],
        prune: bool,
        commit: bool,
    ) -> anyhow::Result<Vec<ServiceChange>> {
        let services = self.services()?;
        let components = self.components()?;
        let in_scope = |name: &str| scope.is_empty() || scope.iter().any(|s| s == name);
        let tx = self.conn.transaction()?;
        let mut changes = Vec::new();

        // Indexed once: a host may hold a thousand services.
        let services_by_name: BTreeMap<&str, &super::rows::ServiceRow> =
            services.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut components_by_service: BTreeMap<&str, Vec<&ComponentRow>> = BTreeMap::new();
        for c in &components {
            components_by_service
                .entry(c.service.as_str())
                .or_default()
                .push(c);
        }
        for spec in specs.iter().filter(|s| in_scope(&s.name)) {
            let existing = services_by_name.get(spec.name.as_str()).copied();
            let mut lines = Vec::new();
            let kind = match existing {
                None => {
                    tx.execute(
                        "INSERT INTO services (name, active, comment) VALUES (?1, ?2, ?3)",
                        params![spec.name, spec.active, spec.comment],
                    )?;
                    lines.push("created service".to_string());
                    ChangeKind::Created
                }
                Some(row) => {
                    if row.origin == Origin::Adopted {
                        lines.push("took over adopted service".to_string());
                    }
                    if row.active != spec.active {
                        lines.push(format!("active: {} -> {}", row.active, spec.active));
                    }
                    if row.comment != spec.comment {
                        lines.push("comment changed".to_string());
                    }
                    if !lines.is_empty() {
                        tx.execute(
                            "UPDATE services SET active = ?2, comment = ?3, origin = 'file',
                                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                             WHERE name = ?1",
                            params![spec.name, spec.active, spec.comment],
                        )?;
                    }
                    ChangeKind::Updated
                }
            };
            let desired = DesiredState::from_active(spec.active);
            let old: Vec<&ComponentRow> = components_by_service
                .get(spec.name.as_str())
                .cloned()
                .unwrap_or_default();
            for c in &spec.components {
                let new = ComponentRecord::of(c);
                match old.iter().find(|o| o.name == c.name) {
                    None => {
                        write_component(&tx, &spec.name, c, desired)?;
                        if kind == ChangeKind::Created {
                            lines.push(format!(
                                "created component {} ({})",
                                c.name,
                                fields::image_version(&c.image)
                            ));
                        } else {
                            lines.push(format!("added component {}", c.name));
                        }
                    }
                    Some(row) => {
                        let diff = stored(row).diff(&new);
                        let desired_changed = row.desired != desired;
                        if desired_changed && row.desired == DesiredState::Ignore {
                            lines.push(format!("{}: took over adopted component", c.name));
                        } else if desired_changed
                            && existing.is_some_and(|r| r.active == spec.active)
                        {
                            // Set by hand (mcp stop/start); the file has the last word.
                            lines.push(format!(
                                "{}: desired {} -> {} (as the service file says)",
                                c.name,
                                row.desired.as_str(),
                                desired.as_str()
                            ));
                        }
                        lines.extend(diff.iter().map(|d| format!("{}: {d}", c.name)));
                        if !diff.is_empty() || desired_changed {
                            write_component(&tx, &spec.name, c, desired)?;
                        }
                    }
                }
            }
            // Adopted rows stay: a container that happens to be named under
            // a declared service (`web-extra` beside web.toml) is still
            // tracked, not dropped here and adopted again by the plan.
            for o in old
                .iter()
                .filter(|o| spec.component(&o.name).is_none() && o.desired != DesiredState::Ignore)
            {
                tx.execute(
                    "DELETE FROM components WHERE service = ?1 AND name = ?2",
                    params![spec.name, o.name],
                )?;
                lines.push(format!("removed component {}", o.name));
            }
            let kind = match (kind, lines.is_empty()) {
                (ChangeKind::Updated, true) => ChangeKind::Unchanged,
                (k, _) => k,
            };
            changes.push(ServiceChange {
                service: spec.name.clone(),
                kind,
                changes: lines,
            });
        }

        for gone in services
            .iter()
            .filter(|s| s.origin == Origin::File && in_scope(&s.name))
            .filter(|s| !specs.iter().any(|spec| spec.name == s.name))
        {
            if prune {
                tx.execute("DELETE FROM services WHERE name = ?1", params![gone.name])?;
                changes.push(ServiceChange {
                    service: gone.name.clone(),
                    kind: ChangeKind::Removed,
                    changes: vec!["removed service (file gone, --prune)".into()],
                });
            } else {
                changes.push(ServiceChange {
                    service: gone.name.clone(),
                    kind: ChangeKind::Orphaned,
                    changes: vec!["service file is gone; kept (use --prune to remove)".into()],
                });
            }
        }

        if commit {
            tx.commit().context("committing the registry sync")?;
        } else {
            tx.rollback()?;
        }
        Ok(changes)
    }
}

fn write_component(
    tx: &Transaction<'_>,
    service: &str,
    c: &ComponentSpec,
    desired: DesiredState,
) -> anyhow::Result<()> {
    let record = ComponentRecord::of(c);
    tx.execute(
        "INSERT INTO components (service, name, runtime, image, record, desired_state, version,
            spec_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (service, name) DO UPDATE SET
            runtime = excluded.runtime, image = excluded.image, record = excluded.record,
            desired_state = excluded.desired_state, version = excluded.version,
            spec_hash = excluded.spec_hash, instance = NULL,
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        params![
            service,
            c.name,
            record.spec.runtime,
            c.image,
            serde_json::to_string(&record).context("recording the component")?,
            desired.as_str(),
            record.image.version(),
            record.spec.hash(),
        ],
    )?;
    tx.execute(
        "DELETE FROM routes WHERE service = ?1 AND component = ?2",
        params![service, c.name],
    )?;
    for r in &c.routes {
        tx.execute(
            "INSERT INTO routes (service, component, name, port, mode, hostname)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![service, c.name, r.name, r.port, r.mode, r.hostname],
        )?;
    }
    Ok(())
}

//! The registry half of `sync`: make the registry's desired state match the
//! service files, in one transaction, and say precisely what changed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use rusqlite::{Transaction, params};
use serde::Serialize;

use super::Registry;
use super::rows::{ComponentRow, DesiredState};
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

/// The registry's view of one component, in comparable, display-ready form.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    image: String,
    runtime: String,
    network: Option<String>,
    user: Option<String>,
    restart: String,
    ports: String,
    volumes: String,
    cmd: Option<String>,
    env: String,
    memory_mb: Option<u32>,
    vcpus: Option<u32>,
    health: Option<String>,
    routes: String,
}

fn json<T: Serialize>(v: &T) -> String {
    // Invariant: the model types serialize to JSON without error.
    serde_json::to_string(v).expect("spec values serialize")
}

impl Stored {
    fn of_spec(c: &ComponentSpec) -> Self {
        let ports: Vec<String> = c.ports.iter().map(ToString::to_string).collect();
        let volumes: Vec<String> = c.volumes.iter().map(ToString::to_string).collect();
        Stored {
            image: c.image.clone(),
            runtime: c.runtime.as_str().into(),
            network: c.network.clone(),
            user: c.user.clone(),
            restart: c.restart.as_str().into(),
            ports: json(&ports),
            volumes: json(&volumes),
            cmd: c.cmd.as_ref().map(json),
            env: json(&c.env),
            memory_mb: c.memory_mb,
            vcpus: c.vcpus,
            health: c.health.as_ref().map(json),
            routes: json(&c.routes),
        }
    }

    fn of_row(r: &ComponentRow) -> Self {
        // Routes come back from SQLite as an aggregate; normalise to the spec's shape.
        let routes: Vec<crate::spec::Route> =
            serde_json::from_str::<Vec<serde_json::Value>>(&r.routes)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| {
                    Some(crate::spec::Route {
                        name: v.get("name")?.as_str()?.to_string(),
                        port: u16::try_from(v.get("port")?.as_u64()?).ok()?,
                        mode: v.get("mode")?.as_str()?.to_string(),
                        hostname: v
                            .get("hostname")
                            .and_then(|h| h.as_str())
                            .map(str::to_string),
                    })
                })
                .collect();
        Stored {
            image: r.image.clone(),
            runtime: r.runtime.clone(),
            network: r.network.clone(),
            user: r.user_spec.clone(),
            restart: r.restart.clone(),
            ports: r.ports.clone(),
            volumes: r.volumes.clone(),
            cmd: r.cmd.clone(),
            env: r.env.clone(),
            memory_mb: r.memory_mb,
            vcpus: r.vcpus,
            health: r.health.clone(),
            routes: json(&routes),
        }
    }

    /// One line per changed field. Environment values are never shown.
    fn diff(&self, new: &Stored) -> Vec<String> {
        let mut out = Vec::new();
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
        if self.image != new.image {
            out.push(format!("image: {} -> {}", self.image, new.image));
        }
        let mut field = |name: &str, old: String, newv: String| {
            if old != newv {
                out.push(format!("{name}: {old} -> {newv}"));
            }
        };
        field("runtime", self.runtime.clone(), new.runtime.clone());
        field("network", opt(&self.network), opt(&new.network));
        field("user", opt(&self.user), opt(&new.user));
        field("restart", self.restart.clone(), new.restart.clone());
        field("ports", self.ports.clone(), new.ports.clone());
        field("volumes", self.volumes.clone(), new.volumes.clone());
        field("cmd", opt(&self.cmd), opt(&new.cmd));
        let num = |n: Option<u32>| n.map_or("none".into(), |n| n.to_string());
        field("memory_mb", num(self.memory_mb), num(new.memory_mb));
        field("vcpus", num(self.vcpus), num(new.vcpus));
        if self.env != new.env {
            let old: BTreeMap<String, String> = serde_json::from_str(&self.env).unwrap_or_default();
            let newm: BTreeMap<String, String> = serde_json::from_str(&new.env).unwrap_or_default();
            let keys: BTreeSet<&String> = old
                .keys()
                .chain(newm.keys())
                .filter(|k| old.get(*k) != newm.get(*k))
                .collect();
            let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
            out.push(format!("env: changed {}", keys.join(", ")));
        }
        if self.health != new.health {
            out.push("health check changed".into());
        }
        if self.routes != new.routes {
            out.push("routes changed".into());
        }
        out
    }
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
                    if row.origin == "adopted" {
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
                let new = Stored::of_spec(c);
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
                        let diff = Stored::of_row(row).diff(&new);
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
            .filter(|s| s.origin == "file" && in_scope(&s.name))
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
    let s = Stored::of_spec(c);
    let hash = RuntimeSpec::of(c).hash();
    tx.execute(
        "INSERT INTO components (service, name, runtime, image, network, user_spec, restart, ports,
            volumes, cmd, env, memory_mb, vcpus, health, desired_state, version, spec_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (service, name) DO UPDATE SET
            runtime = excluded.runtime, image = excluded.image, network = excluded.network,
            user_spec = excluded.user_spec, restart = excluded.restart, ports = excluded.ports,
            volumes = excluded.volumes, cmd = excluded.cmd, env = excluded.env,
            memory_mb = excluded.memory_mb, vcpus = excluded.vcpus, health = excluded.health,
            desired_state = excluded.desired_state, version = excluded.version,
            spec_hash = excluded.spec_hash, instance = NULL,
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        params![
            service,
            c.name,
            s.runtime,
            s.image,
            s.network,
            s.user,
            s.restart,
            s.ports,
            s.volumes,
            s.cmd,
            s.env,
            s.memory_mb,
            s.vcpus,
            s.health,
            desired.as_str(),
            fields::image_version(&c.image),
            hash,
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

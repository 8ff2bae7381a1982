//! What several commands assemble the same way: the runtime, and the
//! planner's view of declared components.

use std::collections::BTreeSet;

use super::Ctx;
use crate::exit::UsageError;
use crate::reconcile::Desired;
use crate::registry::{ComponentRow, DesiredState};
use crate::runtime::dispatch::Dispatch;
use crate::runtime::exec::Tool;
use crate::runtime::podman::Podman;
use crate::runtime::podman_cli::PodmanCli;
use crate::runtime::qemu::Qemu;
use crate::spec::ServiceSpec;
use crate::spec::hash::RuntimeSpec;

/// The podman client both runtimes share, recording its children once the
/// command holds the state lock; `needed_by` names what needs it in the error.
fn podman_cli(ctx: &Ctx, needed_by: &str) -> anyhow::Result<PodmanCli> {
    let tool = Tool::locate(
        "podman",
        ctx.config.podman.as_deref(),
        needed_by,
        ctx.config.verbose,
    )?;
    let tool = match ctx.children.get() {
        Some(children) => tool.recording(children),
        None => tool,
    };
    Ok(PodmanCli {
        tool,
        timeouts: ctx.config.podman_timeouts,
    })
}

/// Owns the runtimes of one command; [`Runtimes::dispatch`] lends the
/// combined view that the planner and executor use.
pub struct Runtimes {
    pub podman: Podman,
    pub vm: Qemu,
}

impl Runtimes {
    pub fn open(ctx: &Ctx, needed_by: &str) -> anyhow::Result<Self> {
        let config = &ctx.config;
        let cli = podman_cli(ctx, needed_by)?;
        // VMs are pulled with podman too; ops and qemu are located when a VM
        // needs them, so `status` and `logs` work without them.
        Ok(Runtimes {
            podman: Podman::new(cli.clone()),
            vm: Qemu::new(
                &config.state_dir,
                cli,
                config.unikernel.clone(),
                config.verbose,
            ),
        })
    }

    pub fn dispatch(&self) -> Dispatch<'_> {
        Dispatch {
            container: &self.podman,
            vm: &self.vm,
        }
    }
}

/// Every component of `specs`, with what the registry remembers of its last deploy.
pub fn desired<'a>(specs: &'a [ServiceSpec], rows: &[ComponentRow]) -> Vec<Desired<'a>> {
    let by_key: std::collections::BTreeMap<(&str, &str), &ComponentRow> = rows
        .iter()
        .map(|r| ((r.service.as_str(), r.name.as_str()), r))
        .collect();
    let mut out = Vec::new();
    for s in specs {
        for c in &s.components {
            let row = by_key.get(&(s.name.as_str(), c.name.as_str())).copied();
            out.push(Desired {
                service: &s.name,
                spec: c,
                desired: DesiredState::from_active(s.active),
                spec_hash: RuntimeSpec::of(c).hash(),
                deployed: row.and_then(|r| r.deployed.clone()),
                deployed_hash: row.and_then(|r| r.deployed_hash.clone()),
                image_id: None,
            });
        }
    }
    out
}

/// Instances the registry tracks that no spec declares: adopted ones, and
/// those of services whose file is gone (unless they are being pruned).
pub fn kept(specs: &[ServiceSpec], rows: &[ComponentRow], pruning: bool) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| !specs.iter().any(|s| s.name == r.service))
        .filter(|r| r.desired == DesiredState::Ignore || !pruning)
        .map(ComponentRow::instance)
        .chain(
            rows.iter()
                .filter(|r| r.desired == DesiredState::Ignore)
                .map(ComponentRow::instance),
        )
        .collect()
}

/// The instance names of registry rows.
pub fn known(rows: &[ComponentRow]) -> BTreeSet<String> {
    rows.iter().map(ComponentRow::instance).collect()
}

/// Parses `SERVICE` or `SERVICE/COMPONENT`.
pub fn parse_target(target: &str) -> (String, Option<String>) {
    match target.split_once('/') {
        Some((s, c)) => (s.to_string(), Some(c.to_string())),
        None => (target.to_string(), None),
    }
}

/// Whether naming an inactive service is an error (deploy) or just selects it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Refuse,
    Allow,
}

/// The components the command line names, as (service, component): every component of
/// every active service when `targets` is empty. An unknown name is a usage error.
pub fn declared_targets(
    targets: &[String],
    specs: &[ServiceSpec],
    inactive: Inactive,
) -> anyhow::Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    if targets.is_empty() {
        for s in specs.iter().filter(|s| s.active) {
            out.extend(
                s.components
                    .iter()
                    .map(|c| (s.name.clone(), c.name.clone())),
            );
        }
        return Ok(out);
    }
    for t in targets {
        let (service, component) = parse_target(t);
        let spec = specs.iter().find(|s| s.name == service).ok_or_else(|| {
            UsageError(format!(
                "unknown service `{service}`: no {service}.toml in the services directory"
            ))
        })?;
        if !spec.active && inactive == Inactive::Refuse {
            anyhow::bail!(
                "{service} is inactive (active = false in {}); set active = true to deploy it",
                spec.file.display()
            );
        }
        match component {
            Some(c) if spec.component(&c).is_none() => {
                return Err(
                    UsageError(format!("service `{service}` has no component `{c}`")).into(),
                );
            }
            Some(c) => {
                out.insert((service, c));
            }
            None => out.extend(
                spec.components
                    .iter()
                    .map(|c| (service.clone(), c.name.clone())),
            ),
        }
    }
    Ok(out)
}

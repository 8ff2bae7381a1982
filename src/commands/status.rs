//! `mcp status`: desired against observed state, one row per component,
//! with the reasons for any drift. One podman call, no lock, no writes (not
//! even a registry: before the first sync it shows the service files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;

use super::{Ctx, world};
use crate::cli::StatusArgs;
use crate::exit;
use crate::model::{RuntimeKind, STABLE_AFTER_SECS};
use crate::reconcile::drift::{Want, drift};
use crate::registry::{DesiredState, Registry};
use crate::runtime::{Instance, NEXT_SUFFIX, PREV_SUFFIX, Runtime, State};
use crate::spec::fields::image_version;
use crate::spec::{self, ServiceSpec, instance_name};

#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub service: String,
    pub component: String,
    pub runtime: RuntimeKind,
    pub desired: String,
    pub observed: String,
    pub exit_code: Option<i32>,
    pub image: String,
    pub version: String,
    /// The image id recorded at the last deploy (when known).
    pub image_id: Option<String>,
    /// The registry digest of the image deployed last (when known); `mcp
    /// update` compares it with the tag's digest in the registry.
    pub image_digest: Option<String>,
    /// The image the last rollout replaced, kept for a manual rollback.
    pub previous_image: Option<String>,
    pub uptime_seconds: Option<i64>,
    /// The service's file is gone: `sync --prune` would remove it.
    pub file_gone: bool,
    /// Labelled by mcp, yet neither declared nor in the registry.
    pub orphaned: bool,
    /// Restarts by the engine's restart policy, when it looks like a crash
    /// loop (exited, or up for less than a minute).
    pub restarts: Option<u64>,
    pub drift: Vec<String>,
    /// Only with `--health`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<super::status_health::HealthReport>,
}

fn observed_text(inst: Option<&Instance>) -> (String, Option<i32>) {
    match inst.map(|i| &i.state) {
        None => ("missing".into(), None),
        Some(State::Exited(code)) => ("exited".into(), Some(*code)),
        Some(s) => (s.describe(), None),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Seconds since a running instance started, tracked or not.
fn uptime(inst: Option<&Instance>, now: i64) -> Option<i64> {
    inst.filter(|i| i.state == State::Running)
        .and_then(|i| i.started_at)
        .map(|t| (now - t).max(0))
}

pub fn collect(
    registry: &Registry,
    observed: &[Instance],
    scope: &[String],
    services_dir: &Path,
    restarts: &BTreeMap<String, u64>,
) -> anyhow::Result<Vec<ComponentStatus>> {
    let rows = registry.components()?;
    let from_file: BTreeSet<String> = registry
        .services()?
        .into_iter()
        .filter(|s| s.origin == crate::registry::Origin::File)
        .map(|s| s.name)
        .collect();
    let has_file = |service: &str| services_dir.join(format!("{service}.toml")).is_file();
    let by_name: BTreeMap<&str, &Instance> =
        observed.iter().map(|i| (i.name.as_str(), i)).collect();
    let in_scope = |s: &str| scope.is_empty() || scope.iter().any(|n| n == s);
    let now = now();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for r in rows.iter().filter(|r| in_scope(&r.service)) {
        let name = r.instance();
        let inst = by_name.get(name.as_str()).copied();
        seen.insert(name.clone());
        let want = Want {
            desired: r.desired,
            image: &r.image,
            spec_hash: &r.spec_hash,
            deployed_hash: r.deployed_hash.as_deref(),
        };
        let mut reasons: Vec<String> = drift(&want, inst).iter().map(|d| d.reason()).collect();
        let restarted = restarts.get(&name).copied().filter(|n| *n > 0);
        if let Some(n) = restarted
            && r.desired == DesiredState::Running
        {
            reasons.push(format!(
                "crash loop: restarted {n} time{} by its restart policy",
                if n == 1 { "" } else { "s" }
            ));
        }
        let file_gone = from_file.contains(&r.service) && !has_file(&r.service);
        if file_gone {
            reasons.push("service file is gone (sync --prune removes it)".into());
        }
        for suffix in [NEXT_SUFFIX, PREV_SUFFIX] {
            let aside = format!("{name}{suffix}");
            if by_name.contains_key(aside.as_str()) {
                seen.insert(aside.clone());
                if r.desired != DesiredState::Ignore {
                    reasons.push(format!("interrupted replacement left {aside}"));
                }
            }
        }
        let (observed_state, exit_code) = observed_text(inst);
        let image = inst.map_or(r.image.clone(), |i| i.spec_image().to_string());
        out.push(ComponentStatus {
            service: r.service.clone(),
            component: r.name.clone(),
            runtime: r.runtime,
            desired: r.desired.as_str().into(),
            observed: observed_state,
            exit_code,
            version: image_version(&image),
            image,
            image_id: r.image_id.clone(),
            image_digest: r.image_digest.clone(),
            previous_image: r.previous_image.clone(),
            uptime_seconds: uptime(inst, now),
            file_gone,
            orphaned: false,
            restarts: restarted,
            drift: reasons,
            health: None,
        });
    }
    out.extend(undeclared(observed, &seen, &in_scope, services_dir));
    Ok(out)
}

/// Instances no registry row accounts for: labelled ones whose row is gone,
/// and untracked ones.
fn undeclared(
    observed: &[Instance],
    seen: &BTreeSet<String>,
    in_scope: &dyn Fn(&str) -> bool,
    services_dir: &Path,
) -> Vec<ComponentStatus> {
    let has_file = |service: &str| services_dir.join(format!("{service}.toml")).is_file();
    let mut out = Vec::new();
    for inst in observed.iter().filter(|i| !seen.contains(&i.name)) {
        let (service, component, reason, orphaned) = match inst.managed_identity() {
            Some((s, c)) if has_file(s) => (
                s.to_string(),
                c.to_string(),
                "not declared (sync removes it)",
                false,
            ),
            Some((s, c)) => (
                s.to_string(),
                c.to_string(),
                "orphaned: no service file and not in the registry (sync --prune removes it)",
                true,
            ),
            None => {
                let (s, c) = crate::reconcile::plan::split_instance_name(&inst.name);
                (s, c, "untracked (sync or adopt records it)", false)
            }
        };
        if !in_scope(&service) {
            continue;
        }
        let (observed_state, exit_code) = observed_text(Some(inst));
        out.push(ComponentStatus {
            service,
            component,
            runtime: inst.runtime,
            desired: "-".into(),
            observed: observed_state,
            exit_code,
            image: inst.spec_image().to_string(),
            version: image_version(inst.spec_image()),
            image_id: Some(inst.image_id.clone()).filter(|id| !id.is_empty()),
            image_digest: None,
            previous_image: None,
            uptime_seconds: uptime(Some(inst), now()),
            file_gone: false,
            orphaned,
            restarts: None,
            drift: vec![reason.into()],
            health: None,
        });
    }
    out
}

/// Status before the first sync (no registry yet): every component of the
/// service files, as not yet synced, beside whatever the runtime already has.
pub fn collect_unsynced(
    specs: &[ServiceSpec],
    observed: &[Instance],
    scope: &[String],
    services_dir: &Path,
) -> Vec<ComponentStatus> {
    let by_name: BTreeMap<&str, &Instance> =
        observed.iter().map(|i| (i.name.as_str(), i)).collect();
    let in_scope = |s: &str| scope.is_empty() || scope.iter().any(|n| n == s);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for s in specs.iter().filter(|s| in_scope(&s.name)) {
        for c in &s.components {
            let name = instance_name(&s.name, &c.name);
            let inst = by_name.get(name.as_str()).copied();
            seen.insert(name);
            let (observed_state, exit_code) = observed_text(inst);
            out.push(ComponentStatus {
                service: s.name.clone(),
                component: c.name.clone(),
                runtime: c.runtime,
                desired: DesiredState::from_active(s.active).as_str().into(),
                observed: observed_state,
                exit_code,
                version: image_version(&c.image),
                image: c.image.clone(),
                image_id: None,
                image_digest: None,
                previous_image: None,
                uptime_seconds: None,
                file_gone: false,
                orphaned: false,
                restarts: None,
                drift: vec![NOT_SYNCED.into()],
                health: None,
            });
        }
    }
    out.extend(undeclared(observed, &seen, &in_scope, services_dir));
    out
}

/// The drift reason of a declared component the registry has never seen.
pub const NOT_SYNCED: &str = "not yet synced (run mcp sync)";

pub fn run(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<u8> {
    // Read-only: a missing registry is reported, never created.
    let registry = Registry::open_existing(&ctx.config.db)?;
    let runtimes = world::Runtimes::open(ctx, "status")?;
    let runtime = runtimes.dispatch();
    let observed = runtime.list()?;
    let restarts = runtime.restart_counts(&crash_suspects(&observed))?;
    let dir = &ctx.config.services_dir;
    let mut status = match &registry {
        Some(registry) => collect(registry, &observed, &args.names, dir, &restarts)?,
        None => {
            let specs = if dir.exists() {
                spec::load_dir(dir)?
            } else {
                Vec::new()
            };
            if !ctx.out.quiet && !ctx.out.json {
                eprintln!(
                    "note: there is no registry yet at {} (mcp sync creates it); showing the service files in {}",
                    ctx.config.db.display(),
                    dir.display()
                );
            }
            collect_unsynced(&specs, &observed, &args.names, dir)
        }
    };
    super::names::check_known(&args.names, dir, status.iter().map(|s| s.service.as_str()))?;
    if args.health {
        let specs = spec::load_dir(&ctx.config.services_dir)
            .context("status --health reads each check from the service files")?;
        super::status_health::check_all(&runtime, &specs, &mut status);
    }
    let unhealthy = |s: &ComponentStatus| {
        s.health
            .as_ref()
            .is_some_and(|h| h.result == super::status_health::Verdict::Unhealthy)
    };
    let drifted = status.iter().any(|s| !s.drift.is_empty() || unhealthy(s));
    if ctx.out.json {
        ctx.out
            .print_json(&serde_json::json!({ "components": status }))?;
    } else if !ctx.out.quiet || drifted {
        let rows: Vec<Vec<String>> = status
            .iter()
            .map(|s| {
                vec![
                    s.service.clone(),
                    s.component.clone(),
                    s.runtime.to_string(),
                    s.desired.clone(),
                    match s.exit_code {
                        Some(c) => format!("{} ({c})", s.observed),
                        None => s.observed.clone(),
                    },
                    s.version.clone(),
                    s.uptime_seconds.map_or("-".into(), human_duration),
                    if s.drift.is_empty() {
                        "-".into()
                    } else {
                        s.drift.join("; ")
                    },
                ]
                .into_iter()
                .chain(
                    args.health
                        .then(|| s.health.as_ref().map_or("-".into(), |h| h.cell())),
                )
                .collect()
            })
            .collect();
        let mut header = vec![
            "SERVICE",
            "COMPONENT",
            "RUNTIME",
            "DESIRED",
            "OBSERVED",
            "VERSION",
            "UPTIME",
            "DRIFT",
        ];
        if args.health {
            header.push("HEALTH");
        }
        if rows.is_empty() && registry.is_none() {
            ctx.out
                .line("no components: no registry yet and no service files");
        } else if rows.is_empty() {
            ctx.out.line("no components in the registry (run mcp sync)");
        } else {
            ctx.out.line(&ctx.out.table(&header, &rows));
        }
    }
    Ok(if args.check && drifted {
        exit::PENDING
    } else {
        exit::SUCCESS
    })
}

pub fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Instances that may be crash-looping: exited, or up for less than
/// [`STABLE_AFTER_SECS`]. Only these cost a second podman call, so a
/// converged host's status stays one listing call.
fn crash_suspects(observed: &[Instance]) -> Vec<String> {
    let now = now();
    observed
        .iter()
        .filter(|i| i.runtime == RuntimeKind::Container)
        .filter(|i| match i.state {
            State::Exited(_) => true,
            State::Running => i.started_at.is_some_and(|t| now - t < STABLE_AFTER_SECS),
            _ => false,
        })
        .map(|i| i.name.clone())
        .collect()
}

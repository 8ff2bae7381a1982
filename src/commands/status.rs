//! `mcp status`: desired against observed state, one row per component,
//! with the reasons for any drift. One podman call, no lock, no writes.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Ctx, world};
use crate::cli::StatusArgs;
use crate::exit;
use crate::model::RuntimeKind;
use crate::reconcile::drift::{Want, drift};
use crate::registry::{DesiredState, Registry};
use crate::runtime::{Instance, NEXT_SUFFIX, PREV_SUFFIX, Runtime, State};
use crate::spec::fields::image_version;
use crate::spec::instance_name;

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
    /// The image the last rollout replaced, kept for a manual rollback.
    pub previous_image: Option<String>,
    pub uptime_seconds: Option<i64>,
    pub drift: Vec<String>,
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

pub fn collect(
    registry: &Registry,
    observed: &[Instance],
    scope: &[String],
) -> anyhow::Result<Vec<ComponentStatus>> {
    let rows = registry.components()?;
    let by_name: BTreeMap<&str, &Instance> =
        observed.iter().map(|i| (i.name.as_str(), i)).collect();
    let in_scope = |s: &str| scope.is_empty() || scope.iter().any(|n| n == s);
    let now = now();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in rows.iter().filter(|r| in_scope(&r.service)) {
        let name = instance_name(&r.service, &r.name);
        let inst = by_name.get(name.as_str()).copied();
        seen.insert(name.clone());
        let want = Want {
            desired: r.desired,
            image: &r.image,
            spec_hash: &r.spec_hash,
            deployed_hash: r.deployed_hash.as_deref(),
        };
        let mut reasons: Vec<String> = drift(&want, inst).iter().map(|d| d.reason()).collect();
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
            previous_image: r.previous_image.clone(),
            uptime_seconds: inst
                .filter(|i| i.state == State::Running)
                .and_then(|i| i.started_at)
                .map(|t| (now - t).max(0)),
            drift: reasons,
        });
    }
    for inst in observed.iter().filter(|i| !seen.contains(&i.name)) {
        let (service, component, reason) = match inst.managed_identity() {
            Some((s, c)) => (
                s.to_string(),
                c.to_string(),
                "not declared (sync removes it)",
            ),
            None => {
                let (s, c) = crate::reconcile::plan::split_instance_name(&inst.name);
                (s, c, "untracked (sync or adopt records it)")
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
            previous_image: None,
            uptime_seconds: None,
            drift: vec![reason.into()],
        });
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<u8> {
    let registry = Registry::open(&ctx.config.db)?;
    let runtimes = world::Runtimes::open(ctx, "status")?;
    let runtime = runtimes.dispatch();
    let observed = runtime.list()?;
    let status = collect(&registry, &observed, &args.names)?;
    let drifted = status.iter().any(|s| !s.drift.is_empty());
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
            })
            .collect();
        if rows.is_empty() {
            ctx.out.line("no components in the registry (run mcp sync)");
        } else {
            ctx.out.line(&ctx.out.table(
                &[
                    "SERVICE",
                    "COMPONENT",
                    "RUNTIME",
                    "DESIRED",
                    "OBSERVED",
                    "VERSION",
                    "UPTIME",
                    "DRIFT",
                ],
                &rows,
            ));
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

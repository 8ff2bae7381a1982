//! `mcp sync`: bring the registry, then the runtime, in line with the
//! service files. Safe to run from cron every minute: a no-op costs one
//! podman listing call and one registry transaction.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;

use super::{Ctx, world};
use crate::cli::SyncArgs;
use crate::exit::{self, UsageError};
use crate::progress::Progress;
use crate::reconcile::{self, Action, Executor, Intent, Orphan, Outcome, Plan, PlanInput};
use crate::registry::{ChangeKind, Registry, ServiceChange};
use crate::runtime::Runtime;
use crate::spec;

#[derive(Serialize)]
struct ActionReport<'a> {
    #[serde(flatten)]
    action: &'a Action,
    #[serde(flatten)]
    outcome: Option<&'a Outcome>,
}

pub fn run(ctx: &Ctx, args: &SyncArgs) -> anyhow::Result<u8> {
    let specs = spec::load_dir(&ctx.config.services_dir)?;
    // A dry run changes nothing, so it needs no lock.
    let _lock = if args.dry_run {
        None
    } else {
        Some(ctx.lock("sync")?)
    };
    let mut registry = Registry::open(&ctx.config.db)?;
    check_scope(&args.names, &specs, &registry)?;
    let runtimes = world::Runtimes::open(ctx, "sync")?;
    let runtime = runtimes.dispatch();
    let observed = runtime.list()?;

    // What the registry knew before the files speak: only that is proven mcp's.
    let known = world::known(&registry.components()?);
    let changes = registry.sync_desired(&specs, &args.names, args.prune, !args.dry_run)?;
    let rows = registry.components()?;
    let scoped_specs: Vec<spec::ServiceSpec> = specs
        .iter()
        .filter(|s| args.names.is_empty() || args.names.contains(&s.name))
        .cloned()
        .collect();
    let desired = world::desired(&scoped_specs, &rows);
    let input = PlanInput {
        desired,
        kept: world::kept(&specs, &rows, args.prune),
        observed: &observed,
        scope: (!args.names.is_empty())
            .then(|| args.names.iter().cloned().collect::<BTreeSet<_>>()),
        known,
        prune: args.prune,
    };
    let plan = reconcile::plan(&Intent::Converge, &input);
    let changed = changes.iter().any(is_change) || !plan.is_empty();

    if args.dry_run {
        print(ctx, true, &changes, &plan, &[])?;
        return Ok(if changed {
            exit::PENDING
        } else {
            exit::SUCCESS
        });
    }
    let progress = Progress::new(ctx.out.progress());
    let mut executor = Executor::new(&runtime, &progress, &mut registry, "sync")
        .jobs(args.jobs.unwrap_or_else(default_jobs));
    let outcomes = executor.apply(&plan, &input.desired, |_, _| {})?;
    print(ctx, false, &changes, &plan, &outcomes)?;
    let failed = failures(&plan.actions, &outcomes);
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} action{} failed; services that were running are still running:\n  {}",
            failed.len(),
            plan.actions.len(),
            if plan.actions.len() == 1 { "" } else { "s" },
            failed.join("\n  ")
        );
    }
    Ok(exit::SUCCESS)
}

/// One line per failed action, for the error message on stderr.
pub fn failures(actions: &[Action], outcomes: &[Outcome]) -> Vec<String> {
    actions
        .iter()
        .zip(outcomes)
        .filter_map(|(a, o)| match o {
            Outcome::Failed(e) => Some(format!(
                "{}/{} {}: {e}",
                a.service,
                a.component,
                a.action.as_str()
            )),
            _ => None,
        })
        .collect()
}

/// Twice the CPUs, at most 8: a podman call spends much of its time waiting
/// on storage and network setup, and on 2 CPUs `-j 4` beat `-j 2` in 6 of 7
/// paired cold converges of 20 services (BENCHMARKS.md).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .saturating_mul(2)
        .clamp(2, 8)
}

/// Names given on the command line must be services known somewhere.
fn check_scope(
    scope: &[String],
    specs: &[spec::ServiceSpec],
    registry: &Registry,
) -> anyhow::Result<()> {
    if scope.is_empty() {
        return Ok(());
    }
    let known = registry.services()?;
    for name in scope {
        if !specs.iter().any(|s| &s.name == name) && !known.iter().any(|s| &s.name == name) {
            return Err(UsageError(format!(
                "unknown service `{name}`: no {name}.toml in the services directory and none in the registry"
            ))
            .into());
        }
    }
    Ok(())
}

/// Whether a registry change is one: an unchanged service is not, and
/// neither is a kept orphan (its file is gone, nothing was done to it).
fn is_change(c: &ServiceChange) -> bool {
    !matches!(c.kind, ChangeKind::Unchanged | ChangeKind::Orphaned)
}

pub fn print(
    ctx: &Ctx,
    dry_run: bool,
    changes: &[ServiceChange],
    plan: &Plan,
    outcomes: &[Outcome],
) -> anyhow::Result<()> {
    let actions = &plan.actions;
    let changed: Vec<&ServiceChange> = changes.iter().filter(|c| is_change(c)).collect();
    // A kept orphan is reported on every run, but on stderr and not under
    // -q: nothing changed, so cron stays quiet.
    if !ctx.out.quiet && !ctx.out.json {
        for c in changes.iter().filter(|c| c.kind == ChangeKind::Orphaned) {
            eprintln!(
                "note: {}: its service file is gone; kept as it is (sync --prune removes it)",
                c.service
            );
        }
    }
    if ctx.out.json {
        let reports: Vec<ActionReport<'_>> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| ActionReport {
                action: a,
                outcome: outcomes.get(i),
            })
            .collect();
        return ctx.out.print_json(&json!({
            "dry_run": dry_run,
            "changed": !changed.is_empty() || !actions.is_empty(),
            "services": changes,
            "actions": reports,
            "orphans": plan.orphans,
        }));
    }
    print_orphans(ctx, &plan.orphans);
    if changed.is_empty() && actions.is_empty() {
        if !ctx.out.quiet {
            ctx.out.line("no changes");
        }
        return Ok(());
    }
    if !changed.is_empty() {
        let rows: Vec<Vec<String>> = changed
            .iter()
            .flat_map(|c| {
                c.changes
                    .iter()
                    .map(|line| vec![c.service.clone(), line.clone()])
            })
            .collect();
        let header = if dry_run {
            "REGISTRY (WOULD CHANGE)"
        } else {
            "REGISTRY"
        };
        ctx.out.line(&ctx.out.table(&["SERVICE", header], &rows));
    }
    if !actions.is_empty() {
        let rows: Vec<Vec<String>> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut row = vec![
                    format!("{}/{}", a.service, a.component),
                    a.action.as_str().to_string(),
                    if a.after.is_empty() {
                        a.cause.clone()
                    } else {
                        format!("{} (after {})", a.cause, a.after.join(", "))
                    },
                ];
                if !dry_run {
                    row.push(match outcomes.get(i) {
                        Some(Outcome::Ok) => "ok".into(),
                        Some(Outcome::Failed(e)) => format!("FAILED: {e}"),
                        Some(Outcome::Skipped) | None => "skipped".into(),
                    });
                }
                row
            })
            .collect();
        let headers: &[&str] = if dry_run {
            &["COMPONENT", "WOULD", "CAUSE"]
        } else {
            &["COMPONENT", "ACTION", "CAUSE", "OUTCOME"]
        };
        ctx.out.line(&ctx.out.table(headers, &rows));
    }
    Ok(())
}

/// Orphans go to stderr as a warning (cron mails it even under -q): they
/// may be a lost registry or an unmounted services dir, not garbage.
fn print_orphans(ctx: &Ctx, orphans: &[Orphan]) {
    if orphans.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = orphans
        .iter()
        .map(|o| {
            vec![
                o.instance.clone(),
                format!("{}/{}", o.service, o.component),
                o.runtime.to_string(),
                o.observed.clone(),
            ]
        })
        .collect();
    eprintln!(
        "mcp: warning: {} instance{} with mcp labels that no service file declares and the registry does not know (a lost registry, or a missing services dir?); left alone, `mcp sync --prune` removes them:\n{}",
        orphans.len(),
        if orphans.len() == 1 { "" } else { "s" },
        ctx.out.table(
            &["ORPHANED", "SERVICE/COMPONENT", "RUNTIME", "OBSERVED"],
            &rows
        )
    );
}

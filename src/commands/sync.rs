//! `mcp sync`: bring the registry, then the runtime, in line with the
//! service files. Safe to run from cron every minute.

use serde_json::json;

use super::Ctx;
use crate::cli::SyncArgs;
use crate::exit::{self, UsageError};
use crate::registry::{ChangeKind, Registry, ServiceChange};
use crate::spec;

pub fn run(ctx: &Ctx, args: &SyncArgs) -> anyhow::Result<u8> {
    let specs = spec::load_dir(&ctx.config.services_dir)?;
    let mut registry = Registry::open(&ctx.config.db)?;
    check_scope(&args.names, &specs, &registry)?;
    let changes = registry.sync_desired(&specs, &args.names, args.prune, !args.dry_run)?;
    let changed = changes.iter().any(|c| c.kind != ChangeKind::Unchanged);
    print_changes(ctx, &changes, args.dry_run)?;
    Ok(if args.dry_run && changed { exit::PENDING } else { exit::SUCCESS })
}

/// Names given on the command line must be services known somewhere.
fn check_scope(scope: &[String], specs: &[spec::ServiceSpec], registry: &Registry) -> anyhow::Result<()> {
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

fn print_changes(ctx: &Ctx, changes: &[ServiceChange], dry_run: bool) -> anyhow::Result<()> {
    let changed: Vec<&ServiceChange> = changes.iter().filter(|c| c.kind != ChangeKind::Unchanged).collect();
    if ctx.out.json {
        return ctx.out.print_json(&json!({
            "dry_run": dry_run,
            "changed": !changed.is_empty(),
            "services": changes,
        }));
    }
    if changed.is_empty() {
        if !ctx.out.quiet {
            ctx.out.line("no changes");
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = changed
        .iter()
        .flat_map(|c| c.changes.iter().map(|line| vec![c.service.clone(), line.clone()]))
        .collect();
    let header = if dry_run { "WOULD CHANGE" } else { "CHANGE" };
    ctx.out.line(&ctx.out.table(&["SERVICE", header], &rows));
    Ok(())
}

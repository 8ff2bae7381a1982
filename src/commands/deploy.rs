//! `mcp deploy`: roll out now. Pull first, then replace each component
//! behind its health gate; a failed rollout puts the old version back.

use std::collections::BTreeSet;

use super::{Ctx, sync, world};
use crate::cli::DeployArgs;
use crate::exit::{self, UsageError};
use crate::progress::Progress;
use crate::reconcile::{self, Executor, Intent, PlanInput};
use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::spec::{self, ServiceSpec};

/// The components named on the command line, as (service, component).
fn targets(args: &DeployArgs, specs: &[ServiceSpec]) -> anyhow::Result<BTreeSet<(String, String)>> {
    if args.targets.is_empty() && !args.all {
        return Err(UsageError(
            "name the services to deploy (SERVICE or SERVICE/COMPONENT), or use --all".into(),
        )
        .into());
    }
    // --all takes every active service, as an empty list does for sync.
    let named: &[String] = if args.all { &[] } else { &args.targets };
    world::declared_targets(named, specs, world::Inactive::Refuse)
}

pub fn run(ctx: &Ctx, args: &DeployArgs) -> anyhow::Result<u8> {
    let specs = spec::load_dir(&ctx.config.services_dir)?;
    let targets = targets(args, &specs)?;
    let _lock = ctx.lock("deploy")?;
    let scope: BTreeSet<String> = targets.iter().map(|(s, _)| s.clone()).collect();
    let scope_list: Vec<String> = scope.iter().cloned().collect();
    let mut registry = Registry::open(&ctx.config.db)?;
    let runtimes = world::Runtimes::open(ctx, "deploy")?;
    let runtime = runtimes.dispatch();
    let observed = runtime.list()?;

    let scoped: Vec<ServiceSpec> = specs
        .iter()
        .filter(|s| scope.contains(&s.name))
        .cloned()
        .collect();
    let rows = registry.components()?;
    let mut desired = world::desired(&scoped, &rows);

    let progress = Progress::new(ctx.out.progress());
    // Pull before anything is stopped: a missing image changes nothing.
    reconcile::pull(&runtime, &progress, &mut desired, &targets, args.pull)?;
    let changes = registry.sync_desired(&specs, &scope_list, false, true)?;
    let input = PlanInput {
        desired,
        kept: world::kept(&specs, &rows, false),
        observed: &observed,
        scope: Some(scope),
        known: world::known(&rows),
        prune: false,
    };
    let plan = reconcile::plan(&Intent::RollOut { targets }, &input);
    let mut executor = Executor::new(&runtime, &progress, &mut registry, "deploy")
        .jobs(args.jobs.unwrap_or_else(sync::default_jobs));
    let outcomes = executor.apply(&plan, &input.desired, |_, _| {})?;
    sync::print(ctx, false, &changes, &plan, &outcomes)?;
    let failed = sync::failures(&plan.actions, &outcomes);
    if !failed.is_empty() {
        anyhow::bail!("deploy failed:\n  {}", failed.join("\n  "));
    }
    Ok(exit::SUCCESS)
}

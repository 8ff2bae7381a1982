//! `mcp deploy`: roll out now. Pull first, then replace each component
//! behind its health gate; a failed rollout puts the old version back.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ctx, sync, world};
use crate::cli::DeployArgs;
use crate::exit::{self, UsageError};
use crate::progress::Progress;
use crate::reconcile::{self, Action, ActionKind, Executor, PlanInput};
use crate::registry::{DesiredState, Registry};
use crate::runtime::Runtime;
use crate::spec::{self, ServiceSpec, fields::image_version};

/// The components named on the command line, as (service, component).
fn targets(args: &DeployArgs, specs: &[ServiceSpec]) -> anyhow::Result<BTreeSet<(String, String)>> {
    if args.targets.is_empty() && !args.all {
        return Err(UsageError(
            "name the services to deploy (SERVICE or SERVICE/COMPONENT), or use --all".into(),
        )
        .into());
    }
    let mut out = BTreeSet::new();
    if args.all {
        for s in specs.iter().filter(|s| s.active) {
            out.extend(
                s.components
                    .iter()
                    .map(|c| (s.name.clone(), c.name.clone())),
            );
        }
        return Ok(out);
    }
    for t in &args.targets {
        let (service, component) = world::parse_target(t);
        let spec = specs.iter().find(|s| s.name == service).ok_or_else(|| {
            UsageError(format!(
                "unknown service `{service}`: no {service}.toml in the services directory"
            ))
        })?;
        if !spec.active {
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

pub fn run(ctx: &Ctx, args: &DeployArgs) -> anyhow::Result<u8> {
    let specs = spec::load_dir(&ctx.config.services_dir)?;
    let targets = targets(args, &specs)?;
    let _lock = ctx.lock("deploy")?;
    let scope: BTreeSet<String> = targets.iter().map(|(s, _)| s.clone()).collect();
    let scope_list: Vec<String> = scope.iter().cloned().collect();
    let mut registry = Registry::open(&ctx.config.db)?;
    let runtimes = world::Runtimes::open(&ctx.config, "deploy")?;
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
    let mut pulled: BTreeMap<String, Option<String>> = BTreeMap::new();
    for d in desired.iter_mut() {
        if !targets.contains(&(d.service.to_string(), d.spec.name.clone())) {
            continue;
        }
        if !pulled.contains_key(&d.spec.image) {
            let line = progress.line(
                &format!("{}/{}", d.service, d.spec.name),
                &format!("pull {}", d.spec.image),
            );
            let id = runtime.pull(&d.spec.image, args.pull);
            line.finish(if id.is_ok() { "ok" } else { "FAILED" });
            let id = id.map_err(|e| {
                e.context(format!(
                    "deploying {}/{}: nothing was changed",
                    d.service, d.spec.name
                ))
            })?;
            pulled.insert(d.spec.image.clone(), id);
        }
        d.image_id = pulled.get(&d.spec.image).cloned().flatten();
    }

    let changes = registry.sync_desired(&specs, &scope_list, false, true)?;
    let input = PlanInput {
        desired,
        kept: world::kept(&specs, &rows, false),
        observed: &observed,
        scope: Some(scope),
    };
    let mut plan = reconcile::plan(&input);
    // Every target is replaced, changed or not (a tag may have moved).
    plan.actions.retain(|a| {
        !(targets.contains(&(a.service.clone(), a.component.clone()))
            && matches!(
                a.action,
                ActionKind::Create | ActionKind::Recreate | ActionKind::Start
            ))
    });
    for (index, d) in input.desired.iter().enumerate() {
        if !targets.contains(&(d.service.to_string(), d.spec.name.clone()))
            || d.desired != DesiredState::Running
        {
            continue;
        }
        let name = d.instance();
        let current = observed.iter().find(|i| i.name == name);
        let to = image_version(&d.spec.image);
        let cause = match current {
            None => format!("deploy {to} (not running yet)"),
            Some(i) if i.spec_image() != d.spec.image => {
                format!(
                    "deploy {}",
                    reconcile::plan::describe_image_change(i.spec_image(), &d.spec.image)
                )
            }
            Some(i) if d.image_id.as_deref().is_some_and(|id| id != i.image_id) => {
                format!("deploy {to} (new image id)")
            }
            Some(_) => format!("redeploy {to}"),
        };
        plan.actions.push(Action {
            action: ActionKind::Recreate,
            service: d.service.to_string(),
            component: d.spec.name.clone(),
            instance: name,
            cause,
            desired: Some(index),
            image: None,
            observed: None,
            runtime: None,
        });
    }

    let mut executor = Executor {
        runtime: &runtime as &dyn Runtime,
        progress: &progress,
        registry: &mut registry,
        command: "deploy",
        jobs: args.jobs.unwrap_or_else(sync::default_jobs),
    };
    let outcomes = executor.apply(&plan, &input.desired, |_, _| {})?;
    sync::print(ctx, false, &changes, &plan.actions, &outcomes)?;
    let failed = sync::failures(&plan.actions, &outcomes);
    if !failed.is_empty() {
        anyhow::bail!("deploy failed:\n  {}", failed.join("\n  "));
    }
    Ok(exit::SUCCESS)
}

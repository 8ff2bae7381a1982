//! `mcp adopt`: record untracked containers in the registry as `ignore`,
//! and optionally write a service file that describes them exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use anyhow::Context;
use serde::Serialize;

use super::{Ctx, sync, world};
use crate::cli::AdoptArgs;
use crate::exit::{self, UsageError};
use crate::reconcile::plan::split_instance_name;
use crate::reconcile::{self, Detail, Executor, Intent, PlanInput, Silent};
use crate::registry::Registry;
use crate::runtime::{Instance, NEXT_SUFFIX, PREV_SUFFIX, Runtime};
use crate::spec::{self, fields, instance_name};

#[derive(Serialize)]
struct Adopted {
    container: String,
    service: String,
    component: String,
    image: String,
    spec_file: Option<String>,
}

pub fn run(ctx: &Ctx, args: &AdoptArgs) -> anyhow::Result<u8> {
    if args.containers.is_empty() && !args.all {
        return Err(UsageError("name the containers to adopt, or use --all".into()).into());
    }
    let _lock = ctx.lock("adopt")?;
    let mut registry = Registry::open(&ctx.config.db)?;
    let runtimes = world::Runtimes::open(ctx, "adopt")?;
    // Only containers are adopted: every VM under the state dir is mcp's.
    let containers: &dyn Runtime = &runtimes.podman;
    let observed = containers.list()?;
    let tracked: BTreeSet<String> = registry
        .components()?
        .iter()
        .flat_map(|r| {
            let n = instance_name(&r.service, &r.name);
            [format!("{n}{NEXT_SUFFIX}"), format!("{n}{PREV_SUFFIX}"), n]
        })
        .collect();
    let untracked: Vec<&Instance> = observed
        .iter()
        .filter(|i| !tracked.contains(&i.name))
        .collect();
    let chosen: Vec<&Instance> = if args.all {
        untracked
    } else {
        let mut chosen = Vec::new();
        for name in &args.containers {
            match observed.iter().find(|i| &i.name == name) {
                None => anyhow::bail!("no container named `{name}` (see podman ps -a)"),
                Some(_) if tracked.contains(name) => {
                    anyhow::bail!("`{name}` is already in the registry")
                }
                Some(i) => chosen.push(i),
            }
        }
        chosen
    };

    let mut identities = Vec::new();
    for inst in &chosen {
        let (service, component) = match inst.managed_identity() {
            Some((s, c)) => (s.to_string(), c.to_string()),
            None => split_instance_name(&inst.name),
        };
        if args.write_spec && instance_name(&service, &component) != inst.name {
            anyhow::bail!(
                "cannot write a spec for `{}`: mcp names containers <service>-<component>; rename it first (podman rename)",
                inst.name
            );
        }
        identities.push((service, component));
    }
    let input = PlanInput {
        desired: Vec::new(),
        kept: BTreeSet::new(),
        observed: &observed,
        scope: None,
    };
    let intent = Intent::Adopt {
        instances: chosen.iter().map(|i| i.name.clone()).collect(),
    };
    let plan = reconcile::plan(&intent, &input);
    let outcomes =
        Executor::new(containers, &Silent, &mut registry, "adopt").apply(&plan, &[], |_, _| {})?;
    let failed = sync::failures(&plan.actions, &outcomes);
    if !failed.is_empty() {
        anyhow::bail!("adopt failed:\n  {}", failed.join("\n  "));
    }
    let mut adopted: Vec<Adopted> = plan
        .actions
        .iter()
        .map(|a| Adopted {
            container: a.instance.clone(),
            service: a.service.clone(),
            component: a.component.clone(),
            image: match &a.detail {
                Detail::Adopt { image, .. } => image.clone(),
                _ => String::new(),
            },
            spec_file: None,
        })
        .collect();

    if args.write_spec {
        write_specs(ctx, containers, &mut registry, &mut adopted)?;
    }
    if ctx.out.json {
        ctx.out
            .print_json(&serde_json::json!({ "adopted": adopted }))?;
    } else if adopted.is_empty() {
        if !ctx.out.quiet {
            ctx.out.line("nothing to adopt");
        }
    } else {
        let rows: Vec<Vec<String>> = adopted
            .iter()
            .map(|a| {
                vec![
                    a.container.clone(),
                    format!("{}/{}", a.service, a.component),
                    a.image.clone(),
                    a.spec_file.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        ctx.out.line(
            &ctx.out
                .table(&["CONTAINER", "ADOPTED AS", "IMAGE", "SPEC FILE"], &rows),
        );
    }
    Ok(exit::SUCCESS)
}

/// Writes one service file per adopted service, describing its containers
/// as they run, and records them as deployed from it so that the next sync
/// reports no changes and recreates nothing.
fn write_specs(
    ctx: &Ctx,
    containers: &dyn Runtime,
    registry: &mut Registry,
    adopted: &mut [Adopted],
) -> anyhow::Result<()> {
    let mut by_service: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, a) in adopted.iter().enumerate() {
        by_service.entry(a.service.clone()).or_default().push(i);
    }
    let dir = &ctx.config.services_dir;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (service, indices) in by_service {
        if !fields::is_service_name(&service) {
            anyhow::bail!(
                "cannot write a spec for service `{service}`: not a valid service name ([a-z0-9][a-z0-9_]*)"
            );
        }
        let path = dir.join(format!("{service}.toml"));
        if path.exists() {
            anyhow::bail!(
                "{} already exists; not overwritten (remove it or adopt without --write-spec)",
                path.display()
            );
        }
        let mut components = Vec::new();
        for &i in &indices {
            let c = &adopted[i];
            components.push(containers.describe(&c.container, &c.component)?);
        }
        let mut doc = toml::Table::new();
        doc.insert(
            "comment".into(),
            "adopted by mcp from running containers".into(),
        );
        doc.insert("components".into(), toml::Value::Array(components));
        let text = toml::to_string(&doc).context("rendering the service file")?;
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;

        // Validate what was written against everything else before recording it.
        let specs = match spec::load_dir(dir) {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e.context(format!(
                    "the spec written for `{service}` did not validate; removed it"
                )));
            }
        };
        registry.sync_desired(&specs, std::slice::from_ref(&service), false, true)?;
        let rows = registry.components()?;
        let one: Vec<spec::ServiceSpec> = specs.into_iter().filter(|s| s.name == service).collect();
        let input = PlanInput {
            desired: world::desired(&one, &rows),
            kept: BTreeSet::new(),
            observed: &[],
            scope: None,
        };
        let intent = Intent::Record {
            targets: indices
                .iter()
                .map(|&i| (service.clone(), adopted[i].component.clone()))
                .collect(),
            source: path.display().to_string(),
        };
        let plan = reconcile::plan(&intent, &input);
        let outcomes = Executor::new(containers, &Silent, registry, "adopt").apply(
            &plan,
            &input.desired,
            |_, _| {},
        )?;
        let failed = sync::failures(&plan.actions, &outcomes);
        if !failed.is_empty() {
            anyhow::bail!("adopt failed:\n  {}", failed.join("\n  "));
        }
        for &i in &indices {
            adopted[i].spec_file = Some(path.display().to_string());
        }
    }
    Ok(())
}

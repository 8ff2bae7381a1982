//! `mcp adopt`: record untracked containers in the registry as `ignore`,
//! and optionally write a service file that describes them exactly.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Ctx, sync, world};
use crate::cli::AdoptArgs;
use crate::exit::{self, UsageError};
use crate::reconcile::plan::split_instance_name;
use crate::reconcile::{self, Detail, Executor, Intent, PlanInput, Silent};
use crate::registry::{DesiredState, Registry};
use crate::runtime::{Instance, NEXT_SUFFIX, PREV_SUFFIX, Runtime};
use crate::spec::instance_name;

#[derive(Serialize)]
pub(super) struct Adopted {
    pub container: String,
    pub service: String,
    pub component: String,
    pub image: String,
    pub spec_file: Option<String>,
    /// What the operator should know about the file (its mode, or that it
    /// already declared the component).
    pub spec_note: Option<String>,
    /// What the container has that a service file cannot say, so the spec
    /// written for it would not recreate it exactly (empty: faithful).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_expressed: Vec<String>,
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
    let rows = registry.components()?;
    let tracked: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| {
            let n = r.instance();
            [format!("{n}{NEXT_SUFFIX}"), format!("{n}{PREV_SUFFIX}"), n]
        })
        .collect();
    // With --write-spec, a tracked instance mcp does not manage yet may be
    // taken over: one recorded as `ignore` (sync records untracked ones so),
    // or a label-less one that holds a declared component's name (a clash).
    let takeover = |inst: &Instance| {
        args.write_spec
            && rows.iter().any(|r| {
                r.instance() == inst.name
                    && (r.desired == DesiredState::Ignore
                        || reconcile::plan::is_clash(Some(inst), r.deployed_hash.as_deref()))
            })
    };
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
                None => {
                    return Err(UsageError(format!(
                        "no container named `{name}` (see podman ps -a)"
                    ))
                    .into());
                }
                Some(i) if tracked.contains(name) && !takeover(i) => {
                    anyhow::bail!(
                        "`{name}` is already in the registry{}",
                        if args.write_spec {
                            ""
                        } else {
                            " (with --write-spec, an ignored or clashing one is taken over)"
                        }
                    )
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
        known: BTreeSet::new(),
        prune: false,
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
            spec_note: None,
            not_expressed: Vec::new(),
        })
        .collect();

    if args.write_spec {
        super::adopt_spec::write_specs(ctx, containers, &mut registry, &mut adopted)?;
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
        for note in adopted.iter().filter_map(|a| a.spec_note.as_deref()) {
            ctx.out.line(note);
        }
        for a in adopted.iter().filter(|a| !a.not_expressed.is_empty()) {
            eprintln!(
                "note: {} cannot say everything about container {}; recreating it from the file loses: {}",
                a.spec_file.as_deref().unwrap_or("the service file"),
                a.container,
                a.not_expressed.join("; ")
            );
        }
    }
    Ok(exit::SUCCESS)
}

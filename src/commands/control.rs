//! `mcp stop|start|restart SERVICE[/COMPONENT]...`: act now, by hand, and
//! record the matching desired state, saying when a service file disagrees
//! (the next sync follows the file).

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Ctx, world};
use crate::exit::{self, UsageError};
use crate::progress::Progress;
use crate::reconcile::{self, Detail, Executor, Intent, Outcome, PlanInput};
use crate::registry::{ComponentRow, DesiredState, Registry};
use crate::runtime::Runtime;
use crate::spec;

pub use crate::reconcile::Verb;

#[derive(Serialize)]
struct Done {
    service: String,
    component: String,
    action: &'static str,
    outcome: String,
    /// Whether anything was done (`already stopped` is not a change): with
    /// `-q` only changes and failures are printed.
    #[serde(skip)]
    changed: bool,
}

/// Registry rows named by `SERVICE` or `SERVICE/COMPONENT` targets.
fn select<'a>(
    rows: &'a [ComponentRow],
    targets: &[String],
) -> anyhow::Result<Vec<&'a ComponentRow>> {
    let mut out: Vec<&ComponentRow> = Vec::new();
    for t in targets {
        let (service, component) = world::parse_target(t);
        let matched: Vec<&ComponentRow> = rows
            .iter()
            .filter(|r| r.service == service && component.as_ref().is_none_or(|c| &r.name == c))
            .collect();
        if matched.is_empty() {
            return Err(UsageError(format!("unknown component `{t}` (see mcp status)")).into());
        }
        if let Some(r) = matched.iter().find(|r| r.desired == DesiredState::Ignore) {
            anyhow::bail!(
                "{}/{} is adopted (desired ignore): mcp does not manage it; use podman directly, or declare it in a service file",
                r.service,
                r.name
            );
        }
        for r in matched {
            if !out
                .iter()
                .any(|o| o.service == r.service && o.name == r.name)
            {
                out.push(r);
            }
        }
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, targets: &[String], verb: Verb) -> anyhow::Result<u8> {
    let _lock = ctx.lock(verb.as_str())?;
    let mut registry = Registry::open(&ctx.config.db)?;
    let rows = registry.components()?;
    let chosen = select(&rows, targets)?;
    let runtimes = world::Runtimes::open(ctx, verb.as_str())?;
    let runtime = runtimes.dispatch();
    let observed = runtime.list()?;
    // For the planner's view of the files and the notes below; a broken
    // file must not block a hands-on stop.
    let specs = spec::load_dir(&ctx.config.services_dir).unwrap_or_default();
    let input = PlanInput {
        desired: world::desired(&specs, &rows),
        kept: BTreeSet::new(),
        observed: &observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    let intent = Intent::SetState {
        targets: chosen
            .iter()
            .map(|r| (r.service.clone(), r.name.clone()))
            .collect(),
        verb,
    };
    let plan = reconcile::plan(&intent, &input);
    // What the files rule out is declined whole, before anything is recorded.
    let declined: Vec<&str> = plan
        .actions
        .iter()
        .filter_map(|a| match &a.detail {
            Detail::Declined(why) => Some(why.as_str()),
            _ => None,
        })
        .collect();
    if !declined.is_empty() {
        anyhow::bail!(
            "{} changed nothing:\n  {}",
            verb.as_str(),
            declined.join("\n  ")
        );
    }

    // What is wanted is recorded before anything is done: a run killed half
    // way leaves the next sync converging towards it.
    let desired = if verb == Verb::Stop {
        DesiredState::Stopped
    } else {
        DesiredState::Running
    };
    // Every component acted on, including those `requires` added.
    for a in &plan.actions {
        registry.set_desired(&a.service, &a.component, desired)?;
    }
    let progress = Progress::new(ctx.out.progress());
    let outcomes = Executor::new(&runtime, &progress, &mut registry, verb.as_str()).apply(
        &plan,
        &input.desired,
        |_, _| {},
    )?;

    let mut done = Vec::new();
    let mut notes = Vec::new();
    let mut failed = Vec::new();
    for (a, o) in plan.actions.iter().zip(&outcomes) {
        let outcome = match (o, &a.detail) {
            (Outcome::Ok, Detail::AlreadyDone) if verb == Verb::Stop => "already stopped".into(),
            (Outcome::Ok, Detail::AlreadyDone) => "already running".into(),
            (Outcome::Ok, _) => match verb {
                Verb::Stop => "stopped",
                Verb::Start => "started",
                Verb::Restart => "restarted",
            }
            .to_string(),
            (Outcome::Failed(e), _) => format!("failed: {e}"),
            (Outcome::Skipped, _) => "skipped".into(),
        };
        if !matches!(o, Outcome::Ok) {
            failed.push(format!("{}/{}: {outcome}", a.service, a.component));
        }
        let changed = !matches!((o, &a.detail), (Outcome::Ok, Detail::AlreadyDone));
        if let Some(s) = specs
            .iter()
            .find(|s| s.name == a.service)
            .filter(|_| changed || !ctx.out.quiet)
        {
            if verb == Verb::Stop && s.active {
                notes.push(format!(
                    "{} says active = true: the next sync starts {}/{} again (set active = false to keep it stopped)",
                    s.file.display(),
                    a.service,
                    a.component
                ));
            } else if verb != Verb::Stop && !s.active {
                notes.push(format!(
                    "{} says active = false: the next sync stops {}/{} again (set active = true to keep it running)",
                    s.file.display(),
                    a.service,
                    a.component
                ));
            }
        }
        done.push(Done {
            service: a.service.clone(),
            component: a.component.clone(),
            action: verb.as_str(),
            outcome,
            changed,
        });
    }

    if ctx.out.json {
        ctx.out
            .print_json(&serde_json::json!({ "actions": done, "notes": notes }))?;
    } else {
        let rows: Vec<Vec<String>> = done
            .iter()
            .filter(|d| d.changed || !ctx.out.quiet)
            .map(|d| {
                vec![
                    format!("{}/{}", d.service, d.component),
                    d.action.into(),
                    d.outcome.clone(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            ctx.out
                .line(&ctx.out.table(&["COMPONENT", "ACTION", "OUTCOME"], &rows));
        }
        for n in &notes {
            eprintln!("note: {n}");
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{} failed:\n  {}", verb.as_str(), failed.join("\n  "));
    }
    Ok(exit::SUCCESS)
}

//! `mcp stop|start|restart SERVICE[/COMPONENT]...`: act now, by hand, and
//! record the matching desired state, saying when a service file disagrees
//! (the next sync follows the file).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Ctx, world};
use crate::exit::{self, UsageError};
use crate::reconcile::apply::STOP_TIMEOUT;
use crate::registry::{ComponentRow, DesiredState, NewEvent, Registry};
use crate::runtime::{Instance, Runtime, State};
use crate::spec::{self, instance_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Stop,
    Start,
    Restart,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Stop => "stop",
            Verb::Start => "start",
            Verb::Restart => "restart",
        }
    }
}

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
    let registry = Registry::open(&ctx.config.db)?;
    let rows = registry.components()?;
    let chosen = select(&rows, targets)?;
    let runtimes = world::Runtimes::open(&ctx.config, verb.as_str())?;
    let runtime = runtimes.dispatch();
    let observed: BTreeMap<String, Instance> = runtime
        .list()?
        .into_iter()
        .map(|i| (i.name.clone(), i))
        .collect();
    // Only for the notes below: a broken file must not block a hands-on stop.
    let specs = spec::load_dir(&ctx.config.services_dir).unwrap_or_default();

    let mut done = Vec::new();
    let mut notes = Vec::new();
    let mut failed = Vec::new();
    for r in chosen {
        let name = instance_name(&r.service, &r.name);
        let running = observed
            .get(&name)
            .is_some_and(|i| i.state == State::Running);
        let desired = if verb == Verb::Stop {
            DesiredState::Stopped
        } else {
            DesiredState::Running
        };
        registry.set_desired(&r.service, &r.name, desired)?;
        let result = match (verb, observed.get(&name)) {
            (_, None) if verb != Verb::Stop => Err(anyhow::anyhow!(
                "{name} does not exist yet; run mcp sync (or mcp deploy {}) to create it",
                r.service
            )),
            (Verb::Stop, _) if !running => Ok("already stopped"),
            (Verb::Stop, _) => runtime.stop(&name, STOP_TIMEOUT).map(|()| "stopped"),
            (Verb::Start, _) if running => Ok("already running"),
            (Verb::Start, _) => runtime.start(&name).map(|()| "started"),
            (Verb::Restart, _) => (|| {
                if running {
                    runtime.stop(&name, STOP_TIMEOUT)?;
                }
                runtime.start(&name)
            })()
            .map(|()| "restarted"),
        };
        let outcome = match &result {
            Ok(what) => what.to_string(),
            Err(e) => format!("failed: {e:#}"),
        };
        registry.record_event(&NewEvent {
            command: verb.as_str(),
            service: &r.service,
            component: Some(&r.name),
            action: verb.as_str(),
            detail: "by hand",
            outcome: if result.is_ok() { "ok" } else { &outcome },
        })?;
        if result.is_err() {
            failed.push(format!("{}/{}: {outcome}", r.service, r.name));
        } else {
            let observed = if verb == Verb::Stop {
                "exited"
            } else {
                "running"
            };
            registry.set_observed(&r.service, &r.name, observed)?;
        }
        let changed = !matches!(result, Ok("already stopped" | "already running"));
        if let Some(s) = specs
            .iter()
            .find(|s| s.name == r.service)
            .filter(|_| changed || !ctx.out.quiet)
        {
            if verb == Verb::Stop && s.active {
                notes.push(format!(
                    "{} says active = true: the next sync starts {}/{} again (set active = false to keep it stopped)",
                    s.file.display(),
                    r.service,
                    r.name
                ));
            } else if verb != Verb::Stop && !s.active {
                notes.push(format!(
                    "{} says active = false: the next sync stops {}/{} again (set active = true to keep it running)",
                    s.file.display(),
                    r.service,
                    r.name
                ));
            }
        }
        done.push(Done {
            service: r.service.clone(),
            component: r.name.clone(),
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

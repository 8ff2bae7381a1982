//! The executor: applies a plan through the runtime, independent components
//! in parallel, recording every outcome in the registry as it lands and
//! reporting outcomes in plan order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::health::wait_healthy;
use super::plan::{Action, ActionKind, Desired, Plan};
use crate::registry::{DesiredState, NewEvent, Registry};
use crate::runtime::{CreateRequest, NEXT_SUFFIX, PREV_SUFFIX, Runtime};
use crate::spec::hash::RuntimeSpec;

pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What became of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome", content = "error")]
pub enum Outcome {
    Ok,
    Failed(String),
    /// Not attempted because an earlier action on the same component failed.
    Skipped,
}

/// The spec as deployed, stored in the registry to name changed fields later.
pub fn deployed_json(d: &Desired<'_>) -> String {
    let mut value = serde_json::to_value(RuntimeSpec::of(d.spec)).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("image".into(), d.spec.image.clone().into());
    }
    value.to_string()
}

/// How far a replacement got; a rollback undoes exactly these steps.
#[derive(Debug, Default)]
struct Swap {
    old_stopped: bool,
    old_aside: bool,
    new_in_place: bool,
}

/// Replaces a component's instance without losing it: create the new one
/// aside, swap names, start it, gate it, and put the old one back if any
/// step fails. Until the old one is stopped nothing has changed.
pub fn replace(runtime: &dyn Runtime, service: &str, d: &Desired<'_>) -> anyhow::Result<()> {
    let name = d.instance();
    let next = format!("{name}{NEXT_SUFFIX}");
    let prev = format!("{name}{PREV_SUFFIX}");
    let req = CreateRequest {
        name: &next,
        service,
        spec: d.spec,
        spec_hash: &d.spec_hash,
    };
    runtime.preflight(&req)?;
    let old = runtime.state(&name)?;
    let old_running = old == Some(crate::runtime::State::Running);
    runtime.remove(&next)?;
    // Creating pulls a missing image; a bad image fails here, old one untouched.
    if let Err(e) = runtime.create(&req) {
        let _ = runtime.remove(&next);
        return Err(e);
    }
    let mut swap = Swap::default();
    let swapped = (|| -> anyhow::Result<()> {
        if old_running {
            runtime.stop(&name, d.spec.stop_timeout)?;
            swap.old_stopped = true;
        }
        if old.is_some() {
            runtime.rename(&name, &prev)?;
            swap.old_aside = true;
        }
        runtime.rename(&next, &name)?;
        swap.new_in_place = true;
        runtime.start(&name)?;
        wait_healthy(runtime, &name, d.spec)
    })();
    let Err(why) = swapped else {
        // The next sync removes a .prev left here if this removal fails.
        runtime.remove(&prev)?;
        return Ok(());
    };
    if old.is_none() {
        return Err(why.context(format!("the new {name} failed")));
    }
    let rollback = (|| -> anyhow::Result<()> {
        runtime.remove(if swap.new_in_place { &name } else { &next })?;
        if swap.old_aside {
            runtime.rename(&prev, &name)?;
        }
        if swap.old_stopped {
            runtime.start(&name)?;
        }
        Ok(())
    })();
    match rollback {
        Ok(()) => Err(why.context(format!(
            "the new {name} failed; the previous version was put back{}",
            if old_running { " and is running" } else { "" }
        ))),
        Err(e) => Err(why.context(format!(
            "the new {name} failed and putting the previous version back failed too ({e:#}); the next sync retries"
        ))),
    }
}

fn execute(runtime: &dyn Runtime, a: &Action, d: Option<&Desired<'_>>) -> anyhow::Result<()> {
    let spec = || d.context("internal: action without its component spec");
    match a.action {
        ActionKind::Create => {
            let d = spec()?;
            let req = CreateRequest {
                name: &a.instance,
                service: &a.service,
                spec: d.spec,
                spec_hash: &d.spec_hash,
            };
            runtime.preflight(&req)?;
            runtime.run(&req)?;
            if d.spec.health.is_some() {
                wait_healthy(runtime, &a.instance, d.spec)?;
            }
            Ok(())
        }
        ActionKind::Recreate => replace(runtime, &a.service, spec()?),
        ActionKind::Start => runtime.start(&a.instance),
        ActionKind::Stop => {
            runtime.stop(&a.instance, d.map_or(STOP_TIMEOUT, |d| d.spec.stop_timeout))
        }
        ActionKind::Remove => runtime.remove(&a.instance),
        ActionKind::Restore => {
            let d = spec()?;
            runtime.remove(&a.instance)?;
            runtime.rename(&format!("{}{PREV_SUFFIX}", a.instance), &a.instance)?;
            if d.desired == DesiredState::Running {
                runtime.start(&a.instance)?;
            }
            Ok(())
        }
        ActionKind::Adopt => Ok(()),
    }
}

pub struct Executor<'a> {
    pub runtime: &'a dyn Runtime,
    pub progress: &'a crate::progress::Progress,
    pub registry: &'a mut Registry,
    pub command: &'a str,
    pub jobs: usize,
}

impl Executor<'_> {
    /// Applies the plan; `report` sees each action's outcome in plan order.
    pub fn apply(
        &mut self,
        plan: &Plan,
        desired: &[Desired<'_>],
        mut report: impl FnMut(&Action, &Outcome),
    ) -> anyhow::Result<Vec<Outcome>> {
        let n = plan.actions.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        // Intent first: a kill at any later instant leaves these `pending`
        // (shown as interrupted), and the runtime state is recovered by the
        // next plan from labels and the .next/.prev names.
        let intents: Vec<NewEvent<'_>> = plan
            .actions
            .iter()
            .map(|a| NewEvent {
                command: self.command,
                service: &a.service,
                component: Some(&a.component),
                action: a.action.as_str(),
                detail: &a.cause,
                outcome: "pending",
            })
            .collect();
        let ids = self.registry.begin_events(&intents)?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        let mut reported = 0;

        // Networks are shared between components: make them before the parallel part.
        let networks: BTreeSet<&str> = plan
            .actions
            .iter()
            .filter(|a| matches!(a.action, ActionKind::Create | ActionKind::Recreate))
            .filter_map(|a| a.desired.and_then(|i| desired.get(i)))
            .filter_map(|d| d.spec.network.as_deref())
            .collect();
        for net in networks {
            self.runtime.ensure_network(net)?;
        }

        // Actions on one component run in order; components run in parallel.
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, a) in plan.actions.iter().enumerate() {
            if a.action == ActionKind::Adopt {
                let outcome = self.record(ids[i], a, desired, Ok(()));
                outcomes[i] = Some(outcome);
                continue;
            }
            groups
                .entry((a.service.clone(), a.component.clone()))
                .or_default()
                .push(i);
        }
        let queue: Mutex<VecDeque<Vec<usize>>> = Mutex::new(groups.into_values().collect());
        let workers = self
            .jobs
            .max(1)
            .min(queue.lock().map(|q| q.len()).unwrap_or(1))
            .max(1);
        let (tx, rx) = mpsc::channel::<(usize, anyhow::Result<()>, bool)>();

        let runtime = self.runtime;
        let progress = self.progress;
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let queue = &queue;
                scope.spawn(move || {
                    loop {
                        let group = match queue.lock() {
                            Ok(mut q) => q.pop_front(),
                            Err(_) => None,
                        };
                        let Some(group) = group else { break };
                        let mut failed = false;
                        for i in group {
                            let a = &plan.actions[i];
                            if failed {
                                let _ = tx.send((i, Ok(()), true));
                                continue;
                            }
                            let d = a.desired.and_then(|j| desired.get(j));
                            let line = progress.line(
                                &format!("{}/{}", a.service, a.component),
                                &format!("{} ({})", a.action.as_str(), a.cause),
                            );
                            let result = execute(runtime, a, d);
                            line.finish(if result.is_ok() { "ok" } else { "FAILED" });
                            failed = result.is_err();
                            let _ = tx.send((i, result, false));
                        }
                    }
                });
            }
            drop(tx);
            for (i, result, skipped) in rx {
                let outcome = if skipped {
                    let _ = self.registry.finish_event(ids[i], "skipped");
                    Outcome::Skipped
                } else {
                    self.record(ids[i], &plan.actions[i], desired, result)
                };
                outcomes[i] = Some(outcome);
                while reported < n {
                    match &outcomes[reported] {
                        Some(o) => {
                            report(&plan.actions[reported], o);
                            reported += 1;
                        }
                        None => break,
                    }
                }
            }
        });
        while reported < n {
            if let Some(o) = &outcomes[reported] {
                report(&plan.actions[reported], o);
            }
            reported += 1;
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Skipped))
            .collect())
    }

    /// Records an action's outcome: the event, and on success what now runs.
    fn record(
        &self,
        event: i64,
        a: &Action,
        desired: &[Desired<'_>],
        result: anyhow::Result<()>,
    ) -> Outcome {
        let d = a.desired.and_then(|i| desired.get(i));
        let outcome = match &result {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(format!("{e:#}")),
        };
        let bookkeeping = (|| -> anyhow::Result<()> {
            if result.is_ok() {
                match (a.action, d) {
                    (ActionKind::Adopt, _) => {
                        let image = a.image.as_deref().unwrap_or_default();
                        let version = crate::spec::fields::image_version(image);
                        let observed = a.observed.as_deref().unwrap_or_default();
                        self.registry.adopt(
                            &a.service,
                            &a.component,
                            a.runtime.unwrap_or("container"),
                            image,
                            &version,
                            observed,
                        )?;
                    }
                    (ActionKind::Create | ActionKind::Recreate, Some(d)) => {
                        self.registry.record_deployed(
                            &a.service,
                            &a.component,
                            &d.spec_hash,
                            &deployed_json(d),
                            d.image_id.as_deref(),
                        )?;
                        self.registry
                            .set_observed(&a.service, &a.component, "running")?;
                    }
                    (ActionKind::Start, _) => {
                        self.registry
                            .set_observed(&a.service, &a.component, "running")?
                    }
                    (ActionKind::Stop, _) => {
                        self.registry
                            .set_observed(&a.service, &a.component, "exited")?
                    }
                    _ => {}
                }
            }
            let outcome_text = match &outcome {
                Outcome::Ok => "ok".to_string(),
                Outcome::Failed(e) => format!("failed: {e}"),
                Outcome::Skipped => "skipped".to_string(),
            };
            self.registry.finish_event(event, &outcome_text)
        })();
        match (outcome, bookkeeping) {
            (o, Ok(())) => o,
            (Outcome::Ok, Err(e)) => Outcome::Failed(format!(
                "done, but recording it in the registry failed: {e:#}"
            )),
            (o, Err(_)) => o,
        }
    }
}

//! The executor: the only code that changes a runtime. It applies a plan,
//! independent components in parallel, records each action's intent before
//! acting and its outcome (with what now runs) as it lands, and reports
//! outcomes in plan order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::health::{SETTLE, wait_healthy};
use super::order;
use super::plan::{Action, ActionKind, Desired, Detail, Plan};
use super::rollout::replace;
use crate::model::ObservedState;
use crate::model::PullPolicy;
use crate::registry::{ComponentRecord, DesiredState, EventOutcome, NewEvent, Registry};
use crate::runtime::{PREV_SUFFIX, Runtime, State};

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

/// How the executor shows work in progress; the output layer implements it
/// (spinner lines on a terminal), tests and pipes use [`Silent`].
pub trait Progress: Sync {
    /// Starts showing one step of `label` (a `service/component`).
    fn step(&self, label: &str, message: &str) -> Box<dyn Step + '_>;
}

/// One step in progress; finishing it shows its outcome.
pub trait Step {
    fn finish(&self, outcome: &str);
}

/// Shows nothing.
pub struct Silent;

struct NoStep;

impl Step for NoStep {
    fn finish(&self, _outcome: &str) {}
}

impl Progress for Silent {
    fn step(&self, _label: &str, _message: &str) -> Box<dyn Step + '_> {
        Box::new(NoStep)
    }
}

/// Whether an action, once done, must prove its instance keeps running
/// for the settle time: the creation of a container without a health check
/// (as the README promises; a VM may be a one-shot job that powers off).
/// These are checked together after every group is done, with one wait.
fn settles(a: &Action, d: Option<&Desired<'_>>) -> bool {
    a.action == ActionKind::Create
        && matches!(a.detail, Detail::None)
        && d.is_some_and(|d| {
            d.spec.health.is_none() && d.spec.runtime == crate::spec::RuntimeKind::Container
        })
}

/// What a worker reports about one action.
enum Done {
    Finished(usize, anyhow::Result<()>),
    /// Not attempted: an earlier action on the same component failed.
    Skipped(usize),
    /// Created at this instant and Unix second; its outcome waits for the
    /// settle check.
    Settling(usize, Instant, i64),
}

/// The outcome of each settling creation (action index, Unix second its
/// create returned): still running after the settle time (counted from the
/// last creation), and not started again since (a restart policy restarts a
/// command that exits at once, so "running" alone proves nothing), from one
/// listing call.
fn check_settled(
    runtime: &dyn Runtime,
    plan: &Plan,
    settling: &[(usize, i64)],
    last: Instant,
    settle: Duration,
) -> Vec<anyhow::Result<()>> {
    std::thread::sleep(settle.saturating_sub(last.elapsed()));
    let listed = runtime.list();
    settling
        .iter()
        .map(|&(i, created)| {
            let name = &plan.actions[i].instance;
            let instances = listed
                .as_ref()
                .map_err(|e| anyhow::anyhow!("checking that {name} keeps running: {e:#}"))?;
            let logs = format!(
                "see mcp logs {}/{}",
                plan.actions[i].service, plan.actions[i].component
            );
            match instances.iter().find(|inst| &inst.name == name) {
                Some(inst) if inst.state == State::Running && inst.started_at > Some(created) => {
                    anyhow::bail!(
                        "{name} was started again within {}s of its creation: its command exits at once ({logs})",
                        settle.as_secs()
                    )
                }
                Some(inst) if inst.state == State::Running => Ok(()),
                Some(inst) => anyhow::bail!(
                    "{name} is {} instead of running {}s after it started ({logs})",
                    inst.state.describe(),
                    settle.as_secs(),
                ),
                None => anyhow::bail!("{name} disappeared right after it was created"),
            }
        })
        .collect()
}

/// How long a stop waits before it kills: the component's `stop_timeout`,
/// or podman's default for an instance no spec describes.
pub fn stop_grace(d: Option<&Desired<'_>>) -> Duration {
    d.map_or(STOP_TIMEOUT, |d| d.spec.stop_timeout)
}

fn execute(
    runtime: &dyn Runtime,
    a: &Action,
    d: Option<&Desired<'_>>,
    settle: Duration,
) -> anyhow::Result<()> {
    match &a.detail {
        Detail::AlreadyDone => return Ok(()),
        Detail::Refused(why) | Detail::Declined(why) => anyhow::bail!("{why}"),
        _ => {}
    }
    let spec = || d.context("internal: action without its component spec");
    match a.action {
        ActionKind::Create => {
            let d = spec()?;
            let req = d.create_request(&a.instance);
            runtime.preflight(&req)?;
            runtime.run(&req)?;
            if d.spec.health.is_some() {
                wait_healthy(runtime, &a.instance, d.spec, settle)?;
            }
            Ok(())
        }
        ActionKind::Recreate => replace(runtime, spec()?, settle),
        // An engine restart policy may win the race to start it: fine.
        ActionKind::Start => {
            runtime
                .start(&a.instance)
                .or_else(|e| match runtime.state(&a.instance) {
                    Ok(Some(crate::runtime::State::Running)) => Ok(()),
                    _ => Err(e),
                })
        }
        ActionKind::Stop => runtime.stop(&a.instance, stop_grace(d)),
        ActionKind::Restart => {
            if a.detail == Detail::StopFirst {
                runtime.stop(&a.instance, stop_grace(d))?;
            }
            runtime.start(&a.instance)
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
        // Only the registry changes.
        ActionKind::Adopt | ActionKind::Record => Ok(()),
        ActionKind::Resume => runtime.resume(&a.instance),
    }
}

/// Pulls the image of every target before anything is stopped (a
/// missing image changes nothing) and records the pulled image ids in
/// `desired`, where the planner compares them with what runs. Part of the
/// executor: nothing else asks a runtime to change anything.
pub fn pull(
    runtime: &dyn Runtime,
    progress: &dyn Progress,
    desired: &mut [Desired<'_>],
    targets: &BTreeSet<(String, String)>,
    policy: PullPolicy,
) -> anyhow::Result<()> {
    let mut pulled: BTreeMap<String, Option<String>> = BTreeMap::new();
    for d in desired.iter_mut() {
        if !targets.contains(&(d.service.to_string(), d.spec.name.clone())) {
            continue;
        }
        if !pulled.contains_key(&d.spec.image) {
            let step = progress.step(
                &format!("{}/{}", d.service, d.spec.name),
                &format!("pull {}", d.spec.image),
            );
            let id = runtime.pull(&d.spec.image, policy);
            step.finish(if id.is_ok() { "ok" } else { "FAILED" });
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
    Ok(())
}

/// Which groups of a plan are waiting, done (and how) or in flight.
struct Sched {
    pending: Vec<usize>,
    /// `Some(true)` done, `Some(false)` failed or skipped.
    done: Vec<Option<bool>>,
    running: usize,
}

/// The next group whose waits are over, in plan order, and whether one of
/// them failed (then it is skipped); `None` when every group is taken.
fn next_group(sched: &Mutex<Sched>, wake: &Condvar, waits: &[Vec<usize>]) -> Option<(usize, bool)> {
    let mut s = sched.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if s.pending.is_empty() {
            return None;
        }
        let ready = s
            .pending
            .iter()
            .position(|&g| waits[g].iter().all(|&w| s.done[w].is_some()))
            // A cycle (refused by validation) must not hang the run.
            .or_else(|| (s.running == 0).then_some(0));
        if let Some(p) = ready {
            let g = s.pending.remove(p);
            s.running += 1;
            let blocked = waits[g].iter().any(|&w| s.done[w] == Some(false));
            return Some((g, blocked));
        }
        s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
    }
}

/// A component that others require must be healthy before they start: a
/// start (or a create without a check, which has not been gated yet) is
/// followed by its health gate. Replacements are gated already.
fn gate_required(
    runtime: &dyn Runtime,
    a: &Action,
    d: Option<&Desired<'_>>,
    settle: Duration,
) -> anyhow::Result<()> {
    let Some(d) = d else { return Ok(()) };
    let gated = match a.action {
        ActionKind::Start | ActionKind::Restart | ActionKind::Restore => {
            a.detail != Detail::AlreadyDone || d.spec.health.is_some()
        }
        ActionKind::Create => d.spec.health.is_none(),
        _ => false,
    };
    if !gated || d.desired != DesiredState::Running {
        return Ok(());
    }
    wait_healthy(runtime, &a.instance, d.spec, settle)
        .with_context(|| format!("{} is required by other components", a.instance))
}

pub struct Executor<'a> {
    runtime: &'a dyn Runtime,
    progress: &'a dyn Progress,
    registry: &'a mut Registry,
    command: &'a str,
    /// Components acted on at once.
    pub jobs: usize,
    /// How long an instance without a health check must keep running.
    settle: Duration,
}

impl<'a> Executor<'a> {
    pub fn new(
        runtime: &'a dyn Runtime,
        progress: &'a dyn Progress,
        registry: &'a mut Registry,
        command: &'a str,
    ) -> Self {
        Executor {
            runtime,
            progress,
            registry,
            command,
            jobs: 1,
            settle: SETTLE,
        }
    }

    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    #[cfg(test)]
    pub(crate) fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

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

        // Actions on one component run in order, as a group; groups run in
        // parallel, each once the groups it waits for (`after`, from
        // `requires`) are done. A group whose requirement failed is skipped.
        let mut groups: Vec<((String, String), Vec<usize>)> = Vec::new();
        for (i, a) in plan.actions.iter().enumerate() {
            if matches!(a.action, ActionKind::Adopt | ActionKind::Record) {
                let outcome = self.record(ids[i], a, desired, Ok(()));
                outcomes[i] = Some(outcome);
                continue;
            }
            let key = (a.service.clone(), a.component.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        // Queued by (service, component); the waits alone order related groups.
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let waits: Vec<Vec<usize>> = groups
            .iter()
            .map(|(_, list)| {
                let after = &plan.actions[list[0]].after;
                groups
                    .iter()
                    .enumerate()
                    .filter(|(_, (k, _))| after.contains(&order::shown(k)))
                    .map(|(j, _)| j)
                    .collect()
            })
            .collect();
        // Groups others wait for must end healthy, not merely started.
        let required: Vec<bool> = (0..groups.len())
            .map(|g| waits.iter().any(|w| w.contains(&g)))
            .collect();
        let sched = Mutex::new(Sched {
            pending: (0..groups.len()).collect(),
            done: vec![None; groups.len()],
            running: 0,
        });
        let wake = Condvar::new();
        let workers = self.jobs.max(1).min(groups.len()).max(1);
        let (tx, rx) = mpsc::channel::<Done>();
        let mut settling: Vec<(usize, i64)> = Vec::new();
        let mut last_created: Option<Instant> = None;

        let runtime = self.runtime;
        let progress = self.progress;
        let settle = self.settle;
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let (sched, wake, groups, waits, required) =
                    (&sched, &wake, &groups, &waits, &required);
                scope.spawn(move || {
                    while let Some((g, blocked)) = next_group(sched, wake, waits) {
                        let mut failed = blocked;
                        let list = &groups[g].1;
                        for (n, &i) in list.iter().enumerate() {
                            let a = &plan.actions[i];
                            if failed {
                                let _ = tx.send(Done::Skipped(i));
                                continue;
                            }
                            let d = a.desired.and_then(|j| desired.get(j));
                            let step = progress.step(
                                &format!("{}/{}", a.service, a.component),
                                &format!("{} ({})", a.action.as_str(), a.cause),
                            );
                            let mut result = execute(runtime, a, d, settle);
                            if result.is_ok() && required[g] && n + 1 == list.len() {
                                result = gate_required(runtime, a, d, settle);
                            }
                            step.finish(if result.is_ok() { "ok" } else { "FAILED" });
                            failed = result.is_err();
                            let done = if result.is_ok() && settles(a, d) {
                                Done::Settling(i, Instant::now(), crate::timefmt::unix_now())
                            } else {
                                Done::Finished(i, result)
                            };
                            let _ = tx.send(done);
                        }
                        let mut s = sched.lock().unwrap_or_else(|e| e.into_inner());
                        s.done[g] = Some(!failed);
                        s.running -= 1;
                        wake.notify_all();
                    }
                });
            }
            drop(tx);
            for done in rx {
                let (i, outcome) = match done {
                    Done::Skipped(i) => {
                        let _ = self.registry.finish_event(ids[i], &EventOutcome::Skipped);
                        (i, Outcome::Skipped)
                    }
                    Done::Finished(i, result) => {
                        (i, self.record(ids[i], &plan.actions[i], desired, result))
                    }
                    Done::Settling(i, at, unix) => {
                        settling.push((i, unix));
                        last_created = last_created.max(Some(at));
                        continue;
                    }
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
        if let Some(last) = last_created {
            settling.sort_unstable();
            let results = check_settled(self.runtime, plan, &settling, last, self.settle);
            for (&(i, _), result) in settling.iter().zip(results) {
                outcomes[i] = Some(self.record(ids[i], &plan.actions[i], desired, result));
            }
        }
        while reported < n {
            if let Some(o) = &outcomes[reported] {
                report(&plan.actions[reported], o);
            }
            reported += 1;
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Skipped))
            .collect();
        // What runs is already recorded; a digest that cannot be read now is
        // looked up from the running instance by `mcp update` instead.
        let _ = super::digests::record(self.runtime, self.registry, plan, desired, &outcomes);
        Ok(outcomes)
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
                match (a.action, d, &a.detail) {
                    (
                        ActionKind::Adopt,
                        _,
                        Detail::Adopt {
                            image,
                            observed,
                            runtime,
                        },
                    ) => {
                        self.registry.adopt(
                            &a.service,
                            &a.component,
                            &a.instance,
                            *runtime,
                            image,
                            observed,
                        )?;
                    }
                    (ActionKind::Record, Some(d), _) => {
                        self.registry.record_deployed(
                            &a.service,
                            &a.component,
                            &d.spec_hash,
                            &ComponentRecord::of(d.spec),
                            None,
                        )?;
                    }
                    (ActionKind::Create | ActionKind::Recreate, Some(d), _) => {
                        self.registry.record_deployed(
                            &a.service,
                            &a.component,
                            &d.spec_hash,
                            &ComponentRecord::of(d.spec),
                            d.image_id.as_deref(),
                        )?;
                        self.registry.set_observed(
                            &a.service,
                            &a.component,
                            ObservedState::Running,
                        )?;
                    }
                    (ActionKind::Start | ActionKind::Restart | ActionKind::Resume, _, _) => self
                        .registry
                        .set_observed(&a.service, &a.component, ObservedState::Running)?,
                    (ActionKind::Stop, _, _) => self.registry.set_observed(
                        &a.service,
                        &a.component,
                        ObservedState::Exited,
                    )?,
                    _ => {}
                }
            }
            let finished = match &outcome {
                Outcome::Ok => EventOutcome::Ok,
                Outcome::Failed(e) => EventOutcome::Failed(e.clone()),
                Outcome::Skipped => EventOutcome::Skipped,
            };
            let evidence = result
                .as_ref()
                .err()
                .and_then(|e| e.downcast_ref::<crate::runtime::evidence::Evidence>());
            self.registry.finish_event_with(event, &finished, evidence)
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

//! The planner: a pure function from what is wanted and what runs to the
//! list of actions, each with its cause. No I/O here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::drift::{Drift, Want, drift, image_change};
use crate::model::RuntimeKind;
use crate::registry::{Change, ComponentRecord, DesiredState};
use crate::runtime::{CreateRequest, Instance, NEXT_SUFFIX, PREV_SUFFIX, State};
use crate::spec::fields::image_version;
use crate::spec::{ComponentSpec, instance_name};

/// One declared component, as the planner needs it.
#[derive(Debug, Clone)]
pub struct Desired<'a> {
    pub service: &'a str,
    pub spec: &'a ComponentSpec,
    pub desired: DesiredState,
    pub spec_hash: String,
    /// What was deployed last (from the registry), to name changed fields.
    pub deployed: Option<ComponentRecord>,
    pub deployed_hash: Option<String>,
    /// The image id just pulled (deploy), recorded with the outcome.
    pub image_id: Option<String>,
}

impl Desired<'_> {
    pub fn instance(&self) -> String {
        instance_name(self.service, &self.spec.name)
    }

    /// What a runtime needs to create this component under `name`.
    pub fn create_request<'n>(&'n self, name: &'n str) -> CreateRequest<'n> {
        CreateRequest {
            name,
            service: self.service,
            spec: self.spec,
            spec_hash: &self.spec_hash,
        }
    }

    /// The instance name, and the names a replacement sets instances aside
    /// under: (`name`, `name.next`, `name.prev`).
    pub fn instance_names(&self) -> (String, String, String) {
        let name = self.instance();
        let next = format!("{name}{NEXT_SUFFIX}");
        let prev = format!("{name}{PREV_SUFFIX}");
        (name, next, prev)
    }
}

pub struct PlanInput<'a> {
    pub desired: Vec<Desired<'a>>,
    /// Instance names the registry tracks without a declaration (adopted,
    /// or services whose file is gone without --prune): never touched.
    pub kept: BTreeSet<String>,
    pub observed: &'a [Instance],
    /// Services in scope; `None` means all, and enables adoption.
    pub scope: Option<BTreeSet<String>>,
    /// Instances (`service-component`) the registry knew before this run.
    /// A labelled instance neither known nor of a declared service is an
    /// orphan (a lost or fresh registry): reported, removed only on `prune`.
    pub known: BTreeSet<String>,
    /// `sync --prune`: remove orphans too.
    pub prune: bool,
}

/// What a command asks of the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// `sync`: make what runs match the registry and the files.
    Converge,
    /// `deploy`: replace these (service, component)s now, changed or not (a
    /// tag may have moved); everything else in scope converges.
    RollOut { targets: BTreeSet<(String, String)> },
    /// `stop`/`start`/`restart` of these (service, component)s, by hand.
    SetState {
        targets: Vec<(String, String)>,
        verb: Verb,
    },
    /// `adopt`: record these untracked instances (by name) as `ignore`.
    Adopt { instances: Vec<String> },
    /// `adopt --write-spec`: what runs of these (service, component)s is
    /// what `source` (the service file just written) declares: record it as
    /// deployed from there, so the next sync recreates nothing.
    Record {
        targets: Vec<(String, String)>,
        source: String,
    },
    /// `update`: replace exactly these (service, component)s, whose image
    /// tag now names another digest; the value is the cause (the tag and
    /// both digests). Nothing else is touched, not even drift in the same
    /// service: an update never carries other changes with it.
    Update {
        moved: BTreeMap<(String, String), String>,
    },
}

/// A hands-on state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Stop,
    Start,
    Restart,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Stop => "stop",
            Verb::Start => "start",
            Verb::Restart => "restart",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Create,
    Recreate,
    Start,
    Stop,
    /// Stop (when running), then start.
    Restart,
    Remove,
    /// Put back the previous instance of an interrupted replacement.
    Restore,
    Adopt,
    /// Record a running instance as deployed from its declaration.
    Record,
    /// Resume a paused instance.
    Resume,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Recreate => "recreate",
            ActionKind::Start => "start",
            ActionKind::Stop => "stop",
            ActionKind::Restart => "restart",
            ActionKind::Remove => "remove",
            ActionKind::Restore => "restore",
            ActionKind::Adopt => "adopt",
            ActionKind::Record => "record",
            ActionKind::Resume => "resume",
        }
    }
}

/// What the executor needs to know of an action beyond its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Detail {
    #[default]
    None,
    /// Adoption: the image, state and runtime the instance was found with.
    Adopt {
        image: String,
        observed: String,
        runtime: RuntimeKind,
    },
    /// The instance is already as asked: recorded, nothing run.
    AlreadyDone,
    /// Refused before acting; the text is the failure.
    Refused(String),
    /// Asked for what the service file rules out (starting a component of an
    /// inactive service that was never created): the command declines the
    /// whole request before recording anything; the text says what to do.
    Declined(String),
    /// A restart of a running instance: stop it first.
    StopFirst,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub action: ActionKind,
    pub service: String,
    pub component: String,
    /// The container or VM acted on.
    pub instance: String,
    pub cause: String,
    /// Index into `PlanInput::desired` for actions that need the spec.
    #[serde(skip)]
    pub desired: Option<usize>,
    #[serde(skip)]
    pub detail: Detail,
    /// The components (`service/component`) whose work must finish (and be
    /// healthy) first, from `requires`; set by `order::arrange`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
}

impl Action {
    fn new(action: ActionKind, service: &str, component: &str, instance: &str) -> Self {
        Action {
            action,
            service: service.to_string(),
            component: component.to_string(),
            instance: instance.to_string(),
            cause: String::new(),
            desired: None,
            detail: Detail::None,
            after: Vec::new(),
        }
    }

    fn because(mut self, cause: impl Into<String>) -> Self {
        self.cause = cause.into();
        self
    }

    fn with(mut self, detail: Detail) -> Self {
        self.detail = detail;
        self
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Labelled instances no file declares and the registry does not know:
    /// reported, never acted on (without `prune`).
    pub orphans: Vec<Orphan>,
}

/// An instance that carries mcp's labels but that nothing accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub service: String,
    pub component: String,
    pub instance: String,
    pub runtime: RuntimeKind,
    pub observed: String,
}

/// What to say about a declared component whose name a container mcp did
/// not create (no mcp labels) already holds.
pub fn clash_message(instance: &str) -> String {
    format!(
        "{instance} exists but mcp did not create it (it has no mcp labels), so mcp leaves it alone; run `mcp adopt {instance} --write-spec` to manage it as declared, or rename it by hand (podman rename {instance} NEWNAME)"
    )
}

/// Whether `current` holds a component's name without being mcp's: no
/// labels, and no deploy of it recorded (as `adopt --write-spec` records).
pub fn is_clash(current: Option<&Instance>, deployed_hash: Option<&str>) -> bool {
    current.is_some_and(|c| c.managed_identity().is_none()) && deployed_hash.is_none()
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Splits an unlabelled `service-component` name at its first hyphen.
pub fn split_instance_name(name: &str) -> (String, String) {
    match name.split_once('-') {
        Some((s, c)) if !s.is_empty() && !c.is_empty() => (s.to_string(), c.to_string()),
        _ => (name.to_string(), "main".to_string()),
    }
}

fn in_scope(scope: &Option<BTreeSet<String>>, service: &str) -> bool {
    scope.as_ref().is_none_or(|s| s.contains(service))
}

/// The plan for `intent`: every action a command applies, each with its cause.
pub fn plan(intent: &Intent, input: &PlanInput<'_>) -> Plan {
    let plan = match intent {
        Intent::Converge => converge(input),
        Intent::RollOut { targets } => roll_out(input, targets),
        Intent::SetState { targets, verb } => set_state(input, targets, *verb),
        Intent::Record { targets, source } => Plan {
            actions: input
                .desired
                .iter()
                .enumerate()
                .filter(|(_, d)| targets.contains(&(d.service.to_string(), d.spec.name.clone())))
                .map(|(index, d)| {
                    let mut a =
                        Action::new(ActionKind::Record, d.service, &d.spec.name, &d.instance())
                            .because(format!("described by {source}"));
                    a.desired = Some(index);
                    a
                })
                .collect(),
            orphans: Vec::new(),
        },
        Intent::Update { moved } => update(input, moved),
        Intent::Adopt { instances } => Plan {
            actions: instances
                .iter()
                .filter_map(|name| input.observed.iter().find(|i| &i.name == name))
                .map(|i| adopt(i, format!("{} {} ({})", i.runtime, i.name, i.image)))
                .collect(),
            orphans: Vec::new(),
        },
    };
    super::order::arrange(plan, &input.desired)
}

/// An adoption of `inst`, under its labels or its split name.
fn adopt(inst: &Instance, cause: String) -> Action {
    let (service, component) = match inst.managed_identity() {
        Some((s, c)) => (s.to_string(), c.to_string()),
        None => split_instance_name(&inst.name),
    };
    Action::new(ActionKind::Adopt, &service, &component, &inst.name)
        .because(cause)
        .with(Detail::Adopt {
            image: inst.image.clone(),
            observed: inst.state.describe(),
            runtime: inst.runtime,
        })
}

/// Converges the scope, then replaces every target whose service is to run,
/// changed or not (a tag may have moved), in place of creating or starting it.
fn roll_out(input: &PlanInput<'_>, targets: &BTreeSet<(String, String)>) -> Plan {
    let is_target = |service: &str, component: &str| {
        targets.contains(&(service.to_string(), component.to_string()))
    };
    let converged = converge(input);
    let mut actions: Vec<Action> = converged
        .actions
        .into_iter()
        .filter(|a| {
            // A refusal (a name clash) stands: a deploy never replaces it.
            matches!(a.detail, Detail::Refused(_))
                || !(is_target(&a.service, &a.component)
                    && matches!(
                        a.action,
                        ActionKind::Create | ActionKind::Recreate | ActionKind::Start
                    ))
        })
        .collect();
    for (index, d) in input.desired.iter().enumerate() {
        if !is_target(d.service, &d.spec.name) || d.desired != DesiredState::Running {
            continue;
        }
        let name = d.instance();
        let current = input.observed.iter().find(|i| i.name == name);
        if is_clash(current, d.deployed_hash.as_deref()) {
            continue;
        }
        let to = image_version(&d.spec.image);
        let cause = match current {
            None => format!("deploy {to} (not running yet)"),
            Some(i) if i.spec_image() != d.spec.image => {
                format!(
                    "deploy {}",
                    describe_image_change(i.spec_image(), &d.spec.image)
                )
            }
            Some(i) if d.image_id.as_deref().is_some_and(|id| id != i.image_id) => {
                format!("deploy {to} (new image id)")
            }
            Some(_) => format!("redeploy {to}"),
        };
        let mut a =
            Action::new(ActionKind::Recreate, d.service, &d.spec.name, &name).because(cause);
        a.desired = Some(index);
        actions.push(a);
    }
    Plan {
        actions,
        orphans: converged.orphans,
    }
}

/// Replaces each moved component that is to run, through the same
/// health-gated replacement as a deploy.
fn update(input: &PlanInput<'_>, moved: &BTreeMap<(String, String), String>) -> Plan {
    let mut actions = Vec::new();
    for (index, d) in input.desired.iter().enumerate() {
        let key = (d.service.to_string(), d.spec.name.clone());
        let Some(cause) = moved.get(&key) else {
            continue;
        };
        if d.desired != DesiredState::Running {
            continue;
        }
        let mut a = Action::new(ActionKind::Recreate, d.service, &d.spec.name, &d.instance())
            .because(cause.clone());
        a.desired = Some(index);
        actions.push(a);
    }
    Plan {
        actions,
        orphans: Vec::new(),
    }
}

/// Hands-on stop, start or restart: an instance already as asked is only
/// recorded, and one that does not exist cannot be started.
fn set_state(input: &PlanInput<'_>, targets: &[(String, String)], verb: Verb) -> Plan {
    let mut actions = Vec::new();
    for ((service, component), why) in with_related(input, targets, verb) {
        let (service, component) = (&service, &component);
        let name = instance_name(service, component);
        let found = input.observed.iter().find(|i| i.name == name);
        let running = found.is_some_and(|i| i.state == State::Running);
        let kind = match verb {
            Verb::Stop => ActionKind::Stop,
            Verb::Start => ActionKind::Start,
            Verb::Restart => ActionKind::Restart,
        };
        // The service file's word on this component, when it could be read.
        let file_says = input
            .desired
            .iter()
            .find(|d| d.service == service && &d.spec.name == component)
            .map(|d| d.desired);
        let detail = match (verb, found) {
            // Neither sync nor deploy creates a component of an inactive
            // service, so only the file can change that.
            (Verb::Start | Verb::Restart, None) if file_says == Some(DesiredState::Stopped) => {
                Detail::Declined(format!(
                    "{service}/{component} was never created: {service} is inactive (active = false in {service}.toml); \
                     set active = true there, then run mcp sync to create and start it"
                ))
            }
            (Verb::Start | Verb::Restart, None) => Detail::Refused(format!(
                "{name} does not exist yet; run mcp sync (or mcp deploy {service}) to create it"
            )),
            (Verb::Stop, _) if !running => Detail::AlreadyDone,
            (Verb::Start, _) if running => Detail::AlreadyDone,
            (Verb::Restart, _) if running => Detail::StopFirst,
            _ => Detail::None,
        };
        let mut a = Action::new(kind, service, component, &name)
            .because(why)
            .with(detail);
        // The spec, when the caller has it, gives the stop its grace and the
        // start of a requirement its health gate.
        a.desired = input
            .desired
            .iter()
            .position(|d| d.service == service && &d.spec.name == component);
        actions.push(a);
    }
    Plan {
        actions,
        orphans: Vec::new(),
    }
}

/// The targets of a hands-on stop or start, with what `requires` adds to
/// them, each with its cause: a stop also stops the running components that
/// require a target (they go first), a start also starts the requirements
/// that are not running (they go first, and must be healthy).
fn with_related(
    input: &PlanInput<'_>,
    targets: &[(String, String)],
    verb: Verb,
) -> Vec<((String, String), String)> {
    let mut out: Vec<((String, String), String)> = targets
        .iter()
        .map(|t| (t.clone(), "by hand".to_string()))
        .collect();
    let graph = super::order::Graph::of(&input.desired);
    let running = |k: &(String, String)| {
        let name = instance_name(&k.0, &k.1);
        input
            .observed
            .iter()
            .any(|i| i.name == name && i.state == State::Running)
    };
    for t in targets {
        let shown = super::order::shown(t);
        let related: Vec<((String, String), String)> = match verb {
            Verb::Stop => graph
                .dependents(t)
                .into_iter()
                .filter(|k| running(k))
                .map(|k| (k, format!("requires {shown}, which stops")))
                .collect(),
            Verb::Start => graph
                .requirements(t)
                .into_iter()
                .filter(|k| !running(k))
                .map(|k| (k, format!("required by {shown}")))
                .collect(),
            Verb::Restart => Vec::new(),
        };
        for (k, why) in related {
            if !out.iter().any(|(o, _)| o == &k) {
                out.push((k, why));
            }
        }
    }
    out
}

fn converge(input: &PlanInput<'_>) -> Plan {
    let by_name: BTreeMap<&str, &Instance> = input
        .observed
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let mut actions = Vec::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();

    for (index, d) in input.desired.iter().enumerate() {
        if !in_scope(&input.scope, d.service) {
            continue;
        }
        let (name, next, prev) = d.instance_names();
        claimed.extend([name.clone(), next.clone(), prev.clone()]);
        let act = |action, instance: &str, cause: String| Action {
            action,
            service: d.service.to_string(),
            component: d.spec.name.clone(),
            instance: instance.to_string(),
            cause,
            desired: Some(index),
            detail: Detail::None,
            after: Vec::new(),
        };

        if by_name.contains_key(next.as_str()) {
            actions.push(act(
                ActionKind::Remove,
                &next,
                "leftover of an interrupted replacement".into(),
            ));
        }
        let mut current = by_name.get(name.as_str()).copied();
        if d.desired != DesiredState::Ignore && is_clash(current, d.deployed_hash.as_deref()) {
            actions.push(
                act(
                    ActionKind::Recreate,
                    &name,
                    "the name is taken by a container mcp did not create".into(),
                )
                .with(Detail::Refused(clash_message(&name))),
            );
            continue;
        }
        if let Some(previous) = by_name.get(prev.as_str()).copied() {
            if current.is_some_and(|c| c.state == State::Running) {
                actions.push(act(
                    ActionKind::Remove,
                    &prev,
                    "replacement finished".into(),
                ));
            } else {
                actions.push(act(
                    ActionKind::Restore,
                    &name,
                    "an interrupted replacement left the previous instance aside".into(),
                ));
                current = Some(previous);
            }
        }

        let want = Want {
            desired: d.desired,
            image: &d.spec.image,
            spec_hash: &d.spec_hash,
            deployed_hash: d.deployed_hash.as_deref(),
        };
        let drifts = drift(&want, current);
        let restored = actions
            .last()
            .is_some_and(|a| a.action == ActionKind::Restore && a.instance == name);
        if let Some(cause) = recreate_cause(d, &drifts) {
            actions.push(act(ActionKind::Recreate, &name, cause));
            continue;
        }
        for dr in &drifts {
            match dr {
                Drift::Missing => actions.push(act(ActionKind::Create, &name, "missing".into())),
                Drift::Exited(code) if !restored && restarts(d.spec, *code) => {
                    actions.push(act(ActionKind::Start, &name, dr.reason()))
                }
                Drift::NotStarted if !restored => {
                    actions.push(act(ActionKind::Start, &name, dr.reason()))
                }
                Drift::RunningButStopped => {
                    actions.push(act(ActionKind::Stop, &name, "service is inactive".into()))
                }
                Drift::Paused if !restored => {
                    actions.push(act(ActionKind::Resume, &name, dr.reason()))
                }
                // An interrupted `podman stop` leaves `stopping`, which podman
                // refuses to start: finish the stop, then start.
                Drift::Unknown(state) if !restored && state == "stopping" => actions.push(
                    act(
                        ActionKind::Restart,
                        &name,
                        "left stopping by an interrupted stop".into(),
                    )
                    .with(Detail::StopFirst),
                ),
                _ => {}
            }
        }
    }

    let mut orphans = Vec::new();
    for inst in input.observed {
        if claimed.contains(&inst.name) || input.kept.contains(&inst.name) {
            continue;
        }
        match inst.managed_identity() {
            Some((service, component)) if in_scope(&input.scope, service) => {
                // Only what the registry knew, or what a service file still
                // owns, is proven mcp's and no longer declared; anything
                // else (a wiped or new registry) is an orphan.
                let accounted = input.known.contains(&instance_name(service, component))
                    || input.desired.iter().any(|d| d.service == service);
                if accounted || input.prune {
                    let cause = if accounted {
                        "no longer declared"
                    } else {
                        "orphaned: no file declares it, the registry does not know it (--prune)"
                    };
                    actions.push(
                        Action::new(ActionKind::Remove, service, component, &inst.name)
                            .because(cause),
                    );
                } else {
                    orphans.push(Orphan {
                        service: service.to_string(),
                        component: component.to_string(),
                        instance: inst.name.clone(),
                        runtime: inst.runtime,
                        observed: inst.state.describe(),
                    });
                }
            }
            Some(_) => {}
            None if input.scope.is_none() => {
                actions.push(adopt(
                    inst,
                    format!("untracked {} ({})", inst.runtime, inst.state.describe()),
                ));
            }
            None => {}
        }
    }
    // A listing's order is podman's: sort for stable reports.
    orphans.sort_by(|a, b| a.instance.cmp(&b.instance));
    Plan { actions, orphans }
}

/// Whether sync starts an exited instance again. VMs have no engine that
/// restarts them, so their restart policy is applied here: `no` leaves an
/// exited VM alone, `on-failure` restarts it only after a non-zero exit.
/// Containers keep the old behaviour (an exited one is started).
pub fn restarts(spec: &ComponentSpec, exit_code: i32) -> bool {
    use crate::spec::{RestartPolicy, RuntimeKind};
    if spec.runtime != RuntimeKind::Unikernel {
        return true;
    }
    match spec.restart {
        RestartPolicy::No => false,
        RestartPolicy::OnFailure => exit_code != 0,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
    }
}

/// The cause of a needed replacement: the image first, then spec fields.
fn recreate_cause(d: &Desired<'_>, drifts: &[Drift]) -> Option<String> {
    let mut causes = Vec::new();
    for dr in drifts {
        match dr {
            Drift::ImageChanged { from, to } => causes.push(format!("image {from} -> {to}")),
            Drift::SpecChanged => {
                let fields: Vec<&str> = d
                    .deployed
                    .as_ref()
                    .map(|old| old.diff(&ComponentRecord::of(d.spec)))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Change::runtime_field)
                    .collect();
                if fields.is_empty() {
                    causes.push("spec changed".to_string());
                } else {
                    causes.push(format!("spec changed: {}", fields.join(", ")));
                }
            }
            _ => {}
        }
    }
    (!causes.is_empty()).then(|| causes.join("; "))
}

/// The image part of a cause, for messages about deploys.
pub fn describe_image_change(from: &str, to: &str) -> String {
    let (f, t) = image_change(from, to);
    format!("{f} -> {t}")
}

#[cfg(test)]
mod restart_tests {
    use super::restarts;
    use crate::spec::{RestartPolicy, RuntimeKind};

    #[test]
    fn vm_restart_policy() {
        let mut spec = crate::runtime::ops::test_spec("vm");
        for (policy, code, expected) in [
            (RestartPolicy::No, 1, false),
            (RestartPolicy::OnFailure, 0, false),
            (RestartPolicy::OnFailure, 137, true),
            (RestartPolicy::Always, 0, true),
            (RestartPolicy::UnlessStopped, 0, true),
        ] {
            spec.restart = policy;
            assert_eq!(restarts(&spec, code), expected, "{policy:?} {code}");
        }
        spec.runtime = RuntimeKind::Container;
        spec.restart = RestartPolicy::No;
        assert!(restarts(&spec, 0));
    }
}

//! Unit and property tests of the planner: a pure function, so the world it
//! plans against is built in memory and the plan is applied to a model of
//! the runtime to check that it converges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;

use super::plan::*;
use crate::registry::DesiredState;
use crate::runtime::*;
use crate::spec::hash::RuntimeSpec;
use crate::spec::parse::FileReader;
use crate::spec::{ComponentSpec, ServiceSpec};

fn service(name: &str, image: &str, ports: &[&str], restart: &str) -> ServiceSpec {
    let ports: Vec<String> = ports.iter().map(|p| format!("\"{p}\"")).collect();
    let text = format!(
        "[[components]]\nname = \"app\"\nimage = \"{image}\"\nrestart = \"{restart}\"\nports = [{}]\n",
        ports.join(", ")
    );
    let mut reader = FileReader::new(Path::new("t.toml"), &text);
    let parsed = reader.read_service(name).expect("parses");
    assert!(reader.diagnostics.is_empty(), "{:?}", reader.diagnostics);
    parsed.spec
}

fn desired<'a>(s: &'a ServiceSpec, state: DesiredState) -> Desired<'a> {
    let c: &ComponentSpec = &s.components[0];
    Desired {
        service: &s.name,
        spec: c,
        desired: state,
        spec_hash: RuntimeSpec::of(c).hash(),
        deployed: None,
        deployed_hash: None,
        image_id: None,
    }
}

/// An instance as mcp would have created it from `d`, in `state`.
fn created_from(d: &Desired<'_>, state: State) -> Instance {
    let labels = CreateRequest {
        name: &d.instance(),
        service: d.service,
        spec: d.spec,
        spec_hash: &d.spec_hash,
    }
    .labels();
    Instance {
        name: d.instance(),
        runtime: crate::model::RuntimeKind::Container,
        image: d.spec.image.clone(),
        image_id: "id".into(),
        state,
        started_at: None,
        labels,
    }
}

fn unlabelled(name: &str) -> Instance {
    Instance {
        name: name.into(),
        runtime: crate::model::RuntimeKind::Container,
        image: "r:5000/legacy:v3".into(),
        image_id: "id".into(),
        state: State::Running,
        started_at: None,
        labels: BTreeMap::new(),
    }
}

fn plan_of(desired: Vec<Desired<'_>>, observed: &[Instance]) -> Vec<(ActionKind, String, String)> {
    let input = PlanInput {
        desired,
        kept: BTreeSet::new(),
        observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    plan(&Intent::Converge, &input)
        .actions
        .into_iter()
        .map(|a| (a.action, a.instance, a.cause))
        .collect()
}

#[test]
fn missing_is_created_and_running_is_left_alone() {
    let web = service("web", "r:5000/web:v1", &["8080:80"], "always");
    let d = desired(&web, DesiredState::Running);
    assert_eq!(
        plan_of(vec![d.clone()], &[]),
        vec![(ActionKind::Create, "web-app".into(), "missing".into())]
    );
    let running = created_from(&d, State::Running);
    assert_eq!(plan_of(vec![d], &[running]), vec![]);
}

#[test]
fn exited_is_started_with_its_exit_code_as_cause() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let d = desired(&web, DesiredState::Running);
    let exited = created_from(&d, State::Exited(137));
    assert_eq!(
        plan_of(vec![d], &[exited]),
        vec![(ActionKind::Start, "web-app".into(), "exited (137)".into())]
    );
}

#[test]
fn image_change_recreates_naming_both_versions() {
    let old = service("web", "r:5000/web:v1", &[], "always");
    let new = service("web", "r:5000/web:v2", &[], "always");
    let running = created_from(&desired(&old, DesiredState::Running), State::Running);
    assert_eq!(
        plan_of(vec![desired(&new, DesiredState::Running)], &[running]),
        vec![(
            ActionKind::Recreate,
            "web-app".into(),
            "image v1 -> v2".into()
        )]
    );
}

#[test]
fn spec_change_names_the_changed_fields_when_the_deployed_spec_is_known() {
    let old = service("web", "r:5000/web:v1", &["8080:80"], "always");
    let new = service("web", "r:5000/web:v1", &["9090:80"], "always");
    let running = created_from(&desired(&old, DesiredState::Running), State::Running);
    let mut d = desired(&new, DesiredState::Running);
    d.deployed = Some(crate::registry::ComponentRecord::of(&old.components[0]));
    assert_eq!(
        plan_of(vec![d.clone()], std::slice::from_ref(&running)),
        vec![(
            ActionKind::Recreate,
            "web-app".into(),
            "spec changed: ports".into()
        )]
    );
    d.deployed = None;
    assert_eq!(plan_of(vec![d], &[running])[0].2, "spec changed");
}

#[test]
fn an_older_hash_version_never_recreates() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let d = desired(&web, DesiredState::Running);
    let mut running = created_from(&d, State::Running);
    running.labels.insert(LABEL_SPEC_HASH.into(), "0000".into());
    running.labels.insert(LABEL_HASH_VERSION.into(), "0".into());
    assert_eq!(plan_of(vec![d], &[running]), vec![]);
}

#[test]
fn inactive_running_is_stopped_and_inactive_missing_is_not_created() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let d = desired(&web, DesiredState::Stopped);
    let running = created_from(&d, State::Running);
    assert_eq!(
        plan_of(vec![d.clone()], &[running]),
        vec![(
            ActionKind::Stop,
            "web-app".into(),
            "service is inactive".into()
        )]
    );
    assert_eq!(plan_of(vec![d], &[]), vec![]);
}

/// The detail of a hands-on `verb` of web/app planned against `desired` and `observed`.
fn set_state_detail(verb: Verb, desired: Vec<Desired<'_>>, observed: &[Instance]) -> Detail {
    let input = PlanInput {
        desired,
        kept: BTreeSet::new(),
        observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    let intent = Intent::SetState {
        targets: vec![("web".into(), "app".into())],
        verb,
    };
    let plan = plan(&intent, &input);
    assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
    plan.actions[0].detail.clone()
}

#[test]
fn starting_a_never_created_inactive_component_is_declined_naming_active_true() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let inactive = desired(&web, DesiredState::Stopped);
    for verb in [Verb::Start, Verb::Restart] {
        let Detail::Declined(why) = set_state_detail(verb, vec![inactive.clone()], &[]) else {
            panic!("{verb:?} of a never-created inactive component is not declined");
        };
        assert!(why.contains("set active = true"), "{why}");
        assert!(
            why.contains("web.toml") && why.contains("mcp sync"),
            "{why}"
        );
        assert!(
            !why.contains("mcp deploy"),
            "deploy refuses inactive services: {why}"
        );
    }
    // Stopping it is already done; starting one that exists is the operator's call
    // (the command notes that the file disagrees).
    assert_eq!(
        set_state_detail(Verb::Stop, vec![inactive.clone()], &[]),
        Detail::AlreadyDone
    );
    let stopped = created_from(&inactive, State::Exited(0));
    assert_eq!(
        set_state_detail(Verb::Start, vec![inactive.clone()], &[stopped]),
        Detail::None
    );
    // Active but not created yet: sync or deploy will create it, and say so.
    let active = desired(&web, DesiredState::Running);
    let Detail::Refused(why) = set_state_detail(Verb::Start, vec![active], &[]) else {
        panic!("start of a missing active component is not refused");
    };
    assert!(why.contains("run mcp sync (or mcp deploy web)"), "{why}");
    // With no readable file, nothing is known of `active`: the generic refusal.
    assert!(matches!(
        set_state_detail(Verb::Start, vec![], &[]),
        Detail::Refused(_)
    ));
}

#[test]
fn undeclared_managed_instances_are_removed_and_unlabelled_ones_adopted() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let gone = service("old", "r:5000/old:v1", &[], "always");
    let gone_instance = created_from(&desired(&gone, DesiredState::Running), State::Running);
    let observed = vec![gone_instance, unlabelled("legacy-thing-one")];
    let d = desired(&web, DesiredState::Running);
    let input = PlanInput {
        desired: vec![d],
        kept: BTreeSet::new(),
        observed: &observed,
        scope: None,
        known: ["old-app".to_string()].into(),
        prune: false,
    };
    let plan = plan(&Intent::Converge, &input);
    let adopt = plan
        .actions
        .iter()
        .find(|a| a.action == ActionKind::Adopt)
        .expect("adopts");
    assert_eq!(
        (adopt.service.as_str(), adopt.component.as_str()),
        ("legacy", "thing-one")
    );
    assert!(
        plan.actions
            .iter()
            .any(|a| a.action == ActionKind::Remove && a.instance == "old-app")
    );

    // Kept (adopted or orphaned) instances are never touched; out-of-scope ones neither.
    let input = PlanInput {
        desired: vec![],
        kept: ["old-app".to_string(), "legacy-thing-one".to_string()].into(),
        observed: &observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    assert!(super::plan::plan(&Intent::Converge, &input).is_empty());
    let input = PlanInput {
        desired: vec![],
        kept: BTreeSet::new(),
        observed: &observed,
        scope: Some(["web".to_string()].into()),
        known: BTreeSet::new(),
        prune: false,
    };
    assert!(super::plan::plan(&Intent::Converge, &input).is_empty());
}

#[test]
fn leftovers_of_an_interrupted_replacement_are_recovered() {
    let old = service("web", "r:5000/web:v1", &[], "always");
    let new = service("web", "r:5000/web:v2", &[], "always");
    let d_new = desired(&new, DesiredState::Running);
    let mut next = created_from(&d_new, State::Created);
    next.name = "web-app.next".into();
    let mut prev = created_from(&desired(&old, DesiredState::Running), State::Exited(0));
    prev.name = "web-app.prev".into();

    // Killed after the old one was put aside: remove .next, restore, then replace.
    let actions = plan_of(vec![d_new.clone()], &[next.clone(), prev.clone()]);
    let kinds: Vec<ActionKind> = actions.iter().map(|a| a.0).collect();
    assert_eq!(
        kinds,
        vec![
            ActionKind::Remove,
            ActionKind::Restore,
            ActionKind::Recreate
        ]
    );
    assert_eq!(actions[0].1, "web-app.next");

    // Killed after the new one took the name and runs: drop the old one.
    let current = created_from(&d_new, State::Running);
    assert_eq!(
        plan_of(vec![d_new], &[current, prev]),
        vec![(
            ActionKind::Remove,
            "web-app.prev".into(),
            "replacement finished".into()
        )]
    );
}

/// A model of the runtime: applies actions the way the executor would.
#[test]
fn update_replaces_only_the_moved_components_that_are_to_run() {
    let web = service("web", "r:5000/web:stable", &["8080:80"], "always");
    let api = service("api", "r:5000/api:stable", &["8081:80"], "always");
    let off = service("off", "r:5000/off:stable", &["8082:80"], "always");
    let (dw, da, doff) = (
        desired(&web, DesiredState::Running),
        desired(&api, DesiredState::Running),
        desired(&off, DesiredState::Stopped),
    );
    // api has drifted (exited), but an update leaves that to sync.
    let observed = vec![
        created_from(&dw, State::Running),
        created_from(&da, State::Exited(1)),
        created_from(&doff, State::Exited(0)),
    ];
    let moved: BTreeMap<(String, String), String> = [
        (
            ("web".to_string(), "app".to_string()),
            "image stable moved: a -> b".to_string(),
        ),
        (
            ("off".to_string(), "app".to_string()),
            "image stable moved: c -> d".to_string(),
        ),
    ]
    .into();
    let input = PlanInput {
        desired: vec![dw, da, doff],
        kept: BTreeSet::new(),
        observed: &observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    let plan = plan(&Intent::Update { moved }, &input);
    let got: Vec<(ActionKind, &str, &str, Option<usize>)> = plan
        .actions
        .iter()
        .map(|a| (a.action, a.instance.as_str(), a.cause.as_str(), a.desired))
        .collect();
    assert_eq!(
        got,
        [(
            ActionKind::Recreate,
            "web-app",
            "image stable moved: a -> b",
            Some(0)
        )]
    );
}

fn apply_model(
    world: &mut BTreeMap<String, Instance>,
    kept: &mut BTreeSet<String>,
    actions: &[Action],
    desired: &[Desired<'_>],
) {
    for a in actions {
        let d = a.desired.map(|i| &desired[i]);
        match a.action {
            ActionKind::Create | ActionKind::Recreate => {
                let d = d.expect("create has a spec");
                world.insert(a.instance.clone(), created_from(d, State::Running));
            }
            ActionKind::Start | ActionKind::Restart | ActionKind::Resume => {
                if let Some(i) = world.get_mut(&a.instance) {
                    i.state = State::Running;
                }
            }
            ActionKind::Stop => {
                if let Some(i) = world.get_mut(&a.instance) {
                    i.state = State::Exited(0);
                }
            }
            ActionKind::Remove => {
                world.remove(&a.instance);
            }
            ActionKind::Restore => {
                let mut prev = world
                    .remove(&format!("{}{PREV_SUFFIX}", a.instance))
                    .expect("prev exists");
                prev.name = a.instance.clone();
                if d.expect("restore has a spec").desired == DesiredState::Running {
                    prev.state = State::Running;
                }
                world.insert(a.instance.clone(), prev);
            }
            ActionKind::Record => {}
            ActionKind::Adopt => {
                kept.insert(a.instance.clone());
            }
        }
    }
}

fn arb_state() -> impl Strategy<Value = Option<State>> {
    prop_oneof![
        Just(None),
        Just(Some(State::Running)),
        Just(Some(State::Created)),
        (0..256i32).prop_map(|c| Some(State::Exited(c))),
    ]
}

proptest! {
    /// Whatever the world looks like, applying the plan reaches a world for
    /// which the next plan is empty, and kept instances are never acted on.
    #[test]
    fn a_plan_converges_in_one_step(
        services in proptest::collection::vec(
            (any::<bool>(), 0..3usize, 0..3usize, arb_state(), any::<bool>(), any::<bool>()), 1..6),
        strays in proptest::collection::vec((0..4usize, any::<bool>()), 0..4),
    ) {
        let images = ["r:5000/a:v1", "r:5000/a:v2", "r:5000/b:v1"];
        let ports = [vec![], vec!["8080:80"], vec!["127.0.0.1:9090:90/udp"]];
        let specs: Vec<(ServiceSpec, ServiceSpec)> = services
            .iter()
            .enumerate()
            .map(|(i, (_, img, port, _, _, _))| {
                let name = format!("s{i}");
                (service(&name, images[*img], &ports[*port], "always"),
                 service(&name, images[(*img + 1) % 3], &ports[(*port + 1) % 3], "always"))
            })
            .collect();
        let mut world: BTreeMap<String, Instance> = BTreeMap::new();
        let mut want = Vec::new();
        for ((active, _, _, state, stale, leftover), (spec, old)) in services.iter().zip(&specs) {
            let d = desired(spec, if *active { DesiredState::Running } else { DesiredState::Stopped });
            let from = if *stale { desired(old, d.desired) } else { d.clone() };
            if let Some(state) = state {
                world.insert(d.instance(), created_from(&from, state.clone()));
            }
            if *leftover {
                let mut next = created_from(&d, State::Created);
                next.name = format!("{}{NEXT_SUFFIX}", d.instance());
                world.insert(next.name.clone(), next);
            }
            want.push(d);
        }
        let mut kept = BTreeSet::new();
        for (i, labelled) in &strays {
            let inst = if *labelled {
                let stray = service(&format!("gone{i}"), images[0], &[], "always");
                created_from(&desired(&stray, DesiredState::Running), State::Running)
            } else {
                unlabelled(&format!("legacy{i}-x"))
            };
            if !labelled && i % 2 == 0 {
                kept.insert(inst.name.clone());
            }
            world.insert(inst.name.clone(), inst);
        }

        let observed: Vec<Instance> = world.values().cloned().collect();
        let first = plan(&Intent::Converge, &PlanInput { desired: want.clone(), kept: kept.clone(), observed: &observed, scope: None, known: BTreeSet::new(), prune: false });
        for a in &first.actions {
            prop_assert!(!kept.contains(&a.instance), "acted on kept {}", a.instance);
            prop_assert!(!a.cause.is_empty());
        }
        apply_model(&mut world, &mut kept, &first.actions, &want);
        let observed: Vec<Instance> = world.values().cloned().collect();
        let second = plan(&Intent::Converge, &PlanInput { desired: want.clone(), kept: kept.clone(), observed: &observed, scope: None, known: BTreeSet::new(), prune: false });
        prop_assert!(second.is_empty(), "second plan not empty: {:?}", second.actions);
        for d in &want {
            let inst = world.get(&d.instance());
            match d.desired {
                DesiredState::Running => prop_assert_eq!(inst.map(|i| &i.state), Some(&State::Running)),
                _ => prop_assert!(inst.is_none_or(|i| i.state != State::Running)),
            }
        }
    }
}

#[test]
fn labelled_instances_nothing_accounts_for_are_orphans_removed_only_on_prune() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let gone = service("old", "r:5000/old:v1", &[], "always");
    let gone_instance = created_from(&desired(&gone, DesiredState::Running), State::Running);
    let d = desired(&web, DesiredState::Running);
    let running = created_from(&d, State::Running);
    let observed = vec![gone_instance, running];
    let mut input = PlanInput {
        desired: vec![d],
        kept: BTreeSet::new(),
        observed: &observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    let p = plan(&Intent::Converge, &input);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.orphans.len(), 1);
    assert_eq!(
        (
            p.orphans[0].service.as_str(),
            p.orphans[0].instance.as_str()
        ),
        ("old", "old-app")
    );
    input.prune = true;
    let p = plan(&Intent::Converge, &input);
    assert!(p.orphans.is_empty());
    assert_eq!(p.actions.len(), 1);
    assert_eq!(p.actions[0].action, ActionKind::Remove);
    assert!(
        p.actions[0].cause.starts_with("orphaned"),
        "{}",
        p.actions[0].cause
    );
}

#[test]
fn a_label_less_container_holding_a_declared_name_is_refused_never_replaced() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let d = desired(&web, DesiredState::Running);
    let observed = vec![unlabelled("web-app")];
    let input = PlanInput {
        desired: vec![d.clone()],
        kept: BTreeSet::new(),
        observed: &observed,
        scope: None,
        known: BTreeSet::new(),
        prune: true,
    };
    for intent in [
        Intent::Converge,
        Intent::RollOut {
            targets: [("web".to_string(), "app".to_string())].into(),
        },
    ] {
        let p = plan(&intent, &input);
        assert_eq!(p.actions.len(), 1, "{intent:?}: {:?}", p.actions);
        match &p.actions[0].detail {
            Detail::Refused(why) => {
                assert!(why.contains("mcp adopt web-app --write-spec"), "{why}")
            }
            other => panic!("{intent:?}: not refused: {other:?}"),
        }
    }
    // Once adopt --write-spec recorded a deploy of it, it is mcp's to manage.
    let mut adopted = d;
    adopted.deployed_hash = Some(adopted.spec_hash.clone());
    let mut same = unlabelled("web-app");
    same.image = "r:5000/web:v1".into();
    let observed = vec![same];
    let input = PlanInput {
        desired: vec![adopted],
        observed: &observed,
        ..input
    };
    assert!(plan(&Intent::Converge, &input).actions.is_empty());
}

#[test]
fn paused_and_stopping_instances_have_a_way_back() {
    let web = service("web", "r:5000/web:v1", &[], "always");
    let d = desired(&web, DesiredState::Running);
    let paused = created_from(&d, State::Paused);
    let p = plan_of(vec![d.clone()], &[paused]);
    assert_eq!(
        p,
        vec![(ActionKind::Resume, "web-app".into(), "paused".into())]
    );
    let stopping = created_from(&d, State::Other("stopping".into()));
    let input = PlanInput {
        desired: vec![d],
        kept: BTreeSet::new(),
        observed: std::slice::from_ref(&stopping),
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    let p = plan(&Intent::Converge, &input);
    assert_eq!(p.actions.len(), 1);
    assert_eq!(p.actions[0].action, ActionKind::Restart);
    assert_eq!(p.actions[0].detail, Detail::StopFirst);
}

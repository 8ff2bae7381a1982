//! Unit tests of the executor on the in-memory runtime: what it asks of the
//! runtime and in which order, what a failure undoes, and what it records.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::apply::{Executor, Outcome};
use super::plan::*;
use super::{Silent, plan};
use crate::registry::{DesiredState, Registry};
use crate::runtime::fake::Fake;
use crate::runtime::*;
use crate::spec::ServiceSpec;
use crate::spec::hash::RuntimeSpec;
use crate::spec::parse::FileReader;

pub(super) fn service(name: &str, components: &[(&str, &str)]) -> ServiceSpec {
    let text: String = components
        .iter()
        .map(|(c, image)| format!("[[components]]\nname = \"{c}\"\nimage = \"{image}\"\n"))
        .collect();
    let mut reader = FileReader::new(Path::new("t.toml"), &text);
    let parsed = reader.read_service(name).expect("parses");
    assert!(reader.diagnostics.is_empty(), "{:?}", reader.diagnostics);
    parsed.spec
}

/// The same service, replaced stop-first (today's order; the default for a
/// component without a read-write volume is start-first, see rollout_tests).
fn stop_first(mut spec: ServiceSpec) -> ServiceSpec {
    for c in spec.components.iter_mut() {
        c.rollout = crate::spec::Rollout::StopFirst;
    }
    spec
}

pub(super) fn desired(specs: &[ServiceSpec]) -> Vec<Desired<'_>> {
    specs
        .iter()
        .flat_map(|s| {
            s.components.iter().map(|c| Desired {
                service: &s.name,
                spec: c,
                desired: DesiredState::from_active(s.active),
                spec_hash: RuntimeSpec::of(c).hash(),
                deployed: None,
                deployed_hash: None,
                image_id: None,
            })
        })
        .collect()
}

/// An instance as mcp would have created it from `d`, in `state`.
fn created_from(d: &Desired<'_>, state: State) -> Instance {
    Instance {
        name: d.instance(),
        runtime: crate::model::RuntimeKind::Container,
        image: d.spec.image.clone(),
        image_id: format!("id-{}", d.spec.image),
        state,
        started_at: None,
        labels: CreateRequest {
            name: &d.instance(),
            service: d.service,
            spec: d.spec,
            spec_hash: &d.spec_hash,
        }
        .labels(),
    }
}

/// A registry that knows `specs`, in a directory that lives as long as it.
pub(super) struct Db {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    pub(super) registry: Registry,
}

pub(super) fn db(specs: &[ServiceSpec]) -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    let mut registry = Registry::open(&path).unwrap();
    registry.sync_desired(specs, &[], false, true).unwrap();
    Db {
        _dir: dir,
        path,
        registry,
    }
}

pub(super) fn input<'a>(desired: Vec<Desired<'a>>, observed: &'a [Instance]) -> PlanInput<'a> {
    PlanInput {
        desired,
        kept: BTreeSet::new(),
        observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    }
}

pub(super) fn apply(
    db: &mut Db,
    runtime: &Fake,
    intent: &Intent,
    input: &PlanInput<'_>,
    jobs: usize,
) -> (Plan, Vec<Outcome>) {
    let plan = plan(intent, input);
    let outcomes = Executor::new(runtime, &Silent, &mut db.registry, "test")
        .jobs(jobs)
        .settle(Duration::ZERO)
        .apply(&plan, &input.desired, |_, _| {})
        .unwrap();
    (plan, outcomes)
}

/// (action, outcome) of every event, oldest first.
pub(super) fn events(db: &Db) -> Vec<(String, String)> {
    let mut events: Vec<(String, String)> = db
        .registry
        .events(None, 100)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.outcome.to_string()))
        .collect();
    events.reverse();
    events
}

/// The changing calls, without the listing and state reads.
pub(super) fn calls(runtime: &Fake) -> Vec<String> {
    runtime.calls()
}

#[test]
fn a_missing_component_is_created_and_recorded_as_running() {
    let specs = [service("web", &[("app", "r:5000/web:v1")])];
    let mut db = db(&specs);
    let fake = Fake::new([]);
    let (_, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&specs), &[]),
        1,
    );
    assert_eq!(outcomes, vec![Outcome::Ok]);
    assert_eq!(calls(&fake), ["create web-app", "start web-app"]);
    assert_eq!(fake.get("web-app").unwrap().state, State::Running);
    let row = db.registry.component("web", "app").unwrap().unwrap();
    assert_eq!(row.observed.as_deref(), Some("running"));
    assert_eq!(
        row.deployed_hash,
        Some(desired(&specs)[0].spec_hash.clone())
    );
    assert_eq!(events(&db), [("create".into(), "ok".into())]);
}

#[test]
fn intents_are_recorded_before_the_runtime_is_asked_anything() {
    let specs = [service(
        "web",
        &[("app", "r:5000/web:v1"), ("db", "r:5000/db:v1")],
    )];
    let mut db = db(&specs);
    let path = db.path.clone();
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let seen_by_hook = Arc::clone(&seen);
    // A second connection, as a run after a kill would see the registry.
    let fake = Fake::new([]).hook(move |_call| {
        let other = Registry::open(&path).unwrap();
        let outcomes = other
            .events(None, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.outcome.to_string())
            .collect();
        seen_by_hook.lock().unwrap().push(outcomes);
    });
    let (_, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&specs), &[]),
        1,
    );
    assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Ok]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "create and start of each component");
    // At the first call, both actions are already recorded as pending.
    assert_eq!(seen[0], ["pending", "pending"]);
}

#[test]
fn a_replacement_creates_aside_swaps_names_starts_and_drops_the_old_one() {
    let v1 = [service("web", &[("app", "r:5000/web:v1")])];
    let v2 = [stop_first(service("web", &[("app", "r:5000/web:v2")]))];
    let old = created_from(&desired(&v1)[0], State::Running);
    let mut db = db(&v2);
    let fake = Fake::new([old.clone()]);
    let (plan, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&v2), &[old]),
        1,
    );
    assert_eq!(plan.actions[0].action, ActionKind::Recreate);
    assert_eq!(outcomes, vec![Outcome::Ok]);
    assert_eq!(
        calls(&fake),
        [
            "remove web-app.next",
            "create web-app.next",
            "stop web-app",
            "rename web-app web-app.prev",
            "rename web-app.next web-app",
            "start web-app",
            "remove web-app.prev",
        ]
    );
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(fake.get("web-app").unwrap().image, "r:5000/web:v2");
}

#[test]
fn a_new_version_that_fails_to_start_is_replaced_by_the_old_one() {
    let v1 = [service("web", &[("app", "r:5000/web:v1")])];
    let v2 = [stop_first(service("web", &[("app", "r:5000/web:v2")]))];
    let old = created_from(&desired(&v1)[0], State::Running);
    let mut db = db(&v2);
    let fake = Fake::new([old.clone()]);
    fake.fail_once("start web-app");
    let (_, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&v2), &[old]),
        1,
    );
    let Outcome::Failed(why) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(
        why.contains("previous version was put back and is running"),
        "{why}"
    );
    // The rollback undoes the three steps done, in reverse, and nothing more.
    assert_eq!(
        calls(&fake)[6..],
        [
            "remove web-app",
            "rename web-app.prev web-app",
            "start web-app",
        ]
    );
    let back = fake.get("web-app").unwrap();
    assert_eq!(
        (back.image.as_str(), back.state),
        ("r:5000/web:v1", State::Running)
    );
    assert_eq!(fake.names(), ["web-app"]);
    let row = db.registry.component("web", "app").unwrap().unwrap();
    assert_eq!(
        row.deployed_hash, None,
        "a failed rollout is not recorded as deployed"
    );
    assert!(
        events(&db)[0].1.starts_with("failed: "),
        "{:?}",
        events(&db)
    );
}

#[test]
fn a_failed_rename_undoes_only_the_stop() {
    let v1 = [service("web", &[("app", "r:5000/web:v1")])];
    let v2 = [stop_first(service("web", &[("app", "r:5000/web:v2")]))];
    let old = created_from(&desired(&v1)[0], State::Running);
    let mut db = db(&v2);
    let fake = Fake::new([old.clone()]);
    fake.fail_once("rename web-app web-app.prev");
    let (_, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&v2), &[old]),
        1,
    );
    assert!(matches!(outcomes[0], Outcome::Failed(_)));
    assert_eq!(
        calls(&fake)[3..],
        [
            "rename web-app web-app.prev",
            "remove web-app.next",
            "start web-app",
        ]
    );
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(fake.get("web-app").unwrap().state, State::Running);
}

#[test]
fn a_new_version_that_cannot_be_created_leaves_the_old_one_untouched() {
    let v1 = [service("web", &[("app", "r:5000/web:v1")])];
    let v2 = [service("web", &[("app", "r:5000/web:v2")])];
    let old = created_from(&desired(&v1)[0], State::Running);
    let mut db = db(&v2);
    let fake = Fake::new([old.clone()]);
    fake.fail_once("create web-app.next");
    let (_, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&v2), std::slice::from_ref(&old)),
        1,
    );
    assert!(matches!(outcomes[0], Outcome::Failed(_)));
    assert_eq!(
        calls(&fake),
        [
            "remove web-app.next",
            "create web-app.next",
            "remove web-app.next",
        ]
    );
    assert_eq!(fake.get("web-app").unwrap(), old);
}

#[test]
fn after_a_failure_the_rest_of_that_component_is_skipped_and_others_go_on() {
    let specs = [
        service("web", &[("app", "r:5000/web:v1")]),
        service("api", &[("app", "r:5000/api:v1")]),
    ];
    let d = desired(&specs);
    let mut leftover = created_from(&d[0], State::Created);
    leftover.name = "web-app.next".into();
    let observed = [leftover];
    let mut db = db(&specs);
    let fake = Fake::new(observed.clone());
    fake.fail_once("remove web-app.next");
    let (plan, outcomes) = apply(&mut db, &fake, &Intent::Converge, &input(d, &observed), 1);
    let summary: Vec<(String, ActionKind)> = plan
        .actions
        .iter()
        .map(|a| (a.instance.clone(), a.action))
        .collect();
    assert_eq!(
        summary,
        [
            ("web-app.next".to_string(), ActionKind::Remove),
            ("web-app".to_string(), ActionKind::Create),
            ("api-app".to_string(), ActionKind::Create),
        ]
    );
    assert!(matches!(outcomes[0], Outcome::Failed(_)));
    assert_eq!(outcomes[1..], [Outcome::Skipped, Outcome::Ok]);
    assert!(fake.get("web-app").is_none());
    assert_eq!(fake.get("api-app").unwrap().state, State::Running);
    let outcomes: Vec<String> = events(&db).into_iter().map(|(_, o)| o).collect();
    assert!(outcomes[0].starts_with("failed: "), "{outcomes:?}");
    assert_eq!(outcomes[1..], ["skipped", "ok"]);
}

#[test]
fn components_run_in_parallel_up_to_the_job_count() {
    let specs = [
        service("web", &[("app", "r:5000/web:v1")]),
        service("api", &[("app", "r:5000/api:v1")]),
    ];
    let mut db = db(&specs);
    // Each start waits until the other is in flight too: this only finishes
    // promptly when the two components really run at the same time.
    let fake = Fake::new([]).rendezvous(2);
    let (_, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&specs), &[]),
        2,
    );
    assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Ok]);
    assert_eq!(fake.most_starting_at_once(), 2);
}

#[test]
fn one_job_runs_components_one_after_the_other_in_plan_order() {
    let specs = [
        service("web", &[("app", "r:5000/web:v1")]),
        service("api", &[("app", "r:5000/api:v1")]),
    ];
    let mut db = db(&specs);
    let fake = Fake::new([]);
    apply(
        &mut db,
        &fake,
        &Intent::Converge,
        &input(desired(&specs), &[]),
        1,
    );
    assert_eq!(fake.most_starting_at_once(), 1);
    // Components are queued by (service, component): api before web.
    assert_eq!(
        calls(&fake),
        [
            "create api-app",
            "start api-app",
            "create web-app",
            "start web-app"
        ]
    );
}

#[test]
fn stop_by_hand_records_the_outcome_and_what_runs() {
    let specs = [service(
        "web",
        &[("app", "r:5000/web:v1"), ("db", "r:5000/db:v1")],
    )];
    let d = desired(&specs);
    let observed = [
        created_from(&d[0], State::Running),
        created_from(&d[1], State::Exited(0)),
    ];
    let mut db = db(&specs);
    let fake = Fake::new(observed.clone());
    let intent = Intent::SetState {
        targets: vec![("web".into(), "app".into()), ("web".into(), "db".into())],
        verb: Verb::Stop,
    };
    let (plan, outcomes) = apply(&mut db, &fake, &intent, &input(Vec::new(), &observed), 1);
    assert_eq!(plan.actions[1].detail, Detail::AlreadyDone);
    assert_eq!(outcomes, vec![Outcome::Ok, Outcome::Ok]);
    // The one already stopped is recorded, but the runtime is not asked.
    assert_eq!(calls(&fake), ["stop web-app"]);
    for c in ["app", "db"] {
        let row = db.registry.component("web", c).unwrap().unwrap();
        assert_eq!(row.observed.as_deref(), Some("exited"), "{c}");
    }
    assert_eq!(
        events(&db),
        [("stop".into(), "ok".into()), ("stop".into(), "ok".into())]
    );
}

#[test]
fn restart_stops_only_what_runs_and_start_refuses_what_does_not_exist() {
    let specs = [service(
        "web",
        &[("app", "r:5000/web:v1"), ("db", "r:5000/db:v1")],
    )];
    let d = desired(&specs);
    let observed = [created_from(&d[0], State::Running)];
    let mut db = db(&specs);
    let fake = Fake::new(observed.clone());
    let intent = Intent::SetState {
        targets: vec![("web".into(), "app".into()), ("web".into(), "db".into())],
        verb: Verb::Restart,
    };
    let (_, outcomes) = apply(&mut db, &fake, &intent, &input(Vec::new(), &observed), 1);
    assert_eq!(outcomes[0], Outcome::Ok);
    let Outcome::Failed(why) = &outcomes[1] else {
        panic!("{outcomes:?}")
    };
    assert!(
        why.contains("web-db does not exist yet; run mcp sync"),
        "{why}"
    );
    assert_eq!(calls(&fake), ["stop web-app", "start web-app"]);
    let events = events(&db);
    assert_eq!(events[0], ("restart".into(), "ok".into()));
    assert!(
        events[1].1.starts_with("failed: web-db does not exist"),
        "{events:?}"
    );
}

#[test]
fn adoption_is_recorded_without_touching_the_runtime() {
    let stranger = Instance {
        name: "legacy-cache".into(),
        runtime: crate::model::RuntimeKind::Container,
        image: "r:5000/cache:v3".into(),
        image_id: "id".into(),
        state: State::Running,
        started_at: None,
        labels: Default::default(),
    };
    let observed = [stranger];
    let mut db = db(&[]);
    let fake = Fake::new(observed.clone());
    let intent = Intent::Adopt {
        instances: vec!["legacy-cache".into()],
    };
    let (plan, outcomes) = apply(&mut db, &fake, &intent, &input(Vec::new(), &observed), 1);
    assert_eq!(
        (
            plan.actions[0].service.as_str(),
            plan.actions[0].component.as_str()
        ),
        ("legacy", "cache")
    );
    assert_eq!(outcomes, vec![Outcome::Ok]);
    assert!(calls(&fake).is_empty());
    let row = db.registry.component("legacy", "cache").unwrap().unwrap();
    assert_eq!(row.desired, DesiredState::Ignore);
    assert_eq!(row.image, "r:5000/cache:v3");
    assert_eq!(events(&db), [("adopt".into(), "ok".into())]);
}

#[test]
fn an_interrupted_replacement_is_put_back_and_started() {
    let specs = [service("web", &[("app", "r:5000/web:v1")])];
    let d = desired(&specs);
    let mut aside = created_from(&d[0], State::Exited(0));
    aside.name = "web-app.prev".into();
    let observed = [aside];
    let mut db = db(&specs);
    let fake = Fake::new(observed.clone());
    let (plan, outcomes) = apply(&mut db, &fake, &Intent::Converge, &input(d, &observed), 1);
    assert_eq!(plan.actions[0].action, ActionKind::Restore);
    assert_eq!(outcomes, vec![Outcome::Ok]);
    assert_eq!(
        calls(&fake),
        [
            "remove web-app",
            "rename web-app.prev web-app",
            "start web-app"
        ]
    );
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(fake.get("web-app").unwrap().state, State::Running);
}

#[test]
fn a_rollout_replaces_an_unchanged_target_and_records_the_pulled_id() {
    let specs = [service("web", &[("app", "r:5000/web:v1")])];
    let current = created_from(&desired(&specs)[0], State::Running);
    let observed = [current];
    let mut db = db(&specs);
    let fake = Fake::new(observed.clone());
    let targets: BTreeSet<(String, String)> = [("web".to_string(), "app".to_string())].into();
    let mut d = desired(&specs);
    super::pull(
        &fake,
        &Silent,
        &mut d,
        &targets,
        crate::model::PullPolicy::Always,
    )
    .unwrap();
    let (plan, outcomes) = apply(
        &mut db,
        &fake,
        &Intent::RollOut { targets },
        &input(d, &observed),
        1,
    );
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.actions[0].action, ActionKind::Recreate);
    assert_eq!(plan.actions[0].cause, "redeploy v1");
    assert_eq!(outcomes, vec![Outcome::Ok]);
    assert_eq!(calls(&fake)[0], "pull r:5000/web:v1");
    let row = db.registry.component("web", "app").unwrap().unwrap();
    assert_eq!(row.image_id.as_deref(), Some("id-r:5000/web:v1"));
}

#[test]
fn a_described_container_is_recorded_as_deployed_without_touching_the_runtime() {
    let specs = [service("web", &[("app", "r:5000/web:v1")])];
    let d = desired(&specs);
    let observed = [created_from(&d[0], State::Running)];
    let mut db = db(&specs);
    let fake = Fake::new(observed.clone());
    let intent = Intent::Record {
        targets: vec![("web".into(), "app".into())],
        source: "web.toml".into(),
    };
    let (plan, outcomes) = apply(
        &mut db,
        &fake,
        &intent,
        &input(desired(&specs), &observed),
        1,
    );
    assert_eq!(plan.actions[0].cause, "described by web.toml");
    assert_eq!(outcomes, vec![Outcome::Ok]);
    assert!(calls(&fake).is_empty());
    let row = db.registry.component("web", "app").unwrap().unwrap();
    assert_eq!(row.deployed_hash, Some(d[0].spec_hash.clone()));
    assert_eq!(
        row.deployed,
        Some(crate::registry::ComponentRecord::of(d[0].spec))
    );
    assert_eq!(events(&db), [("record".into(), "ok".into())]);
}

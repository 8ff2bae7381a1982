//! `requires` through the planner and the executor on the in-memory runtime:
//! requirements first on the way up, dependents first on the way down, a
//! failed requirement skips its dependents, unrelated work stays parallel.

use std::collections::BTreeSet;
use std::path::Path;
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

/// `app/web` requires the service `db`; `lone/x` requires nothing.
fn specs() -> Vec<ServiceSpec> {
    let read = |name: &str, text: &str| {
        let mut reader = FileReader::new(Path::new("t.toml"), text);
        let parsed = reader.read_service(name).expect("parses");
        assert!(reader.diagnostics.is_empty(), "{:?}", reader.diagnostics);
        parsed.spec
    };
    vec![
        read(
            "app",
            "[[components]]\nname = \"web\"\nimage = \"r:5000/app:v1\"\nrequires = [\"db\"]\n",
        ),
        read(
            "db",
            "[[components]]\nname = \"main\"\nimage = \"r:5000/db:v1\"\n",
        ),
        read(
            "lone",
            "[[components]]\nname = \"x\"\nimage = \"r:5000/x:v1\"\n",
        ),
    ]
}

fn desired(specs: &[ServiceSpec]) -> Vec<Desired<'_>> {
    specs
        .iter()
        .flat_map(|s| {
            s.components.iter().map(|c| Desired {
                service: &s.name,
                spec: c,
                desired: DesiredState::Running,
                spec_hash: RuntimeSpec::of(c).hash(),
                deployed: None,
                deployed_hash: None,
                image_id: None,
            })
        })
        .collect()
}

fn input<'a>(desired: Vec<Desired<'a>>, observed: &'a [Instance]) -> PlanInput<'a> {
    PlanInput {
        desired,
        kept: BTreeSet::new(),
        observed,
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    }
}

fn running(name: &str) -> Instance {
    Instance {
        name: name.to_string(),
        runtime: crate::model::RuntimeKind::Container,
        image: String::new(),
        image_id: String::new(),
        state: State::Running,
        started_at: None,
        labels: Default::default(),
    }
}

fn apply(specs: &[ServiceSpec], fake: &Fake, intent: &Intent, jobs: usize) -> (Plan, Vec<Outcome>) {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::open(&dir.path().join("registry.db")).unwrap();
    registry.sync_desired(specs, &[], false, true).unwrap();
    let observed = fake.list().unwrap();
    let input = input(desired(specs), &observed);
    let plan = plan(intent, &input);
    let outcomes = Executor::new(fake, &Silent, &mut registry, "test")
        .jobs(jobs)
        .settle(Duration::ZERO)
        .apply(&plan, &input.desired, |_, _| {})
        .unwrap();
    (plan, outcomes)
}

fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no `{call}` in {calls:?}"))
}

#[test]
fn a_plan_puts_requirements_first_and_names_them() {
    let specs = specs();
    let input = input(desired(&specs), &[]);
    let plan = plan(&Intent::Converge, &input);
    let order: Vec<(String, Vec<String>)> = plan
        .actions
        .iter()
        .map(|a| (format!("{}/{}", a.service, a.component), a.after.clone()))
        .collect();
    let db = order.iter().position(|(c, _)| c == "db/main").unwrap();
    let app = order.iter().position(|(c, _)| c == "app/web").unwrap();
    assert!(db < app, "{order:?}");
    assert_eq!(order[app].1, ["db/main"]);
    assert!(order[db].1.is_empty());
    let json = serde_json::to_value(&plan.actions[app]).unwrap();
    assert_eq!(json["after"], serde_json::json!(["db/main"]));
}

#[test]
fn the_executor_starts_a_dependent_only_after_its_requirement_even_with_many_jobs() {
    let specs = specs();
    let fake = Fake::new([]);
    let (_, outcomes) = apply(&specs, &fake, &Intent::Converge, 4);
    assert!(outcomes.iter().all(|o| *o == Outcome::Ok), "{outcomes:?}");
    let calls = fake.calls();
    assert!(
        position(&calls, "start db-main") < position(&calls, "create app-web"),
        "{calls:?}"
    );
}

#[test]
fn unrelated_work_still_runs_in_parallel() {
    let specs = specs();
    // Two starts must be in flight at once: db/main and lone/x.
    let fake = Fake::new([]).rendezvous(2);
    apply(&specs, &fake, &Intent::Converge, 4);
    assert_eq!(fake.most_starting_at_once(), 2);
}

#[test]
fn a_failed_requirement_skips_its_dependents_only() {
    let specs = specs();
    let fake = Fake::new([]);
    fake.fail_once("start db-main");
    let (plan, outcomes) = apply(&specs, &fake, &Intent::Converge, 2);
    for (a, o) in plan.actions.iter().zip(&outcomes) {
        match (a.service.as_str(), a.action) {
            ("app", _) => assert_eq!(*o, Outcome::Skipped),
            ("db", ActionKind::Start) => assert!(matches!(o, Outcome::Failed(_))),
            ("lone", _) => assert_eq!(*o, Outcome::Ok),
            _ => {}
        }
    }
    assert!(!fake.calls().iter().any(|c| c.contains("app-web")));
}

#[test]
fn stopping_a_requirement_stops_its_running_dependents_first() {
    let specs = specs();
    let fake = Fake::new([running("app-web"), running("db-main"), running("lone-x")]);
    let intent = Intent::SetState {
        targets: vec![("db".into(), "main".into())],
        verb: Verb::Stop,
    };
    let (plan, outcomes) = apply(&specs, &fake, &intent, 4);
    assert!(outcomes.iter().all(|o| *o == Outcome::Ok), "{outcomes:?}");
    assert_eq!(fake.calls(), ["stop app-web", "stop db-main"]);
    assert_eq!(plan.actions[0].cause, "requires db/main, which stops");
    assert_eq!(plan.actions[1].cause, "by hand");
}

#[test]
fn starting_a_dependent_starts_its_stopped_requirement_first() {
    let specs = specs();
    let mut db = running("db-main");
    db.state = State::Exited(0);
    let mut app = running("app-web");
    app.state = State::Exited(0);
    let fake = Fake::new([app, db]);
    let intent = Intent::SetState {
        targets: vec![("app".into(), "web".into())],
        verb: Verb::Start,
    };
    let (plan, _) = apply(&specs, &fake, &intent, 4);
    assert_eq!(fake.calls(), ["start db-main", "start app-web"]);
    assert_eq!(plan.actions[0].cause, "required by app/web");
}

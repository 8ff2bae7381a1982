//! Creating is checked like replacing: a new instance without a health
//! check must still run after the settle time, and all creations of one
//! apply share a single wait and a single listing.

use super::apply::Outcome;
use super::apply_tests::{apply, calls, db, desired, events, input, service};
use super::plan::*;
use crate::runtime::fake::Fake;

#[test]
fn a_new_instance_whose_command_exits_at_once_fails_its_create() {
    let specs = [
        service("web", &[("app", "r:5000/web:v1")]),
        service("job", &[("app", "r:5000/job:v1")]),
    ];
    let mut db = db(&specs);
    let runtime = Fake::new([]).exits_at_once("job-app");
    let (plan, outcomes) = apply(
        &mut db,
        &runtime,
        &Intent::Converge,
        &input(desired(&specs), &[]),
        2,
    );
    let outcome_of = |name: &str| {
        let i = plan
            .actions
            .iter()
            .position(|a| a.instance == name)
            .unwrap();
        outcomes[i].clone()
    };
    assert_eq!(outcome_of("web-app"), Outcome::Ok);
    match outcome_of("job-app") {
        Outcome::Failed(e) => assert!(e.contains("exited (3) instead of running"), "{e}"),
        other => panic!("job-app: {other:?}"),
    }
    // The failure is what the history says; nothing is recorded as running.
    let ev = events(&db);
    assert!(
        ev.iter()
            .any(|(a, o)| a == "create" && o.starts_with("failed")),
        "{ev:?}"
    );
    let row = db.registry.component("job", "app").unwrap().unwrap();
    assert_ne!(row.observed.as_deref(), Some("running"));
    assert_eq!(row.deployed_hash, None);
}

#[test]
fn all_creations_of_one_apply_are_checked_with_one_listing() {
    let specs = [
        service("a", &[("app", "r:5000/a:v1")]),
        service("b", &[("app", "r:5000/b:v1")]),
        service("c", &[("app", "r:5000/c:v1")]),
    ];
    let mut db = db(&specs);
    let runtime = Fake::new([]);
    let (_, outcomes) = apply(
        &mut db,
        &runtime,
        &Intent::Converge,
        &input(desired(&specs), &[]),
        1,
    );
    assert_eq!(outcomes, vec![Outcome::Ok; 3]);
    assert_eq!(runtime.lists(), 1, "calls: {:?}", calls(&runtime));
}

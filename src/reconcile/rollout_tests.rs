//! start-first and stop-first replacements on the in-memory runtime: the
//! order of calls, and what each failure leaves running.

use std::path::Path;
use std::time::Duration;

use super::plan::Desired;
use super::rollout::replace;
use crate::registry::DesiredState;
use crate::runtime::fake::Fake;
use crate::runtime::{CreateRequest, Instance, Runtime, State};
use crate::spec::hash::RuntimeSpec;
use crate::spec::parse::FileReader;
use crate::spec::{ComponentSpec, ServiceSpec};

fn service(extra: &str, tag: &str) -> ServiceSpec {
    let text = format!(
        "[[components]]\nname = \"app\"\nimage = \"r:5000/web:{tag}\"\nports = [\"127.0.0.1:8080:80\"]\n{extra}"
    );
    let mut reader = FileReader::new(Path::new("web.toml"), &text);
    let parsed = reader.read_service("web").expect("parses");
    assert!(reader.diagnostics.is_empty(), "{:?}", reader.diagnostics);
    parsed.spec
}

fn desired(spec: &ComponentSpec) -> Desired<'_> {
    Desired {
        service: "web",
        spec,
        desired: DesiredState::Running,
        spec_hash: RuntimeSpec::of(spec).hash(),
        deployed: None,
        deployed_hash: None,
        image_id: None,
    }
}

/// `web-app` running v1, as mcp created it.
fn running_v1(extra: &str) -> Fake {
    let v1 = service(extra, "v1");
    let d = desired(&v1.components[0]);
    let old = Instance {
        name: d.instance(),
        runtime: crate::model::RuntimeKind::Container,
        image: d.spec.image.clone(),
        image_id: "id-v1".into(),
        state: State::Running,
        started_at: None,
        labels: CreateRequest {
            name: &d.instance(),
            service: "web",
            spec: d.spec,
            spec_hash: &d.spec_hash,
        }
        .labels(),
    };
    Fake::new([old])
}

fn deploy_v2(fake: &Fake, extra: &str) -> anyhow::Result<()> {
    let v2 = service(extra, "v2");
    replace(fake, &desired(&v2.components[0]), Duration::ZERO)
}

fn serving(fake: &Fake) -> (String, State) {
    let i = fake.get("web-app").expect("web-app exists");
    (i.image, i.state)
}

const TRIAL: [&str; 4] = [
    "remove web-app.next",
    "create web-app.next",
    "start web-app.next",
    "remove web-app.next",
];

/// A stop-first replacement, as the in-memory runtime logs it.
const STOP_FIRST: [&str; 7] = [
    "remove web-app.next",
    "create web-app.next",
    "stop web-app",
    "rename web-app web-app.prev",
    "rename web-app.next web-app",
    "start web-app",
    "remove web-app.prev",
];

#[test]
fn start_first_runs_a_trial_beside_the_old_one_then_switches() {
    let fake = running_v1("");
    deploy_v2(&fake, "").unwrap();
    let calls = fake.calls();
    assert_eq!(calls[..4], TRIAL);
    assert_eq!(
        calls[4..],
        [
            "create web-app.next",
            "rename web-app web-app.prev",
            "rename web-app.next web-app",
            "stop web-app.prev",
            "start web-app",
            "remove web-app.prev",
        ]
    );
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(serving(&fake), ("r:5000/web:v2".into(), State::Running));
}

#[test]
fn a_trial_that_fails_leaves_the_old_one_untouched() {
    let fake = running_v1("");
    fake.fail_once("start web-app.next");
    let why = format!("{:#}", deploy_v2(&fake, "").unwrap_err());
    assert!(why.contains("kept serving untouched"), "{why}");
    assert_eq!(fake.calls(), TRIAL);
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(serving(&fake), ("r:5000/web:v1".into(), State::Running));
}

#[test]
fn a_final_start_that_fails_puts_the_old_one_back_running() {
    let fake = running_v1("");
    fake.fail_once("start web-app");
    let why = format!("{:#}", deploy_v2(&fake, "").unwrap_err());
    assert!(why.contains("previous version was put back"), "{why}");
    assert_eq!(
        fake.calls()[8..],
        [
            "start web-app",
            "remove web-app",
            "rename web-app.prev web-app",
            "start web-app",
        ]
    );
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(serving(&fake), ("r:5000/web:v1".into(), State::Running));
}

/// What podman says when a port its conmon reserves is still held.
const PORT_HELD: &str =
    "cannot listen on the TCP port: listen tcp4 127.0.0.1:8080: bind: address already in use";

/// The old instance's conmon can hold its ports a moment after podman says
/// it exited (seen under load, replacing a crash-looping container): the start on
/// the real ports waits for them instead of rolling back.
#[test]
fn a_start_on_ports_the_old_one_still_holds_waits_for_them() {
    for extra in ["", "rollout = \"stop-first\"\n"] {
        let fake = running_v1(extra);
        fake.fail_once_with("start web-app", PORT_HELD);
        deploy_v2(&fake, extra).unwrap();
        let calls = fake.calls();
        let starts = calls.iter().filter(|c| *c == "start web-app").count();
        assert_eq!(starts, 2, "{extra}: {calls:?}");
        assert_eq!(calls.last().unwrap(), "remove web-app.prev", "{extra}");
        assert_eq!(serving(&fake), ("r:5000/web:v2".into(), State::Running));
    }
}

/// Without an old instance nobody is about to give the port up: a first
/// start on a taken port fails at once.
#[test]
fn a_taken_port_with_no_old_instance_fails_at_once() {
    let fake = Fake::new([]);
    fake.fail_once_with("start web-app", PORT_HELD);
    let why = format!("{:#}", deploy_v2(&fake, "").unwrap_err());
    assert!(why.contains("address already in use"), "{why}");
    let starts = fake
        .calls()
        .iter()
        .filter(|c| *c == "start web-app")
        .count();
    assert_eq!(starts, 1, "{:?}", fake.calls());
}

#[test]
fn a_failed_rename_during_the_switch_stops_nothing() {
    let fake = running_v1("");
    fake.fail_once("rename web-app.next web-app");
    assert!(deploy_v2(&fake, "").is_err());
    let calls = fake.calls();
    assert!(!calls.iter().any(|c| c.starts_with("stop")), "{calls:?}");
    assert_eq!(
        calls[calls.len() - 2..],
        ["remove web-app.next", "rename web-app.prev web-app"]
    );
    assert_eq!(serving(&fake), ("r:5000/web:v1".into(), State::Running));
}

#[test]
fn a_read_write_volume_or_an_unaimable_check_means_stop_first() {
    // An http check on a port the component does not publish: here a
    // listener of the test's own that answers every request with 200.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = std::io::Read::read(&mut conn, &mut [0u8; 512]);
            let _ = std::io::Write::write_all(&mut conn, b"HTTP/1.0 200 OK\r\n\r\n");
        }
    });
    let unaimable = format!("[components.health]\nhttp = \"http://127.0.0.1:{port}/\"\n");
    for extra in [
        "volumes = [\"/srv/data:/data\"]\n",
        "rollout = \"stop-first\"\n",
        unaimable.as_str(),
    ] {
        let fake = running_v1(extra);
        deploy_v2(&fake, extra).unwrap();
        assert_eq!(fake.calls(), STOP_FIRST, "{extra}");
    }
}

#[test]
fn without_a_running_old_one_there_is_no_trial() {
    let fake = running_v1("");
    fake.stop("web-app", Duration::ZERO).unwrap();
    deploy_v2(&fake, "").unwrap();
    assert!(
        !fake.calls().contains(&"start web-app.next".to_string()),
        "{:?}",
        fake.calls()
    );
    assert_eq!(serving(&fake), ("r:5000/web:v2".into(), State::Running));
}

/// An old instance that is up only because its restart policy revives it
/// serves nothing: no trial runs beside it.
#[test]
fn a_crash_looping_old_one_is_replaced_stop_first() {
    let fake = running_v1("").crash_loops("web-app");
    deploy_v2(&fake, "").unwrap();
    assert_eq!(fake.calls(), STOP_FIRST);
    assert_eq!(serving(&fake), ("r:5000/web:v2".into(), State::Running));
}

#[test]
fn a_runtime_that_moves_ports_keeps_the_checked_trial() {
    let fake = running_v1("").moving_ports();
    deploy_v2(&fake, "").unwrap();
    assert_eq!(
        fake.calls(),
        [
            "remove web-app.next",
            "create web-app.next",
            "start web-app.next",
            "take-over-ports web-app web-app.next",
            "rename web-app web-app.prev",
            "rename web-app.next web-app",
            "stop web-app.prev",
            "remove web-app.prev",
        ]
    );
    assert_eq!(serving(&fake), ("r:5000/web:v2".into(), State::Running));
}

#[test]
fn a_failed_port_move_removes_the_trial_and_keeps_the_old_one() {
    let fake = running_v1("").moving_ports();
    fake.fail_once("take-over-ports web-app web-app.next");
    let why = format!("{:#}", deploy_v2(&fake, "").unwrap_err());
    assert!(why.contains("the old one kept them"), "{why}");
    assert_eq!(fake.calls().last().unwrap(), "remove web-app.next");
    assert_eq!(fake.names(), ["web-app"]);
    assert_eq!(serving(&fake), ("r:5000/web:v1".into(), State::Running));
}

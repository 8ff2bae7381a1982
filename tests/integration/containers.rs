//! Containers end to end on real podman and a real OCI registry on loopback.

use crate::shim::PodmanShim;
use crate::support::Host;

fn web_spec(host: &Host, tag: &str, port: u16, extra: &str) -> String {
    format!(
        r#"comment = "public web site"

[[components]]
name = "api"
image = "{image}"
restart = "no"
ports = ["127.0.0.1:{port}:8080"]
{extra}
[components.health]
tcp = {port}
timeout = "10s"
"#,
        image = host.image(tag)
    )
}

fn component<'a>(
    status: &'a serde_json::Value,
    service: &str,
    name: &str,
) -> &'a serde_json::Value {
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == service && c["component"] == name)
        .unwrap_or_else(|| panic!("{service}/{name} not in status: {status:#}"))
}

fn container_id(host: &Host, name: &str) -> String {
    host.podman(["inspect", "--format", "{{.Id}}", name])
        .success()
        .out()
        .to_string()
}

#[test]
fn sync_from_nothing_serves_then_rolls_to_v2() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success().stdout_has("create");
    host.assert_serves(port, "v1");

    host.write_service("web", &web_spec(&host, "v2", port, ""));
    host.mcp(["sync"]).success().stdout_has("image v1 -> v2");
    host.assert_serves(port, "v2");

    let status = host.mcp(["--json", "status"]).success().json();
    let api = component(&status, "web", "api");
    assert_eq!(api["version"], "v2");
    assert_eq!(api["observed"], "running");
    assert_eq!(api["desired"], "running");
    assert_eq!(api["runtime"], "container");
    assert_eq!(api["drift"], serde_json::json!([]));
    host.mcp(["status", "--check"]).success();
}

#[test]
fn killed_component_is_drift_and_sync_brings_it_back() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");

    host.podman(["kill", "web-api"]).success();
    let check = host.mcp(["status", "--check"]).expect_code(3);
    assert!(check.stdout.contains("exited (137)"), "{check}");
    let json = host.mcp(["--json", "status"]).expect_code(0).json();
    assert_eq!(component(&json, "web", "api")["drift"][0], "exited (137)");

    host.mcp(["sync"]).success().stdout_has("start");
    host.assert_serves(port, "v1");
    host.mcp(["status", "--check"]).success();
}

#[test]
fn a_no_op_sync_makes_exactly_one_podman_call() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();

    let shim = PodmanShim::new();
    let out = shim.mcp(&host, &["sync"], None, None).success();
    assert_eq!(out.out(), "no changes");
    assert_eq!(shim.calls(), vec!["ps --all --format json"]);
}

#[test]
fn an_unlabelled_container_is_adopted_as_ignore_and_left_running() {
    let host = Host::new();
    host.podman(["run", "-d", "--name", "legacy-thing", &host.image("v1")])
        .success();
    host.mcp(["sync"]).success().stdout_has("legacy/thing");
    let status = host.mcp(["--json", "status"]).success().json();
    let thing = component(&status, "legacy", "thing");
    assert_eq!(thing["desired"], "ignore");
    assert_eq!(thing["observed"], "running");
    assert_eq!(host.mcp(["sync"]).success().out(), "no changes");
    let state = host
        .podman(["inspect", "--format", "{{.State.Status}}", "legacy-thing"])
        .success();
    assert_eq!(state.out(), "running");
}

#[test]
fn logs_tail_prints_the_containers_output() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
    let logs = host.mcp(["logs", "web/api", "--tail", "5"]).success();
    assert!(logs.stdout.contains("web v1: ready"), "{logs}");
    host.mcp(["logs", "web/nope"])
        .failure()
        .stderr_has("unknown component web/nope");
    host.mcp(["logs", "web"]).expect_code(2);
}

#[test]
fn dry_run_names_the_new_version_exits_3_and_changes_nothing() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    let id = container_id(&host, "web-api");

    host.write_service("web", &web_spec(&host, "v2", port, ""));
    let plan = host
        .mcp(["--json", "sync", "--dry-run"])
        .expect_code(3)
        .json();
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plan:#}");
    assert_eq!(actions[0]["action"], "recreate");
    assert_eq!(actions[0]["service"], "web");
    assert_eq!(actions[0]["component"], "api");
    assert_eq!(actions[0]["cause"], "image v1 -> v2");
    assert_eq!(container_id(&host, "web-api"), id);
    host.assert_serves(port, "v1");
    // The registry was not touched either: the real sync still sees the change.
    host.mcp(["sync"]).success().stdout_has("api: image:");
}

#[test]
fn comment_and_route_changes_never_recreate() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    let id = container_id(&host, "web-api");
    let routes = format!("[[components.routes]]\nport = {port}\nhostname = \"web.example.com\"\n");
    host.write_service(
        "web",
        &(web_spec(&host, "v1", port, "").replace("public web site", "changed") + &routes),
    );
    let out = host.mcp(["--json", "sync"]).success().json();
    assert!(out["actions"].as_array().unwrap().is_empty(), "{out:#}");
    assert_eq!(container_id(&host, "web-api"), id);
}

#[test]
fn an_env_change_recreates_and_names_the_field_but_not_the_value() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service(
        "web",
        &web_spec(&host, "v1", port, "env = { TOKEN = \"s3cret-one\" }"),
    );
    host.mcp(["sync"]).success();
    host.write_service(
        "web",
        &web_spec(&host, "v1", port, "env = { TOKEN = \"s3cret-two\" }"),
    );
    let out = host.mcp(["sync"]).success().stdout_has("spec changed: env");
    assert!(!out.stdout.contains("s3cret"), "{out}");
    host.assert_serves(port, "v1");
}

#[test]
fn inactive_service_is_stopped_and_reactivated() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.write_service(
        "web",
        &format!("active = false\n{}", web_spec(&host, "v1", port, "")),
    );
    host.mcp(["sync"])
        .success()
        .stdout_has("service is inactive");
    assert_eq!(host.curl_once(port), None);
    let status = host.mcp(["--json", "status"]).success().json();
    let api = component(&status, "web", "api");
    assert_eq!(api["desired"], "stopped");
    assert_eq!(api["drift"], serde_json::json!([]));
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
}

#[test]
fn deploy_direct_rolls_out_and_forces_a_redeploy() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    let id = container_id(&host, "web-api");

    host.mcp(["deploy", "--direct", "web"])
        .success()
        .stdout_has("redeploy v1");
    assert_ne!(
        container_id(&host, "web-api"),
        id,
        "deploy must replace the container"
    );
    host.assert_serves(port, "v1");

    host.write_service("web", &web_spec(&host, "v2", port, ""));
    host.mcp(["deploy", "--direct", "web/api"])
        .success()
        .stdout_has("deploy v1 -> v2");
    host.assert_serves(port, "v2");
    let status = host.mcp(["--json", "status"]).success().json();
    let api = component(&status, "web", "api");
    assert_eq!(api["version"], "v2");
    assert_eq!(api["previous_image"], host.image("v1"));
    assert!(
        api["image_id"].as_str().is_some_and(|id| id.len() >= 12),
        "{api:#}"
    );
    assert_eq!(host.mcp(["sync"]).success().out(), "no changes");
    host.mcp(["deploy"]).expect_code(2);
    host.mcp(["deploy", "nosuch"]).expect_code(2);
}

#[test]
fn a_deploy_whose_process_exits_at_once_rolls_back() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();

    host.write_service("web", &web_spec(&host, "broken", port, ""));
    // start-first: the new version fails its trial; the old one is never stopped.
    host.mcp(["deploy", "--direct", "web"])
        .expect_code(1)
        .stderr_has("kept serving untouched");
    host.assert_serves(port, "v1");
    assert_no_leftovers(&host);
    let history = host.mcp(["--json", "history", "web"]).success().json();
    let last = &history["events"][0];
    assert_eq!(last["command"], "deploy");
    assert_eq!(
        last["cause"].as_str().or(last["detail"].as_str()),
        Some("deploy v1 -> broken")
    );
    assert!(
        last["outcome"].as_str().unwrap().starts_with("failed:"),
        "{history:#}"
    );
}

#[test]
fn a_sync_to_an_image_that_never_listens_rolls_back() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_spec(&host, "v1", port, ""));
    host.mcp(["sync"]).success();

    host.write_service(
        "web",
        &web_spec(&host, "nohealth", port, "").replace("\"10s\"", "\"3s\""),
    );
    host.mcp(["sync"])
        .expect_code(1)
        .stderr_has("health check failed");
    host.assert_serves(port, "v1");
    assert_no_leftovers(&host);
    // The next sync tries again (the spec still asks for it) and fails the same safe way.
    host.mcp(["status", "--check"]).expect_code(3);
}

fn assert_no_leftovers(host: &Host) {
    let names = host
        .podman(["ps", "-a", "--format", "{{.Names}}"])
        .success();
    assert_eq!(names.out(), "web-api", "containers left: {names}");
}

#[test]
fn adopt_write_spec_then_sync_changes_nothing() {
    let host = Host::new();
    let port = host.free_port();
    host.podman([
        "run",
        "-d",
        "--name",
        "shop-front",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-e",
        "GREETING=hello",
        &host.image("v1"),
    ])
    .success();
    let id = container_id(&host, "shop-front");
    host.mcp(["adopt", "shop-front", "--write-spec"])
        .success()
        .stdout_has("shop/front");
    let spec = std::fs::read_to_string(host.services_dir().join("shop.toml")).unwrap();
    assert!(spec.contains(&format!("127.0.0.1:{port}:8080")), "{spec}");
    assert!(spec.contains("GREETING = \"hello\""), "{spec}");
    host.mcp(["validate"]).success();
    assert_eq!(host.mcp(["sync"]).success().out(), "no changes");
    assert_eq!(container_id(&host, "shop-front"), id);
    host.mcp(["status", "--check"]).success();
    host.assert_serves(port, "v1");
}

#[test]
fn adopt_all_records_untracked_containers() {
    let host = Host::new();
    host.podman(["run", "-d", "--name", "tools-box", &host.image("v1")])
        .success();
    let out = host.mcp(["--json", "adopt", "--all"]).success().json();
    assert_eq!(out["adopted"][0]["service"], "tools");
    assert_eq!(out["adopted"][0]["component"], "box");
    host.mcp(["adopt", "--all"])
        .success()
        .stdout_has("nothing to adopt");
    host.mcp(["adopt", "nosuch"])
        .failure()
        .stderr_has("no container named `nosuch`");
}

#[test]
fn removing_a_component_removes_its_container_and_prune_removes_services() {
    let host = Host::new();
    let (p1, p2) = (host.free_port(), host.free_port());
    let two = format!(
        "{}\n[[components]]\nname = \"extra\"\nimage = \"{}\"\nports = [\"127.0.0.1:{p2}:8080\"]\n",
        web_spec(&host, "v1", p1, ""),
        host.image("v1")
    );
    host.write_service("web", &two);
    host.mcp(["sync"]).success();
    host.assert_serves(p2, "v1");
    host.write_service("web", &web_spec(&host, "v1", p1, ""));
    host.mcp(["sync"])
        .success()
        .stdout_has("no longer declared");
    assert_eq!(host.curl_once(p2), None);

    host.remove_service("web");
    // A kept orphan is a note on stderr, not a change (issue 16).
    host.mcp(["sync"]).success().stderr_has("sync --prune");
    host.assert_serves(p1, "v1");
    host.mcp(["sync", "--prune"]).success();
    assert_eq!(host.curl_once(p1), None);
    let names = host
        .podman(["ps", "-a", "--format", "{{.Names}}"])
        .success();
    assert_eq!(names.out(), "");
}

#[test]
fn a_missing_network_is_created_and_the_container_joins_it() {
    let host = Host::new();
    let port = host.free_port();
    let net = format!("mcpnet{}", std::process::id());
    host.write_service(
        "web",
        &web_spec(&host, "v1", port, &format!("network = \"{net}\"")),
    );
    host.mcp(["sync"]).success();
    host.podman(["network", "exists", &net]).success();
    let nets = host
        .podman([
            "inspect",
            "--format",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            "web-api",
        ])
        .success();
    assert_eq!(nets.out(), net);
    host.assert_serves(port, "v1");
}

#[test]
fn naming_services_limits_the_sync_to_them() {
    let host = Host::new();
    let (p1, p2) = (host.free_port(), host.free_port());
    host.write_service("web", &web_spec(&host, "v1", p1, ""));
    host.write_service("shop", &web_spec(&host, "v1", p2, ""));
    host.mcp(["sync", "web"]).success();
    host.assert_serves(p1, "v1");
    assert_eq!(host.curl_once(p2), None, "shop was out of scope");
    host.mcp(["sync", "nosuch"])
        .expect_code(2)
        .stderr_has("unknown service `nosuch`");
    host.mcp(["sync", "shop"]).success();
    host.assert_serves(p2, "v1");
}

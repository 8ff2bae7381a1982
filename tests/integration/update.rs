//! `mcp update` on the loopback registry: tags are moved and deleted for real
//! (skopeo copies between repositories of the shared registry, under names
//! unique to the test so parallel tests never see each other's tags).

use crate::support::{Host, REGISTRY};

/// A repository name no other test (or earlier run) uses.
fn unique_repo(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{REGISTRY}/upd{}x{nanos}/{what}", std::process::id())
}

/// Makes `dest` (`repo:tag`) name the same manifest as the fixture `web:<tag>`,
/// registry to registry: nothing enters the host's podman storage.
fn point_tag(host: &Host, web_tag: &str, dest: &str) {
    point_tag_as(host, web_tag, dest, &[]);
}

/// [`point_tag`], with extra `skopeo copy` flags (`--format v2s2`: another
/// manifest of the very same image).
fn point_tag_as(host: &Host, web_tag: &str, dest: &str, flags: &[&str]) {
    let mut cmd = host.command("skopeo");
    cmd.arg("copy").args(flags);
    cmd.args([
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}", host.image(web_tag)),
        &format!("docker://{dest}"),
    ]);
    host.run(cmd).success();
}

fn delete_tag(host: &Host, image: &str) {
    let mut cmd = host.command("skopeo");
    cmd.args(["delete", "--tls-verify=false", &format!("docker://{image}")]);
    host.run(cmd).success();
}

/// What the registry says the tag names now, as skopeo itself reports it.
fn registry_digest(host: &Host, image: &str) -> String {
    let mut cmd = host.command("skopeo");
    cmd.args([
        "inspect",
        "--tls-verify=false",
        "--no-tags",
        "--format",
        "{{.Digest}}",
        &format!("docker://{image}"),
    ]);
    host.run(cmd).success().out().to_string()
}

fn component(image: &str, name: &str, port: u16) -> String {
    format!(
        r#"
[[components]]
name = "{name}"
image = "{image}"
restart = "no"
ports = ["127.0.0.1:{port}:8080"]
[components.health]
tcp = {port}
timeout = "20s"
"#
    )
}

fn container_id(host: &Host, name: &str) -> String {
    host.podman(["inspect", "--format", "{{.Id}}", name])
        .success()
        .out()
        .to_string()
}

fn status_of(host: &Host, component: &str) -> serde_json::Value {
    let status = host.mcp(["--json", "status"]).success().json();
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == component)
        .cloned()
        .unwrap_or_else(|| panic!("{component} not in {status:#}"))
}

#[test]
fn update_rolls_out_only_the_moved_tag_and_is_quiet_when_nothing_moved() {
    let host = Host::new();
    let app = format!("{}:stable", unique_repo("app"));
    point_tag(&host, "v1", &app);
    let (p_app, p_fixed) = (host.free_port(), host.free_port());
    host.write_service(
        "svc",
        &(component(&app, "app", p_app) + &component(&host.image("v1"), "fixed", p_fixed)),
    );
    host.mcp(["sync"]).success();
    host.assert_serves(p_app, "v1");
    let old = registry_digest(&host, &app);
    assert_eq!(status_of(&host, "app")["image_digest"], old.as_str());

    // Nothing moved yet: a no-op, silent under -q.
    let quiet = host.mcp(["-q", "update"]).success();
    assert_eq!(quiet.stdout, "", "{quiet}");
    assert_eq!(quiet.stderr, "", "{quiet}");

    point_tag(&host, "v2", &app);
    let new = registry_digest(&host, &app);
    assert_ne!(old, new);
    let fixed_id = container_id(&host, "svc-fixed");
    let app_id = container_id(&host, "svc-app");

    let dry = host.mcp(["update", "--dry-run"]).expect_code(3);
    for needle in ["svc/app", old.as_str(), new.as_str()] {
        assert!(dry.stdout.contains(needle), "missing {needle}\n{dry}");
    }
    assert!(!dry.stdout.contains("svc/fixed"), "{dry}");
    let json = host
        .mcp(["--json", "update", "--dry-run"])
        .expect_code(3)
        .json();
    let moved: Vec<&serde_json::Value> = json["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "moved")
        .collect();
    assert_eq!(moved.len(), 1, "{json:#}");
    assert_eq!(moved[0]["component"], "app");
    assert_eq!(moved[0]["deployed_digest"], old.as_str());
    assert_eq!(moved[0]["registry_digest"], new.as_str());
    // A dry run changed nothing.
    assert_eq!(container_id(&host, "svc-app"), app_id);
    host.assert_serves(p_app, "v1");

    host.mcp(["update"]).success().stdout_has("svc/app");
    host.assert_serves(p_app, "v2");
    assert_ne!(container_id(&host, "svc-app"), app_id);
    assert_eq!(
        container_id(&host, "svc-fixed"),
        fixed_id,
        "fixed was touched"
    );
    assert_eq!(status_of(&host, "app")["image_digest"], new.as_str());

    let history = host.mcp(["--json", "history", "svc"]).success().json();
    let update = history
        .as_array()
        .or_else(|| history["events"].as_array())
        .unwrap()
        .iter()
        .find(|e| e["command"] == "update" && e["component"] == "app")
        .cloned()
        .unwrap_or_else(|| panic!("no update event in {history:#}"));
    let detail = update["detail"].as_str().unwrap();
    assert!(detail.contains(&old) && detail.contains(&new), "{update:#}");
    assert_eq!(update["outcome"], "ok");

    let again = host.mcp(["-q", "update"]).success();
    assert_eq!(again.stdout, "", "{again}");
    assert_eq!(again.stderr, "", "{again}");
    host.mcp(["update", "--dry-run"])
        .success()
        .stdout_has("no image updates");
}

#[test]
fn update_reports_a_deleted_tag_and_still_updates_the_rest_never_touching_pinned_or_local() {
    let host = Host::new();
    let moving = format!("{}:stable", unique_repo("moving"));
    let gone = format!("{}:stable", unique_repo("gone"));
    point_tag(&host, "v1", &moving);
    point_tag(&host, "v1", &gone);
    let pinned = format!(
        "{REGISTRY}/web@{}",
        registry_digest(&host, &host.image("v1"))
    );
    // A local image: pulled, then tagged under localhost/ in this host's storage.
    host.podman(["pull", "-q", &host.image("v1")]).success();
    let local = format!("localhost/upd{}/app:v1", std::process::id());
    host.podman(["tag", &host.image("v1"), &local]).success();
    let ports: Vec<u16> = (0..4).map(|_| host.free_port()).collect();
    host.write_service(
        "svc",
        &[
            component(&moving, "moving", ports[0]),
            component(&gone, "gone", ports[1]),
            component(&pinned, "pinned", ports[2]),
            component(&local, "local", ports[3]),
        ]
        .concat(),
    );
    host.mcp(["sync"]).success();
    host.assert_serves(ports[0], "v1");
    let untouched = [
        container_id(&host, "svc-pinned"),
        container_id(&host, "svc-local"),
        container_id(&host, "svc-gone"),
    ];

    point_tag(&host, "v2", &moving);
    delete_tag(&host, &gone);

    let dry = host.mcp(["update", "--dry-run"]).expect_code(1);
    assert!(dry.stderr.contains("svc/gone"), "{dry}");
    assert!(dry.stdout.contains("svc/moving"), "{dry}");

    let out = host.mcp(["update"]).expect_code(1);
    assert!(out.stderr.contains("svc/gone"), "{out}");
    assert!(out.stderr.contains("no longer exists"), "{out}");
    assert!(!out.stderr.contains("svc/moving"), "{out}");
    for note in [
        "svc/pinned: skipped: pinned by digest",
        "svc/local: skipped: local image",
    ] {
        assert!(out.stdout.contains(note), "missing {note:?}\n{out}");
    }
    host.assert_serves(ports[0], "v2");
    assert_eq!(
        [
            container_id(&host, "svc-pinned"),
            container_id(&host, "svc-local"),
            container_id(&host, "svc-gone"),
        ],
        untouched
    );
    host.assert_serves(ports[1], "v1");

    let json = host.mcp(["--json", "update"]).expect_code(1).json();
    let by = |name: &str| {
        json["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by("moving")["status"], "current");
    assert_eq!(by("gone")["status"], "failed");
    assert_eq!(by("pinned")["status"], "skipped");
    assert_eq!(by("local")["status"], "skipped");
}

#[test]
fn update_replaces_nothing_when_the_tag_names_another_manifest_of_the_same_image() {
    let host = Host::new();
    let app = format!("{}:stable", unique_repo("same"));
    point_tag(&host, "v1", &app);
    let port = host.free_port();
    host.write_service("svc", &component(&app, "app", port));
    host.mcp(["sync"]).success();
    let oci = registry_digest(&host, &app);
    let id = container_id(&host, "svc-app");

    // The same image re-pushed as a Docker v2s2 manifest: a new digest.
    point_tag_as(&host, "v1", &app, &["--format", "v2s2"]);
    let v2s2 = registry_digest(&host, &app);
    assert_ne!(oci, v2s2);
    let out = host.mcp(["--json", "update"]).success().json();
    assert_eq!(out["components"][0]["status"], "current", "{out:#}");
    assert_eq!(
        container_id(&host, "svc-app"),
        id,
        "the same image was replaced"
    );
    host.mcp(["update", "--dry-run"]).success();

    // Both manifests are now known: pointing back is no change either, and
    // needs no pull.
    point_tag(&host, "v1", &app);
    let quiet = host.mcp(["-q", "update", "--dry-run"]).success();
    assert_eq!(quiet.stdout, "", "{quiet}");
    assert_eq!(container_id(&host, "svc-app"), id);
}

#[test]
fn update_reports_an_unreachable_registry_for_its_component_and_updates_the_rest() {
    let host = Host::new();
    let up = format!("{}:stable", unique_repo("up"));
    let down_repo = unique_repo("down");
    let down = format!("{down_repo}:stable");
    point_tag(&host, "v1", &up);
    point_tag(&host, "v1", &down);
    let (p_up, p_down) = (host.free_port(), host.free_port());
    host.write_service(
        "svc",
        &(component(&up, "up", p_up) + &component(&down, "down", p_down)),
    );
    host.mcp(["sync"]).success();
    point_tag(&host, "v2", &up);

    // A registries.conf that sends `down`'s repository to a port nothing listens
    // on: the registry is unreachable exactly as podman and skopeo would see it.
    let dead = host.free_port();
    let conf = host.root().join("registries-down.conf");
    let path_part = down_repo.trim_start_matches(&format!("{REGISTRY}/"));
    std::fs::write(
        &conf,
        format!(
            "unqualified-search-registries = []\n\
             [[registry]]\nlocation = \"{REGISTRY}\"\ninsecure = true\n\
             [[registry]]\nprefix = \"{down_repo}\"\n\
             location = \"127.0.0.1:{dead}/{path_part}\"\ninsecure = true\n"
        ),
    )
    .unwrap();
    let mut cmd = host.mcp_command();
    cmd.env("CONTAINERS_REGISTRIES_CONF", &conf).arg("update");
    let out = host.run(cmd).expect_code(1);
    assert!(out.stderr.contains("svc/down"), "{out}");
    assert!(out.stderr.contains("could not ask the registry"), "{out}");
    assert!(!out.stderr.contains("svc/up"), "{out}");
    host.assert_serves(p_up, "v2");
    host.assert_serves(p_down, "v1");
}

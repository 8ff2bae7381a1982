//! Smoke tests of the test harness itself: podman on an isolated storage pulls the
//! fixture images from the loopback registry, publishes ports and keeps logs.

use crate::support::Host;

#[test]
fn pulled_image_serves_its_version_on_a_published_port() {
    let host = Host::new();
    let port = host.free_port();
    host.podman(["pull", "-q", &host.image("v1")]).success();
    host.podman([
        "run",
        "-d",
        "--name",
        "smoke-web",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        &host.image("v1"),
    ])
    .success();
    assert_eq!(host.curl(port).as_deref(), Some("v1"));

    // A stop is quick and clean (the image's shell traps SIGTERM).
    host.podman(["stop", "-t", "5", "smoke-web"]).success();
    let state = host
        .podman(["inspect", "-f", "{{.State.ExitCode}}", "smoke-web"])
        .success();
    assert_eq!(state.out(), "0");
    assert_eq!(host.curl_once(port), None);
}

#[test]
fn logs_of_a_container_show_its_output() {
    let host = Host::new();
    host.podman(["run", "-d", "--name", "smoke-logs", &host.image("v2")])
        .success();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let logs = host.podman(["logs", "smoke-logs"]).success();
        if logs.stdout.contains("hello from web v2") && logs.stdout.contains("web v2: ready") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log lines yet:\n{logs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn broken_image_exits_with_3_and_hosts_are_isolated() {
    let host = Host::new();
    let other = Host::new();
    host.podman(["run", "--name", "smoke-broken", &host.image("broken")])
        .expect_code(3)
        .stdout_has("web broken: starting")
        .stderr_has("exiting with 3");
    host.podman(["ps", "-a", "--format", "{{.Names}}"])
        .success()
        .stdout_has("smoke-broken");
    let theirs = other
        .podman(["ps", "-a", "--format", "{{.Names}}"])
        .success();
    assert!(
        !theirs.stdout.contains("smoke-broken"),
        "storages are not isolated:\n{theirs}"
    );
    assert_ne!(host.default_subnet(), other.default_subnet());
}

#[test]
fn mcp_accepts_the_host_global_flags() {
    let host = Host::new();
    host.mcp(["--version"]).success().stdout_has("mcp");
}

//! Health `cmd` checks run by mcp (podman's need systemd) and graceful stops,
//! on real podman with the loopback registry's busybox web images.

use crate::support::Host;

/// A web component whose gate is an exec check; `check` is a TOML argv list.
fn web_with_cmd(host: &Host, tag: &str, port: u16, check: &str, timeout: &str) -> String {
    format!(
        r#"[[components]]
name = "api"
image = "{image}"
restart = "no"
ports = ["127.0.0.1:{port}:8080"]

[components.health]
cmd = {check}
timeout = "{timeout}"
interval = "500ms"
"#,
        image = host.image(tag)
    )
}

const PASSING: &str = r#"["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]"#;
const FAILING: &str = r#"["sh", "-c", "echo not ready; exit 3"]"#;

#[test]
fn a_failing_health_cmd_rolls_the_deploy_back_and_a_passing_one_lets_it_through() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web_with_cmd(&host, "v1", port, PASSING, "20s"));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
    let status = host.mcp(["--json", "status", "--health"]).success().json();
    let api = &status["components"][0];
    assert_eq!(api["health"]["result"], "healthy", "{status:#}");

    // The check, not the image, is what fails: v2 serves, yet exits 3 on check.
    host.write_service("web", &web_with_cmd(&host, "v2", port, FAILING, "3s"));
    host.mcp(["deploy", "web"])
        .expect_code(1)
        .stderr_has("`sh -c echo not ready; exit 3` exited 3: not ready")
        .stderr_has("previous version was put back");
    host.assert_serves(port, "v1");
    let table = host
        .mcp(["status", "--health", "--check"])
        .expect_code(3)
        .stdout_has("HEALTH");
    assert!(
        table
            .stdout
            .contains("unhealthy: `sh -c echo not ready; exit 3` exited 3"),
        "{table}"
    );

    host.write_service("web", &web_with_cmd(&host, "v2", port, PASSING, "20s"));
    host.mcp(["deploy", "web"]).success();
    host.assert_serves(port, "v2");
    host.mcp(["status", "--health", "--check"]).success();
}

#[test]
fn stop_signal_and_timeout_reach_podman_and_a_slow_shutdown_is_not_killed() {
    let host = Host::new();
    // Traps SIGINT only (SIGTERM would do nothing: PID 1 ignores signals it does
    // not trap), then needs ~15 s to shut down cleanly: longer than podman's 10 s.
    host.write_service(
        "db",
        r#"[[components]]
name = "main"
image = "127.0.0.1:5471/web:v1"
restart = "no"
cmd = ["sh", "-c", "trap 'echo draining; sleep 15; echo drained; exit 0' INT; echo up; sleep 1000000 & wait"]
stop_signal = "SIGINT"
stop_timeout = "30s"
"#,
    );
    host.mcp(["sync"]).success();
    let inspect = host
        .podman([
            "inspect",
            "--format",
            "{{.Config.StopSignal}} {{.Config.StopTimeout}}",
            "db-main",
        ])
        .success();
    // podman 4 shows the signal as its number, later versions by name.
    assert!(["2 30", "SIGINT 30"].contains(&inspect.out()), "{inspect}");

    host.mcp(["stop", "db"]).success();
    let state = host
        .podman([
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            "db-main",
        ])
        .success();
    // A SIGKILL at the timeout would show 137.
    assert_eq!(state.out(), "exited 0", "{state}");
    let logs = host.podman(["logs", "db-main"]).success();
    assert!(logs.stdout.contains("drained"), "{logs}");
}

//! A converged host stays quiet (issue 16): every situation an operator can
//! make settles after one `sync` — the next `mcp -q sync` prints nothing,
//! `sync --dry-run` and `status --check` exit 0 — and the promises of the
//! README hold (`logs --json`, `-q`, `uptime_seconds`, `history`, `adopt
//! --write-spec`). All on real podman.

use std::time::{Duration, Instant};

use crate::support::{Host, Output};

/// A v1 web component on `port`, without a health table unless `health`.
pub fn web(host: &Host, component: &str, port: u16, health: bool) -> String {
    let mut text = format!(
        "[[components]]\nname = \"{component}\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n",
        host.image("v1")
    );
    if health {
        text.push_str(&format!(
            "[components.health]\ntcp = {port}\ntimeout = \"30s\"\n"
        ));
    }
    text
}

/// The three checks of a fixed point, each with the output that broke it.
#[track_caller]
pub fn assert_quiet(host: &Host) {
    let quiet = host.mcp(["-q", "sync"]).success();
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "a second `mcp -q sync` is not silent:\n{quiet}\n{}",
        host.mcp(["status"])
    );
    host.mcp(["sync", "--dry-run"]).expect_code(0);
    host.mcp(["status", "--check"]).expect_code(0);
}

/// Polls `f` for up to a minute; panics with `what` if it never holds.
#[track_caller]
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} did not happen within 60 s");
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    out.stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{out}"))
        })
        .collect()
}

#[test]
fn logs_json_prints_one_object_per_line_with_time_and_stream() {
    let host = Host::new();
    host.write_service(
        "web",
        &format!(
            "[[components]]\nname = \"api\"\nimage = \"{}\"\ncmd = [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; echo to-stdout; echo to-stderr >&2; while true; do sleep 1; done\"]\n",
            host.image("v1")
        ),
    );
    host.mcp(["sync"]).success();
    let mut last = None;
    eventually("both lines in the log", || {
        let out = host
            .mcp(["--json", "logs", "web/api", "--tail", "5"])
            .success();
        let done = out.stdout.contains("to-stdout") && out.stdout.contains("to-stderr");
        last = Some(out);
        done
    });
    let out = last.unwrap();
    let lines = json_lines(&out);
    assert!(!lines.is_empty() && lines.len() <= 5, "{out}");
    for l in &lines {
        assert_eq!(l["component"], "web/api", "{out}");
        assert!(l["time"].as_str().is_some_and(|t| t.contains('T')), "{out}");
    }
    let stream_of = |text: &str| {
        lines
            .iter()
            .find(|l| l["line"] == text)
            .unwrap_or_else(|| panic!("no line {text:?}\n{out}"))["stream"]
            .clone()
    };
    assert_eq!(stream_of("to-stdout"), "stdout");
    assert_eq!(stream_of("to-stderr"), "stderr");
}

#[test]
fn quiet_stop_and_start_print_nothing_when_nothing_changed() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, "api", port, false));
    host.mcp(["sync"]).success();

    host.mcp(["-q", "stop", "web"])
        .success()
        .stdout_has("stopped");
    let again = host.mcp(["-q", "stop", "web"]).success();
    assert!(
        again.stdout.is_empty() && again.stderr.is_empty(),
        "{again}"
    );
    // Without -q the operator still hears about it.
    host.mcp(["stop", "web"])
        .success()
        .stdout_has("already stopped");

    host.mcp(["-q", "start", "web"])
        .success()
        .stdout_has("started");
    let again = host.mcp(["-q", "start", "web"]).success();
    assert!(
        again.stdout.is_empty() && again.stderr.is_empty(),
        "{again}"
    );
    // A restart always changes something.
    host.mcp(["-q", "restart", "web"])
        .success()
        .stdout_has("restarted");
}

#[test]
fn an_untracked_running_container_has_an_uptime() {
    let host = Host::new();
    host.podman(["run", "-d", "--name", "solo", &host.image("nohealth")])
        .success();
    let status = host.mcp(["--json", "status"]).success().json();
    let solo = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "solo")
        .unwrap_or_else(|| panic!("solo not in {status:#}"))
        .clone();
    assert_eq!(solo["observed"], "running", "{status:#}");
    assert!(solo["uptime_seconds"].as_i64().is_some(), "{status:#}");
}

#[test]
fn history_reads_the_actions_of_a_killed_run_as_interrupted_at_once() {
    let host = Host::new();
    let port = host.free_port();
    // `nohealth` never listens: the create waits on its health check, long
    // enough to kill the run while its action is pending.
    host.write_service(
        "web",
        &format!(
            "[[components]]\nname = \"api\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n[components.health]\ntcp = {port}\ntimeout = \"5m\"\n",
            host.image("nohealth")
        ),
    );
    let log = host.root().join("sync.log");
    let mut cmd = host.mcp_command();
    cmd.arg("sync")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(host.root().join("sync.err")).unwrap());
    let mut run = cmd.spawn().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let history = host.mcp(["--json", "history"]).success().json();
        if history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "create" && e["outcome"] == "pending")
        {
            break;
        }
        seen = format!("{history:#}");
        assert!(
            Instant::now() < deadline,
            "no pending create within 60 s; history: {seen}\nsync: {:?} {}{}",
            run.try_wait(),
            std::fs::read_to_string(&log).unwrap_or_default(),
            std::fs::read_to_string(host.root().join("sync.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = seen;
    run.kill().unwrap();
    run.wait().unwrap();

    let history = host.mcp(["--json", "history"]).success().json();
    let events = history["events"].as_array().unwrap();
    assert!(
        events.iter().all(|e| e["outcome"] != "pending"),
        "a dead run's action still reads pending: {history:#}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "create" && e["outcome"] == "interrupted"),
        "{history:#}"
    );
    host.mcp(["history"]).success().stdout_has("interrupted");
}

#[test]
fn adopt_write_spec_of_a_container_with_an_entrypoint_then_deploy_serves() {
    let host = Host::new();
    let port = host.free_port();
    host.podman([
        "run",
        "-d",
        "--name",
        "legacy-app",
        "--entrypoint",
        "/bin/sh",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        &host.image("v2"),
        "-c",
        "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait",
    ])
    .success();
    host.assert_serves(port, "v2");

    let adopted = host
        .mcp(["--json", "adopt", "legacy-app", "--write-spec"])
        .success()
        .json();
    assert!(
        adopted["adopted"][0].get("not_expressed").is_none(),
        "an entrypoint on an image without one is expressible: {adopted:#}"
    );
    let spec = std::fs::read_to_string(host.services_dir().join("legacy.toml")).unwrap();
    assert!(
        spec.contains("/bin/sh"),
        "the entrypoint was dropped:\n{spec}"
    );
    assert_quiet(&host);

    host.mcp(["deploy", "legacy"]).success();
    host.assert_serves(port, "v2");
    assert_quiet(&host);
}

#[test]
fn adopt_write_spec_names_what_a_service_file_cannot_say() {
    let host = Host::new();
    // The uni image has an entrypoint (/bin/busybox): replacing it, and a
    // capability, have no service file key.
    host.podman([
        "run",
        "-d",
        "--name",
        "odd-app",
        "--entrypoint",
        "/bin/busybox",
        "--cap-add",
        "NET_ADMIN",
        "--label",
        "team=ops",
        &format!("{}/uni:v1", host.registry()),
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ])
    .success();
    host.podman([
        "run",
        "-d",
        "--name",
        "other-app",
        "--entrypoint",
        "/bin/sh",
        &format!("{}/uni:v1", host.registry()),
        "-c",
        "sleep 1",
    ]);
    let out = host
        .mcp(["adopt", "odd-app", "other-app", "--write-spec"])
        .success();
    out.clone()
        .stderr_has("NET_ADMIN")
        .stderr_has("labels team")
        .stderr_has("entrypoint");
    let odd = std::fs::read_to_string(host.services_dir().join("odd.toml")).unwrap();
    assert!(
        odd.contains("# not expressed") && odd.contains("NET_ADMIN"),
        "{odd}"
    );
    // The image's own entrypoint kept: only the arguments are the cmd.
    assert!(odd.contains(r#"cmd = ["sh", "-c""#), "{odd}");
    let other = std::fs::read_to_string(host.services_dir().join("other.toml")).unwrap();
    assert!(
        other.contains("# not expressed") && other.contains("entrypoint"),
        "{other}"
    );
}

/// The rows `status --json` shows for `service`.
fn status_rows(host: &Host, service: &str) -> Vec<serde_json::Value> {
    let status = host.mcp(["--json", "status"]).success().json();
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["service"] == service)
        .cloned()
        .collect()
}

#[test]
fn an_untracked_container_without_a_hyphen_settles_after_one_sync() {
    let host = Host::new();
    host.podman(["run", "-d", "--name", "solo", &host.image("nohealth")])
        .success();
    host.mcp(["sync"]).success().stdout_has("adopt");
    assert_quiet(&host);
    let rows = status_rows(&host, "solo");
    assert_eq!(rows.len(), 1, "solo is shown more than once: {rows:#?}");
    assert_eq!(rows[0]["desired"], "ignore", "{rows:#?}");
    assert_eq!(rows[0]["observed"], "running", "{rows:#?}");
}

#[test]
fn an_untracked_container_under_a_declared_service_settles_after_one_sync() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, "api", port, true));
    host.mcp(["sync"]).success();
    host.podman(["run", "-d", "--name", "web-extra", &host.image("nohealth")])
        .success();
    host.mcp(["sync"]).success().stdout_has("adopt");
    assert_quiet(&host);
    let rows = status_rows(&host, "web");
    let extra: Vec<_> = rows.iter().filter(|r| r["component"] == "extra").collect();
    assert_eq!(extra.len(), 1, "{rows:#?}");
    assert_eq!(extra[0]["desired"], "ignore", "{rows:#?}");
    host.assert_serves(port, "v1");
}

#[test]
fn a_kept_orphan_is_reported_but_is_not_a_change() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, "api", port, true));
    host.mcp(["sync"]).success();
    host.remove_service("web");

    let out = host.mcp(["sync"]).success();
    out.clone().stderr_has("web").stderr_has("--prune");
    assert!(!out.stdout.contains("REGISTRY"), "{out}");
    let json = host.mcp(["--json", "sync"]).success().json();
    assert_eq!(json["changed"], false, "{json:#}");
    assert_eq!(json["services"][0]["kind"], "orphaned", "{json:#}");
    // Not a change: cron's sync stays silent and a dry run has nothing to do.
    let quiet = host.mcp(["-q", "sync"]).success();
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "{quiet}"
    );
    host.mcp(["sync", "--dry-run"]).expect_code(0);
    // status may report it, but only as what it is.
    let check = host.mcp(["--json", "status", "--check"]);
    if check.code != 0 {
        assert_eq!(check.code, 3, "{check}");
        let drift = check.json()["components"][0]["drift"].clone();
        assert!(
            drift.as_array().unwrap().iter().all(|d| d
                .as_str()
                .is_some_and(|d| d.contains("service file is gone"))),
            "{check}"
        );
    }
    // Kept means kept: it still serves.
    host.assert_serves(port, "v1");
    // --prune still removes it.
    host.mcp(["sync", "--prune"]).success().stdout_has("remove");
    assert_quiet(&host);
}

#[test]
fn a_new_component_whose_command_exits_at_once_fails_the_sync() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, "api", port, false));
    host.write_service(
        "job",
        &format!(
            "[[components]]\nname = \"run\"\nimage = \"{}\"\n",
            host.image("broken")
        ),
    );
    // With the default restart policy podman starts it again and again, so
    // it may even read `running` at the check: either way the create fails.
    let out = host.mcp(["sync"]).failure();
    out.clone().stderr_has("job/run").stderr_has("job-run");
    assert!(!out.stderr.contains("web/api"), "{out}");
    host.assert_serves(port, "v1");
    let history = host.mcp(["--json", "history", "job"]).success().json();
    assert!(
        history["events"][0]["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("failed")),
        "{history:#}"
    );
}

/// Found by the property test: a paused container holds its ports, so its
/// replacement failed on every sync ("address already in use") until the
/// old one is stopped like a running one.
#[test]
fn a_paused_container_is_replaced_when_its_spec_changes() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, "api", port, false));
    host.mcp(["sync"]).success();
    host.podman(["pause", "web-api"]).success();
    host.write_service(
        "web",
        &web(&host, "api", port, false).replace(&host.image("v1"), &host.image("v2")),
    );
    host.mcp(["sync"]).success().stdout_has("v1 -> v2");
    host.assert_serves(port, "v2");
    assert_quiet(&host);
}

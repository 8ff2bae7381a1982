//! What an operator meets in the first hour (issue 15): tables in terminals
//! that report no size, read-only commands that never write, settings that
//! cannot work refused up front, one `--since` syntax, advice that works.

use std::path::Path;

use crate::support::{Host, Output};

fn web(host: &Host, port: u16) -> String {
    format!(
        "[[components]]\nname = \"api\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n\n\
         [[components]]\nname = \"worker\"\nimage = \"{}\"\n",
        host.image("v1"),
        host.image("v1")
    )
}

/// `mcp` with this host's podman isolation but with our own paths, so a test
/// can point `--db` and `--state-dir` somewhere that does not exist.
fn mcp_at(host: &Host, db: &Path, state: &Path, args: &[&str]) -> Output {
    let mut cmd = host.command(host.mcp_command().get_program());
    cmd.arg("--config")
        .arg(host.config_path())
        .arg("--services")
        .arg(host.services_dir())
        .arg("--db")
        .arg(db)
        .arg("--state-dir")
        .arg(state)
        .args(args);
    host.run(cmd)
}

#[test]
fn status_in_a_terminal_of_no_size_keeps_the_header_on_one_line() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));
    host.mcp(["sync"]).success();

    // `script` gives mcp a pseudo-terminal; with stdin not a terminal it
    // cannot copy a size, so the terminal reports 0 columns.
    let cmd = host.mcp_command();
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let mut script = host.command("script");
    script
        .arg("-qec")
        .arg(format!("{} status", argv.join(" ")))
        .arg("/dev/null");
    let out = host.run(script).success();
    let screen = out.stdout.replace('\r', "");
    assert!(
        screen.contains('│'),
        "a terminal gets a boxed table:\n{out}"
    );
    let header = screen
        .lines()
        .find(|l| l.contains("SERVICE"))
        .unwrap_or_else(|| panic!("no SERVICE header on one line:\n{out}"));
    for h in ["COMPONENT", "OBSERVED", "VERSION", "DRIFT"] {
        assert!(header.contains(h), "{h} not on the header line:\n{out}");
    }
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("web") && l.contains("running"))
        .collect();
    assert_eq!(rows.len(), 2, "one row per component:\n{out}");
    assert!(rows.iter().any(|r| r.contains("api")), "{out}");
    assert!(rows.iter().any(|r| r.contains("worker")), "{out}");
}

#[test]
fn read_only_commands_create_no_registry() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));
    let missing = host.root().join("typo");
    let db = missing.join("r.db");
    let state = host.root().join("no-state");

    let out = mcp_at(&host, &db, &state, &["status"])
        .success()
        .stderr_has("no registry yet");
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("not yet synced"))
        .collect();
    assert_eq!(rows.len(), 2, "every declared component:\n{out}");
    let out = mcp_at(&host, &db, &state, &["--json", "status"]).success();
    let components = out.json()["components"].as_array().unwrap().clone();
    assert_eq!(components.len(), 2, "{out}");
    assert_eq!(components[0]["desired"], "running", "{out}");
    assert_eq!(components[0]["observed"], "missing", "{out}");
    mcp_at(&host, &db, &state, &["status", "--check"]).expect_code(3);
    mcp_at(&host, &db, &state, &["history"])
        .success()
        .stdout_has("no registry yet");
    mcp_at(&host, &db, &state, &["logs", "web/api"])
        .failure()
        .stderr_has("no registry yet");
    mcp_at(&host, &db, &state, &["validate"]).success();
    assert!(!missing.exists(), "a read-only command created {missing:?}");
    assert!(!state.exists(), "a read-only command created {state:?}");

    // Nothing declared either: exit 0, even with --check.
    host.remove_service("web");
    mcp_at(&host, &db, &state, &["status", "--check"])
        .success()
        .stdout_has("no registry yet");
    assert!(!missing.exists() && !state.exists());
}

#[test]
fn settings_that_cannot_work_are_refused_where_read() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));

    for args in [&["sync", "-j", "0"][..], &["deploy", "web", "-j", "0"]] {
        let out = host.mcp(args).expect_code(2);
        assert!(out.stderr.contains("-j takes"), "{out}");
    }
    host.mcp(["--lock-wait", "soon", "sync"])
        .expect_code(2)
        .stderr_has("--lock-wait");

    let config = host.write_config("[unikernel]\naccel = \"tcg\"\n\n[podman]\ntimeout = \"0s\"\n");
    let out = host.mcp(["sync"]).expect_code(2);
    let at = format!("{}:5: [podman] timeout = \"0s\"", config.display());
    assert!(out.stderr.contains(&at), "names file, line and key:\n{out}");
    host.write_config("[podman]\ntimeout = 30\n");
    let out = host.mcp(["status"]).expect_code(2);
    assert!(
        out.stderr.contains("invalid config file") && out.stderr.contains("line 2"),
        "{out}"
    );

    // Nothing ran: no registry, no container.
    assert!(!host.db_path().exists());
    let ps = host.podman(["ps", "-aq"]).success();
    assert_eq!(ps.out(), "", "{ps}");
    host.write_config("[podman]\ntimeout = \"30s\"\n");
    host.mcp(["sync", "-j", "1"]).success();
    host.assert_serves(port, "v1");
}

fn unix_now() -> i64 {
    mcp::timefmt::unix_now()
}

/// Sleeps until the clock has passed the second `t`, so whatever happens
/// next is stamped later than `t`.
fn wait_past(t: i64) {
    while unix_now() <= t {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn logs_since_takes_an_rfc3339_time_for_a_container() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service(
        "web",
        &format!(
            "[[components]]\nname = \"api\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n",
            host.image("v1")
        ),
    );
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
    let logs = |since: Option<&str>| {
        let mut args = vec!["logs", "web/api"];
        args.extend(since.map(|s| ["--since", s]).into_iter().flatten());
        host.mcp(args).success()
    };
    let hellos = |out: &Output| out.stdout.matches("hello from web v1").count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while hellos(&logs(None)) < 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // Every line of the first start is stamped at or before `between`.
    let between = unix_now();
    wait_past(between);
    host.mcp(["restart", "web/api"]).success();
    host.assert_serves(port, "v1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while hellos(&logs(None)) < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(hellos(&logs(None)), 2, "{}", logs(None));

    let since = mcp::timefmt::rfc3339(between + 1);
    let out = logs(Some(&since));
    assert_eq!(hellos(&out), 1, "only the restart's lines:\n{out}");
    assert!(out.stdout.contains("web v1: stopping"), "{out}");
    // The same instant as @unix and with an offset; a duration reaching back
    // before the first start shows everything.
    assert_eq!(logs(Some(&format!("@{}", between + 1))).stdout, out.stdout);
    let offset = mcp::timefmt::rfc3339(between + 1 + 3600).replace('Z', "+01:00");
    assert_eq!(logs(Some(&offset)).stdout, out.stdout);
    assert_eq!(hellos(&logs(Some("1h"))), 2);

    let bad = host
        .mcp(["logs", "web/api", "--since", "2026-11-26T10:00:00"])
        .expect_code(2);
    assert!(
        bad.stderr.contains("--since") && bad.stderr.contains("RFC 3339"),
        "{bad}"
    );
}

#[test]
fn start_of_a_never_created_inactive_service_changes_nothing_and_names_active_true() {
    let host = Host::new();
    let port = host.free_port();
    let maint = |active: bool| {
        format!(
            "active = {active}\n\n[[components]]\nname = \"api\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n",
            host.image("v1")
        )
    };
    host.write_service("maint", &maint(false));
    host.mcp(["sync"]).success();
    let history = || host.mcp(["--json", "history"]).success().json();
    let status = || host.mcp(["--json", "status"]).success().json();
    let (events_before, status_before) = (history(), status());
    assert_eq!(status_before["components"][0]["desired"], "stopped");

    for args in [&["start", "maint"][..], &["restart", "maint/api"]] {
        let out = host.mcp(args).failure();
        assert!(out.stderr.contains("set active = true"), "{out}");
        assert!(out.stderr.contains("changed nothing"), "{out}");
        assert!(
            !out.stderr.contains("mcp deploy"),
            "deploy refuses it:\n{out}"
        );
    }
    assert_eq!(history(), events_before, "nothing recorded");
    assert_eq!(status(), status_before, "desired state unchanged");
    host.mcp(["sync", "--dry-run"]).success();
    let ps = host.podman(["ps", "-aq"]).success();
    assert_eq!(ps.out(), "", "{ps}");

    // The advice works: set active = true, run mcp sync.
    host.write_service("maint", &maint(true));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
}

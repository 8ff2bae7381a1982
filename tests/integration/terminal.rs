//! What a person at a terminal sees (run for real inside tmux) against what
//! a pipe gets: tables and progress only on a terminal, plain text and no
//! escape codes in a pipe, nothing at all from `-q` when nothing changed.

use std::time::{Duration, Instant};

use crate::support::Host;

/// Runs `mcp <args>` in a fresh tmux server with a real pseudo-terminal and
/// returns the screen once the command has finished.
fn in_terminal(host: &Host, args: &str) -> String {
    in_terminal_of(host, args, 180)
}

/// [`in_terminal`] in a terminal `columns` wide.
fn in_terminal_of(host: &Host, args: &str, columns: u16) -> String {
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let mut script = String::new();
    for (k, v) in host.env() {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    let cmd = host.mcp_command();
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    script.push_str(&format!(
        "{} {args}\ntouch '{}'\nsleep 60\n",
        argv.join(" "),
        done.display()
    ));
    let script_path = dir.path().join("run.sh");
    std::fs::write(&script_path, script).unwrap();
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let socket = format!("mcp-test-{}-{n}", std::process::id());
    let tmux = |a: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-L", &socket])
            .args(a)
            .output()
            .expect("tmux runs")
    };
    let started = tmux(&[
        "new-session",
        "-d",
        "-x",
        &columns.to_string(),
        "-y",
        "50",
        "sh",
        &script_path.to_string_lossy(),
    ]);
    assert!(
        started.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let screen = tmux(&["capture-pane", "-p", "-t", "0"]);
    tmux(&["kill-server"]);
    assert!(done.exists(), "the command did not finish in the terminal");
    String::from_utf8_lossy(&screen.stdout).into_owned()
}

fn web(host: &Host, port: u16) -> String {
    format!(
        "[[components]]\nname = \"api\"\nimage = \"{}\"\nports = [\"127.0.0.1:{port}:8080\"]\n",
        host.image("v1")
    )
}

#[test]
fn status_is_a_table_on_a_terminal_and_plain_in_a_pipe() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));

    let screen = in_terminal(&host, "sync");
    assert!(
        screen.contains("web/api"),
        "no progress or table line:\n{screen}"
    );
    assert!(
        screen.contains("create (missing) ok"),
        "no finished progress line:\n{screen}"
    );

    let screen = in_terminal(&host, "status");
    assert!(screen.contains("SERVICE"), "{screen}");
    assert!(screen.contains('│'), "not a boxed table:\n{screen}");

    let piped = host.mcp(["status"]).success();
    assert!(piped.stdout.starts_with("SERVICE"), "{piped}");
    assert!(
        !piped.stdout.contains('\x1b') && !piped.stdout.contains('│'),
        "{piped}"
    );
    assert!(!piped.stderr.contains('\x1b'), "{piped}");
}

#[test]
fn quiet_sync_with_nothing_to_do_prints_nothing() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));
    let first = host.mcp(["-q", "sync"]).success();
    assert!(
        first.stdout.contains("create"),
        "changes still print with -q: {first}"
    );
    let quiet = host.mcp(["-q", "sync"]).success();
    assert_eq!(quiet.stdout, "");
    assert_eq!(quiet.stderr, "");
    let screen = in_terminal(&host, "-q sync");
    assert!(!screen.contains("no changes"), "{screen}");
}

#[test]
fn history_shows_a_deploy_newest_first() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));
    host.mcp(["sync"]).success();
    host.write_service(
        "web",
        &web(&host, port).replace(&host.image("v1"), &host.image("v2")),
    );
    host.mcp(["deploy", "--direct", "web"]).success();
    host.assert_serves(port, "v2");
    let history = host.mcp(["history", "web"]).success();
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{history}");
    assert!(
        lines[1].contains("deploy")
            && lines[1].contains("deploy v1 -> v2")
            && lines[1].contains("ok"),
        "{history}"
    );
    assert!(
        lines[2].contains("sync") && lines[2].contains("create"),
        "{history}"
    );
    let json = host.mcp(["--json", "history"]).success().json();
    assert_eq!(json["events"][0]["command"], "deploy");
    assert_eq!(json["events"][0]["component"], "api");
}

#[test]
fn stop_and_start_by_hand_say_when_the_file_disagrees() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));
    host.mcp(["sync"]).success();
    let out = host.mcp(["stop", "web"]).success().stdout_has("stopped");
    assert!(
        out.stderr
            .contains("says active = true: the next sync starts web/api again"),
        "{out}"
    );
    assert_eq!(host.curl_once(port), None);
    let status = host.mcp(["--json", "status"]).success().json();
    assert_eq!(status["components"][0]["desired"], "stopped");
    assert_eq!(status["components"][0]["drift"], serde_json::json!([]));
    host.mcp(["restart", "web/api"])
        .success()
        .stdout_has("restarted");
    host.assert_serves(port, "v1");
    host.mcp(["stop", "web/api"]).success();
    host.mcp(["sync"])
        .success()
        .stdout_has("desired stopped -> running (as the service file says)");
    host.assert_serves(port, "v1");
    host.mcp(["start", "nosuch"]).expect_code(2);
}

#[test]
fn status_wraps_long_cells_to_a_narrow_terminal_and_keeps_headers_whole() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, port));
    host.mcp(["sync"]).success();
    // An untracked container: its drift text is long enough to need wrapping.
    host.podman(["run", "-d", "--name", "legacy-app", &host.image("v1")])
        .success();

    let screen = in_terminal_of(&host, "status", 100);
    let table: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let header = table
        .iter()
        .find(|l| l.contains("SERVICE"))
        .unwrap_or_else(|| panic!("no header line:\n{screen}"));
    for h in ["COMPONENT", "RUNTIME", "OBSERVED", "UPTIME", "DRIFT"] {
        assert!(header.contains(h), "{h} not on the header line:\n{screen}");
    }
    // Every line is a line of the table (no line the terminal itself wrapped),
    // and the long drift cell was wrapped by the table, within 100 columns.
    for line in &table {
        assert!(
            line.starts_with(['┌', '│', '╞', '├', '└']),
            "not a table line: {line:?}\n{screen}"
        );
        assert!(line.chars().count() <= 100, "{screen}");
    }
    assert!(table.iter().any(|l| l.contains("untracked")), "{screen}");
    assert!(
        !screen.contains("untracked (sync or adopt records it)"),
        "the drift cell is wrapped:\n{screen}"
    );
}

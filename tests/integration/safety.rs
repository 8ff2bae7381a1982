//! Never take down or destroy what mcp cannot prove is its own (issue 11):
//! children that outlive a killed mcp, secrets, root safety, exit codes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::Host;

/// A web component on `port`. `extra` lines go into the component table.
fn web(host: &Host, tag: &str, port: u16, extra: &str) -> String {
    format!(
        "[[components]]\nname = \"web\"\nimage = \"{}\"\nrestart = \"no\"\nports = [\"127.0.0.1:{port}:8080\"]\n{extra}\n\n[components.health]\ntcp = {port}\ntimeout = \"30s\"\n",
        host.image(tag)
    )
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `mcp ARGS` in the background; its stderr goes to `<root>/spawned.err`
/// (see [`spawned_stderr`]).
fn spawn_mcp(host: &Host, args: &[&str]) -> Child {
    let mut cmd = host.mcp_command();
    let err = fs::File::create(host.root().join("spawned.err")).expect("creating spawned.err");
    cmd.args(args).stdout(Stdio::null()).stderr(err);
    cmd.spawn().expect("spawning mcp")
}

/// What the last [`spawn_mcp`] printed on stderr.
fn spawned_stderr(host: &Host) -> String {
    fs::read_to_string(host.root().join("spawned.err")).unwrap_or_default()
}

/// argv of a process, NUL-separated, as the kernel shows it to anyone.
fn cmdline(pid: u32) -> Option<Vec<u8>> {
    fs::read(format!("/proc/{pid}/cmdline")).ok()
}

fn pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Direct children of `parent` whose argv contains every one of `words`.
fn child_running(parent: u32, words: &[&str]) -> Option<u32> {
    pids().into_iter().find(|pid| {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let ppid: Option<u32> = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
        ppid == Some(parent)
            && cmdline(*pid).is_some_and(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                words.iter().all(|w| args.contains(&w.as_bytes()))
            })
    })
}

fn container_state(host: &Host, name: &str) -> String {
    host.podman([
        "container",
        "inspect",
        "--format",
        "{{.State.Status}}",
        name,
    ])
    .stdout
    .trim()
    .to_string()
}

#[test]
fn kill_9_during_the_stop_of_a_sigterm_ignoring_container_then_sync_converges() {
    let host = Host::new();
    let port = host.free_port();
    // Bare httpd as PID 1 ignores SIGTERM: every stop waits out the timeout,
    // then podman warns on stderr and kills it.
    let stubborn = "cmd = [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]";
    host.write_service("stubborn", &web(&host, "v1", port, stubborn));
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");

    host.write_service("stubborn", &web(&host, "v2", port, stubborn));
    let mut mcp = spawn_mcp(&host, &["sync"]);
    let mut stop = None;
    // start-first: the new version passed its trial, the old one was set
    // aside as .prev while still serving, and is stopped under that name.
    let mut ended = None;
    let found = wait_for(Duration::from_secs(120), || {
        stop = child_running(mcp.id(), &["stop", "stubborn-web.prev"]);
        ended = mcp.try_wait().ok().flatten();
        stop.is_some() || ended.is_some()
    });
    assert!(
        found && ended.is_none(),
        "mcp never ran `podman stop stubborn-web.prev` (it ended: {ended:?}):\n{}",
        spawned_stderr(&host)
    );
    mcp.kill().unwrap(); // SIGKILL
    mcp.wait().unwrap();
    let stop = stop.unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || cmdline(stop).is_none()),
        "podman stop never finished"
    );
    // podman stop was not killed half-way: nothing is stuck in `stopping`.
    let names = host
        .podman(["ps", "-a", "--format", "{{.Names}}"])
        .success();
    for name in names.stdout.lines() {
        assert_ne!(container_state(&host, name), "stopping", "{name} is stuck");
    }
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v2");
    host.mcp(["--json", "status", "--check"]).success();
}

/// Every file under `dir` (not following links), recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

#[test]
fn a_two_line_env_value_is_never_on_a_command_line_nor_left_in_a_file() {
    let host = Host::new();
    let port = host.free_port();
    let first = "first-Secr3t-line";
    let second = "second-Secr3t-line";
    let env = format!("env = {{ CERT = \"{first}\\n{second}\" }}");
    host.write_service("sec", &web(&host, "v1", port, &env));

    // Poll every process's argv while the sync runs.
    let mut mcp = spawn_mcp(&host, &["sync"]);
    let mut polls = 0;
    while mcp.try_wait().unwrap().is_none() {
        for pid in pids() {
            if let Some(c) = cmdline(pid) {
                let text = String::from_utf8_lossy(&c);
                assert!(
                    !text.contains("Secr3t"),
                    "an env value is on the command line of pid {pid}: {text:?}"
                );
            }
        }
        polls += 1;
    }
    assert!(mcp.wait().unwrap().success());
    assert!(polls > 0);
    let inside = host
        .podman(["exec", "sec-web", "sh", "-c", "printf '%s' \"$CERT\""])
        .success();
    assert_eq!(inside.stdout, format!("{first}\n{second}"));

    // kill -9 in the middle of creating the replacement (new value, new hash).
    let env2 = env.replace("first-", "third-");
    host.write_service("sec", &web(&host, "v2", port, &env2));
    let mut mcp = spawn_mcp(&host, &["sync"]);
    let found = wait_for(Duration::from_secs(120), || {
        child_running(mcp.id(), &["create"]).is_some()
    });
    assert!(found, "mcp never ran `podman create`");
    mcp.kill().unwrap();
    mcp.wait().unwrap();
    for file in files_under(host.state_dir()) {
        let bytes = fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("Secr3t"),
            "{} holds an env value after kill -9",
            file.display()
        );
    }
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v2");
}

fn chown(path: &Path, uid: u32) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path; lchown does not follow a final symlink.
    let rc = unsafe { libc::lchown(c.as_ptr(), uid, u32::MAX) };
    assert_eq!(rc, 0, "chown {}", path.display());
}

const NOBODY: u32 = 65534;

#[test]
fn a_state_dir_of_another_user_with_a_planted_symlink_is_refused() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("a", &web(&host, "v1", port, ""));
    let victim = host.root().join("victim");
    fs::write(&victim, "root's own file\n").unwrap();
    let state = host.state_dir();
    for f in ["mcp.lock", "mcp.children"] {
        std::os::unix::fs::symlink(&victim, state.join(f)).unwrap();
    }
    chown(state, NOBODY);
    for args in [vec!["sync"], vec!["deploy", "a"]] {
        host.mcp(&args)
            .expect_code(1)
            .stderr_has("refusing state directory")
            .stderr_has("owned by uid 65534");
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "root's own file\n");

    // Ours, but writable by others: refused too.
    chown(state, 0);
    fs::set_permissions(state, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    host.mcp(["sync"]).expect_code(1).stderr_has("chmod go-w");
    // Ours and private, a symlink planted anyway: never followed.
    fs::set_permissions(state, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    host.mcp(["sync"])
        .expect_code(1)
        .stderr_has("is a symbolic link");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "root's own file\n");
    assert!(
        host.podman(["ps", "-a", "--format", "{{.Names}}"])
            .out()
            .is_empty()
    );
}

#[test]
fn a_registry_dir_of_another_user_is_refused() {
    let host = Host::new();
    // The registry lives in the host's root dir: hand that to another user,
    // with the registry file a symlink to a file of root's.
    let victim = host.state_dir().join("victim");
    fs::write(&victim, "keep\n").unwrap();
    std::os::unix::fs::symlink(&victim, host.db_path()).unwrap();
    chown(host.root(), NOBODY);
    for args in [vec!["sync"], vec!["status"], vec!["history"]] {
        host.mcp(&args)
            .expect_code(1)
            .stderr_has("refusing registry directory");
    }
    chown(host.root(), 0);
    // Ours again, the symlink still there: never followed.
    host.mcp(["status"])
        .expect_code(1)
        .stderr_has("is a symbolic link");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep\n");
}

#[test]
fn unknown_names_and_bad_values_are_usage_errors() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("web", &web(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.mcp(["status", "nosuch"])
        .expect_code(2)
        .stderr_has("unknown service `nosuch`");
    host.mcp(["--json", "status", "nosuch"]).expect_code(2);
    host.mcp(["history", "nosuch"])
        .expect_code(2)
        .stderr_has("nosuch");
    host.mcp(["logs", "nosuch/x"])
        .expect_code(2)
        .stderr_has("nosuch/x");
    host.mcp(["logs", "web/web", "--since", "garbage"])
        .expect_code(2)
        .stderr_has("--since");
    host.mcp(["logs", "web/web", "--since", "10m"]).success();
    for bad in ["garbage", "99999999999999999999999s", ""] {
        host.mcp(["--lock-wait", bad, "sync"])
            .expect_code(2)
            .stderr_has("--lock-wait");
    }
    // The largest value any duration can hold waits for ever, never panics.
    host.mcp(["--lock-wait", "18446744073709551615s", "sync"])
        .success();
    host.mcp(["--lock-wait", "18446744073709551615h", "sync"])
        .success();
    // A child's exit status is never passed through: podman's 125 is 1.
    host.podman(["rm", "--force", "web-web"]).success();
    let out = host.mcp(["logs", "web/web"]).expect_code(1);
    assert!(out.stderr.contains("no such container"), "{out}");
}

#[test]
fn a_lost_registry_with_the_files_gone_removes_nothing_and_reports_orphans() {
    let host = Host::new();
    let (p1, p2) = (host.free_port(), host.free_port());
    host.write_service("alpha", &web(&host, "v1", p1, ""));
    host.write_service("beta", &web(&host, "v1", p2, ""));
    host.mcp(["sync"]).success();
    // The registry is lost and the files are gone (an unmounted services dir).
    for f in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{f}", host.db_path().display()));
    }
    host.remove_service("alpha");
    host.remove_service("beta");
    let out = host.mcp(["sync"]).success();
    assert!(
        out.stderr.contains("alpha-web") && out.stderr.contains("--prune"),
        "{out}"
    );
    assert_eq!(host.container_names(), ["alpha-web", "beta-web"]);
    host.assert_serves(p1, "v1");
    host.assert_serves(p2, "v1");
    let json = host.mcp(["--json", "sync"]).success().json();
    let orphans: Vec<&str> = json["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["service"].as_str().unwrap())
        .collect();
    assert_eq!(orphans, ["alpha", "beta"]);
    let status = host.mcp(["--json", "status"]).success().json();
    let comps = status["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2, "{status}");
    for c in comps {
        assert_eq!(c["orphaned"], true, "{c}");
        assert!(c["drift"][0].as_str().unwrap().contains("orphaned"), "{c}");
    }
    host.mcp(["status"]).success().stdout_has("orphaned");

    host.mcp(["sync", "--prune"]).success();
    assert!(
        host.container_names().is_empty(),
        "{:?}",
        host.container_names()
    );
    assert_eq!(host.curl_once(p1), None);
}

#[test]
fn status_marks_a_service_whose_file_is_gone() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("gone", &web(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.remove_service("gone");
    host.mcp(["sync"]).success();
    let status = host.mcp(["--json", "status"]).success().json();
    let c = &status["components"][0];
    assert_eq!(c["file_gone"], true, "{status}");
    assert!(
        c["drift"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("file is gone")),
        "{status}"
    );
    host.mcp(["status"]).success().stdout_has("file is gone");
    host.mcp(["status", "--check"]).expect_code(3);
    host.assert_serves(port, "v1");
}

#[test]
fn a_hand_made_container_with_a_declared_name_is_never_touched() {
    let host = Host::new();
    let (p_api, p_db) = (host.free_port(), host.free_port());
    host.podman([
        "run",
        "-d",
        "--name",
        "web-api",
        "-p",
        &format!("127.0.0.1:{p_api}:8080"),
        &host.image("v1"),
    ])
    .success();
    let id_before = host
        .podman(["inspect", "--format", "{{.Id}}", "web-api"])
        .success();
    let file = format!(
        "[[components]]\nname = \"api\"\nimage = \"{}\"\nrestart = \"no\"\nports = [\"127.0.0.1:{p_api}:8080\"]\n\n[[components]]\nname = \"db\"\nimage = \"{}\"\nrestart = \"no\"\nports = [\"127.0.0.1:{p_db}:8080\"]\n",
        host.image("v1"),
        host.image("v2")
    );
    host.write_service("web", &file);
    for args in [vec!["sync"], vec!["deploy", "web"]] {
        host.mcp(&args)
            .expect_code(1)
            .stderr_has("web-api exists but mcp did not create it")
            .stderr_has("mcp adopt web-api --write-spec");
    }
    // The other component converged; the hand-made one is the same container.
    host.assert_serves(p_db, "v2");
    host.assert_serves(p_api, "v1");
    let id_after = host
        .podman(["inspect", "--format", "{{.Id}}", "web-api"])
        .success();
    assert_eq!(id_before.out(), id_after.out());

    let adopted = host.mcp(["adopt", "web-api", "--write-spec"]).success();
    let sync = host.mcp(["--json", "sync"]).success().json();
    assert_eq!(sync["changed"], false, "{adopted}\n{sync}");
    host.mcp(["sync"]).success().stdout_has("no changes");
    let id_after = host
        .podman(["inspect", "--format", "{{.Id}}", "web-api"])
        .success();
    assert_eq!(id_before.out(), id_after.out());
    host.assert_serves(p_api, "v1");
}

#[test]
fn adopt_write_spec_takes_over_an_ignored_container_and_keeps_its_env_private() {
    let host = Host::new();
    let port = host.free_port();
    host.podman([
        "run",
        "-d",
        "--name",
        "tools-box",
        "--env",
        "API_TOKEN=s3cret-adopted",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        &host.image("v1"),
    ])
    .success();
    // sync records the untracked container as `ignore` itself.
    host.mcp(["sync"]).success();
    let status = host.mcp(["--json", "status"]).success().json();
    assert_eq!(status["components"][0]["desired"], "ignore", "{status}");

    let out = host.mcp(["adopt", "tools-box", "--write-spec"]).success();
    assert!(out.stdout.contains("mode 0600"), "{out}");
    let file = host.services_dir().join("tools.toml");
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        fs::read_to_string(&file)
            .unwrap()
            .contains("s3cret-adopted")
    );
    let status = host.mcp(["--json", "status"]).success().json();
    assert_eq!(status["components"][0]["desired"], "running", "{status}");
    let sync = host.mcp(["--json", "sync"]).success().json();
    assert_eq!(sync["changed"], false, "{sync}");
    host.assert_serves(port, "v1");
}

/// A web component under `restart = "always"` that exits at once with 1
/// while `<dir>/crash-<tag>` exists, and otherwise serves.
fn crashable(host: &Host, tag: &str, port: u16, dir: &Path) -> String {
    format!(
        "[[components]]\nname = \"web\"\nimage = \"{}\"\nrestart = \"always\"\nports = [\"127.0.0.1:{port}:8080\"]\nvolumes = [\"{}:/data:ro\"]\ncmd = [\"sh\", \"-c\", \"if [ -f /data/crash-{tag} ]; then exit 1; fi; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n\n[components.health]\ntcp = {port}\ntimeout = \"30s\"\n",
        host.image(tag),
        dir.display()
    )
}

fn restart_count(host: &Host, name: &str) -> u64 {
    host.podman(["inspect", "--format", "{{.RestartCount}}", name])
        .out()
        .parse()
        .unwrap_or(0)
}

fn crash_loop(host: &Host, dir: &Path, tag: &str, name: &str) {
    fs::write(dir.join(format!("crash-{tag}")), "").unwrap();
    let before = restart_count(host, name);
    // The app ends by itself (not by a user's stop or kill, which podman's
    // restart policy respects): the policy revives it into the crash.
    // (exec itself ends with the container: its exit code says nothing.)
    host.podman(["exec", name, "kill", "-TERM", "1"]);
    assert!(
        wait_for(Duration::from_secs(60), || restart_count(host, name)
            >= before + 2),
        "{name} is not crash-looping"
    );
}

#[test]
fn deploy_replaces_a_crash_looping_container_every_time() {
    let host = Host::new();
    let port = host.free_port();
    let dir = host.root().join("data");
    fs::create_dir(&dir).unwrap();
    host.write_service("loop", &crashable(&host, "v1", port, &dir));
    host.mcp(["deploy", "loop"]).success();
    host.assert_serves(port, "v1");

    let mut tag = "v1";
    for round in 0..10 {
        crash_loop(&host, &dir, tag, "loop-web");
        if round == 0 {
            // status shows a crash loop as drift, and sync copes with it.
            let status = host.mcp(["--json", "status"]).success().json();
            let c = &status["components"][0];
            let drift: Vec<&str> = c["drift"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d.as_str())
                .collect();
            assert!(drift.iter().any(|d| d.contains("crash loop")), "{status}");
            host.mcp(["status", "--check"]).expect_code(3);
            host.mcp(["sync"]).success();
        }
        let next = if tag == "v1" { "v2" } else { "v1" };
        host.write_service("loop", &crashable(&host, next, port, &dir));
        let out = host.mcp(["deploy", "loop"]);
        assert_eq!(out.code, 0, "round {round}: {out}");
        host.assert_serves(port, next);
        fs::remove_file(dir.join(format!("crash-{tag}"))).unwrap();
        // The old one never comes back to take the port.
        assert_eq!(host.container_names(), ["loop-web"], "round {round}");
        tag = next;
    }
}

#[test]
fn paused_and_stopping_containers_are_brought_back() {
    let host = Host::new();
    let (p1, p2) = (host.free_port(), host.free_port());
    host.write_service("pau", &web(&host, "v1", p1, ""));
    let stubborn = "cmd = [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]";
    host.write_service("stu", &web(&host, "v1", p2, stubborn));
    host.mcp(["sync"]).success();
    host.podman(["pause", "pau-web"]).success();
    // A `podman stop` whose output pipe lost its reader dies half-way and
    // leaves the container `stopping`, which podman refuses to start.
    let mut cmd = host.command("sh");
    cmd.args(["-c", "podman stop --time 2 stu-web 2>&1 | head -c0; true"]);
    host.run(cmd);
    assert!(
        wait_for(Duration::from_secs(30), || container_state(
            &host, "stu-web"
        ) == "stopping"),
        "could not leave stu-web stopping: {}",
        container_state(&host, "stu-web")
    );
    assert_eq!(container_state(&host, "pau-web"), "paused");
    let out = host.mcp(["--json", "sync"]).success().json();
    let actions: Vec<(String, String)> = out["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["service"].as_str().unwrap().to_string(),
                a["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(actions.contains(&("pau".into(), "resume".into())), "{out}");
    assert!(actions.contains(&("stu".into(), "restart".into())), "{out}");
    host.assert_serves(p1, "v1");
    host.assert_serves(p2, "v1");
    host.mcp(["sync"]).success().stdout_has("no changes");
}

#[test]
fn a_failed_rollout_keeps_its_exit_code_and_last_log_lines() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("ev", &web(&host, "v1", port, ""));
    host.mcp(["sync"]).success();
    host.write_service("ev", &web(&host, "broken", port, ""));
    let out = host.mcp(["deploy", "ev"]).expect_code(1);
    assert!(out.stderr.contains("exited with 3"), "{out}");
    host.assert_serves(port, "v1");
    let history = host.mcp(["--json", "history"]).success().json();
    let evidence = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e.get("evidence"))
        .unwrap_or_else(|| panic!("no evidence in {history}"));
    assert_eq!(evidence["exit_code"], 3, "{evidence}");
    let log: Vec<&str> = evidence["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        log.iter().any(|l| l.contains("fatal: no configuration")),
        "{evidence}"
    );
    host.mcp(["history"])
        .success()
        .stdout_has("exited with 3")
        .stdout_has("fatal: no configuration");
}

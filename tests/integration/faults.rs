//! Nothing lost: locking, injected podman failures and hangs at every step,
//! kill -9 in the middle of a converge, hostile input, secrets.

use std::time::{Duration, Instant};

use crate::shim::PodmanShim;
use crate::support::Host;

fn web(host: &Host, tag: &str, port: u16) -> String {
    format!(
        "[[components]]\nname = \"web\"\nimage = \"{}\"\nrestart = \"no\"\nports = [\"127.0.0.1:{port}:8080\"]\n\n[components.health]\ntcp = {port}\ntimeout = \"10s\"\n",
        host.image(tag)
    )
}

fn integrity_ok(host: &Host) {
    let conn = rusqlite::Connection::open(host.db_path()).unwrap();
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(result, "ok");
}

#[test]
fn two_concurrent_syncs_over_six_services_leave_exactly_six_containers() {
    let host = Host::new();
    let ports: Vec<u16> = (0..6).map(|_| host.free_port()).collect();
    for (i, port) in ports.iter().enumerate() {
        host.write_service(&format!("s{i}"), &web(&host, "v1", *port));
    }
    let spawn = || {
        let mut cmd = host.mcp_command();
        cmd.arg("sync")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let expected: Vec<String> = (0..6).map(|i| format!("s{i}-web")).collect();
    assert_eq!(host.container_names(), expected);
    for port in ports {
        host.assert_serves(port, "v1");
    }
}

#[test]
fn a_second_mutating_mcp_waits_then_exits_75_naming_the_holder() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("a", &web(&host, "v1", port));
    let shim = PodmanShim::new();
    // The first sync hangs in its first podman call, holding the lock.
    let mut holder = shim.command(&host, None, Some(1));
    holder.arg("sync");
    let mut holder = holder.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while shim.calls().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    let out = host.mcp(["--lock-wait", "1s", "sync"]).expect_code(75);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "did not wait"
    );
    assert!(
        out.stderr.contains(&format!("pid {}", holder.id())),
        "{out}"
    );
    assert!(out.stderr.contains("`mcp sync`"), "{out}");
    // Read-only commands take no lock.
    host.mcp(["status"]).success();
    host.mcp(["sync", "--dry-run"]).expect_code(3);
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The kernel released the lock with the process: no stale lock.
    host.mcp(["--lock-wait", "0s", "sync"]).success();
    host.assert_serves(port, "v1");
}

#[test]
fn a_hung_podman_becomes_a_clear_error_naming_the_component() {
    let host = Host::new();
    let port = host.free_port();
    host.write_config("[podman]\ntimeout = \"2s\"\npull_timeout = \"3s\"\n");
    host.write_service("a", &web(&host, "v1", port));
    let shim = PodmanShim::new();
    let start = Instant::now();
    // Call 1 lists; call 2 runs the container: it hangs.
    let out = shim.mcp(&host, &["sync"], None, Some(2)).expect_code(1);
    assert!(
        start.elapsed() < Duration::from_secs(90),
        "took {:?}",
        start.elapsed()
    );
    assert!(out.stderr.contains("a/web create"), "{out}");
    assert!(out.stderr.contains("did not finish within"), "{out}");
    host.mcp(["sync"]).success();
    host.assert_serves(port, "v1");
}

/// The last call of a run that deployed something reads the new images' registry
/// digests for `mcp update`. That record is best effort (update reads the digest from
/// the running instance when it is missing), so its failure alone fails nothing.
/// A failed bulk `image inspect` is followed by one per image, so the record is every
/// `image inspect` at the end of the run.
fn failed_only_the_digest_record(calls: &[String], n: usize) -> bool {
    calls[n - 1..]
        .iter()
        .all(|c| c.starts_with("image inspect"))
}

/// Fails each podman call of a sync in turn (a replacement v1 -> v2 among two
/// services): every failing run exits 1 with the injected error, the
/// services keep answering, and a clean sync converges.
#[test]
fn every_step_of_a_replacing_sync_can_fail_without_losing_the_service() {
    let host = Host::new();
    let (pa, pb) = (host.free_port(), host.free_port());
    host.write_service("a", &web(&host, "v1", pa));
    host.write_service("b", &web(&host, "v1", pb));
    host.mcp(["sync"]).success();
    let shim = PodmanShim::new();

    let mut tag = "v1";
    for n in 1.. {
        tag = if tag == "v1" { "v2" } else { "v1" };
        let old = if tag == "v1" { "v2" } else { "v1" };
        host.write_service("a", &web(&host, tag, pa));
        let out = shim.mcp(&host, &["sync", "-j", "1"], Some(n), None);
        let calls = shim.calls();
        if calls.len() < n {
            // Past the last call: nothing failed, the rollout is done.
            out.success();
            host.assert_serves(pa, tag);
            break;
        }
        if failed_only_the_digest_record(&calls, n) {
            out.success();
            host.assert_serves(pa, tag);
            continue;
        }
        assert_eq!(
            out.code,
            1,
            "failing call {n} ({:?}) did not fail the run; calls:\n{}\n{out}",
            calls.get(n - 1),
            calls.join("\n")
        );
        assert!(out.stderr.contains("injected failure"), "call {n}:\n{out}");
        // Whatever step failed, a version still answers on both services.
        let served = host.curl(pa);
        assert!(
            served.as_deref() == Some(old) || served.as_deref() == Some(tag),
            "call {n}: a serves {served:?}\n{out}"
        );
        host.assert_serves(pb, "v1");
        host.mcp(["sync"]).success();
        host.assert_serves(pa, tag);
        assert_eq!(host.container_names(), vec!["a-web", "b-web"]);
        assert!(n < 40, "too many calls");
    }
    integrity_ok(&host);
}

/// The same for deploy, whose first calls pull.
#[test]
fn every_step_of_a_deploy_can_fail_without_losing_the_service() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("a", &web(&host, "v1", port));
    host.mcp(["sync"]).success();
    let shim = PodmanShim::new();
    let mut tag = "v1";
    for n in 1.. {
        tag = if tag == "v1" { "v2" } else { "v1" };
        host.write_service("a", &web(&host, tag, port));
        let out = shim.mcp(&host, &["deploy", "a"], Some(n), None);
        let calls = shim.calls();
        if calls.len() < n {
            out.success();
            host.assert_serves(port, tag);
            break;
        }
        if failed_only_the_digest_record(&calls, n) {
            out.success();
            host.assert_serves(port, tag);
            continue;
        }
        assert_eq!(
            out.code,
            1,
            "failing call {n} ({:?}) did not fail the run; calls:\n{}\n{out}",
            calls.get(n - 1),
            calls.join("\n")
        );
        assert!(out.stderr.contains("injected failure"), "call {n}:\n{out}");
        assert!(
            host.curl(port).is_some(),
            "call {n}: nothing answers\n{out}"
        );
        host.mcp(["sync"]).success();
        host.assert_serves(port, tag);
        assert_eq!(host.container_names(), vec!["a-web"]);
        assert!(n < 40, "too many calls");
    }
}

/// A small xorshift generator: the kill moments vary, the test stays
/// reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// kill -9 of `mcp sync` at random moments while it converges several
/// services (creating and replacing), then one sync: exactly the declared
/// containers, all answering the declared version, registry intact.
/// `MCP_KILL_ROUNDS=100 cargo nextest run kill_9` runs it longer by hand.
#[test]
fn kill_9_during_converge_then_one_sync_converges() {
    let rounds: usize = std::env::var("MCP_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seed = std::env::var("MCP_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill -9 harness: {rounds} rounds, MCP_KILL_SEED={seed}");
    let mut rng = Rng(seed);
    let host = Host::new();
    let ports: Vec<u16> = (0..4).map(|_| host.free_port()).collect();
    let mut tags = vec!["v1"; ports.len()];
    for round in 0..rounds {
        for (i, port) in ports.iter().enumerate() {
            if rng.next().is_multiple_of(2) {
                tags[i] = if tags[i] == "v1" { "v2" } else { "v1" };
            }
            host.write_service(&format!("k{i}"), &web(&host, tags[i], *port));
        }
        let mut cmd = host.mcp_command();
        cmd.arg("sync")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let delay = Duration::from_millis(rng.next() % 2500);
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {delay:?} ({status})");
    }
    host.mcp(["sync"]).success();
    let expected: Vec<String> = (0..ports.len()).map(|i| format!("k{i}-web")).collect();
    assert_eq!(host.container_names(), expected, "seed {seed}");
    for (port, tag) in ports.iter().zip(&tags) {
        host.assert_serves(*port, tag);
    }
    integrity_ok(&host);
    host.mcp(["status", "--check"]).success();
    assert_eq!(host.mcp(["sync"]).success().out(), "no changes");
}

#[test]
fn a_sync_that_rolls_out_a_crashing_image_fails_and_the_old_version_answers() {
    let host = Host::new();
    let port = host.free_port();
    host.write_service("a", &web(&host, "v1", port));
    host.mcp(["sync"]).success();
    host.write_service("a", &web(&host, "broken", port));
    // start-first: the crashing version fails its trial; the old one is never stopped.
    host.mcp(["sync"])
        .expect_code(1)
        .stderr_has("kept serving untouched");
    host.assert_serves(port, "v1");
    let history = host.mcp(["--json", "history", "a"]).success().json();
    let last = &history["events"][0];
    assert_eq!(last["action"], "recreate");
    assert!(
        last["outcome"].as_str().unwrap().starts_with("failed:"),
        "{history:#}"
    );
}

#[test]
fn shell_metacharacters_in_an_image_exit_65_and_run_nothing() {
    let host = Host::new();
    let marker = host.root().join("pwned");
    host.write_service(
        "a",
        &format!(
            "[[components]]\nname = \"web\"\nimage = \"a$(touch {})\"\n",
            marker.display()
        ),
    );
    host.mcp(["sync"])
        .expect_code(65)
        .stderr_has("a.toml:3:9: invalid image");
    host.mcp(["validate"]).expect_code(65);
    assert!(!marker.exists(), "a spec value reached a shell");
    assert!(host.container_names().is_empty());
}

#[test]
fn env_values_never_appear_in_mcp_output() {
    let host = Host::new();
    let port = host.free_port();
    let secret = "hunter2-Secret-Value";
    let spec = web(&host, "v1", port).replace(
        "restart = \"no\"",
        &format!("restart = \"no\"\nenv = {{ API_TOKEN = \"{secret}\" }}"),
    );
    host.write_service("a", &spec);
    let mut outputs = vec![host.mcp(["-v", "sync"]).success()];
    // The value reached the container through podman's environment, not argv.
    let inside = host
        .podman(["exec", "a-web", "sh", "-c", "echo \"$API_TOKEN\""])
        .success();
    assert_eq!(inside.out(), secret);
    let leftovers: Vec<_> = std::fs::read_dir(host.state_dir().join("tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "env files left behind: {leftovers:?}");
    host.write_service(
        "a",
        &spec
            .replace(secret, "hunter2-Other-Value")
            .replace(&host.image("v1"), &host.image("broken")),
    );
    outputs.push(host.mcp(["-v", "sync"]).expect_code(1));
    for args in [
        vec!["status"],
        vec!["--json", "status"],
        vec!["history"],
        vec!["--json", "history"],
        vec!["--json", "sync", "--dry-run"],
        vec!["sync", "--dry-run"],
    ] {
        outputs.push(host.mcp(&args));
    }
    for out in &outputs {
        assert!(
            !out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"),
            "a secret leaked:\n{out}"
        );
    }
    assert!(
        outputs[0].stderr.contains("--env API_TOKEN "),
        "{}",
        outputs[0]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(host.db_path()), 0o600);
    assert_eq!(mode(&host.state_dir().join("mcp.lock")), 0o600);
    assert_eq!(
        mode(host.state_dir()) & 0o077,
        0,
        "state dir is group/world accessible"
    );
}

//! Unikernel components (issue 4) on real qemu under TCG, beside a container. `ops` is
//! the test stand-in (tests/fixtures/ops-standin), whose "unikernel" is a small Linux
//! guest that runs the image's ELF with the config's Args and Env.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::fixtures::{REGISTRY, UNI_REPO, ops_standin};
use crate::support::{Host, Output};

/// A VM boots in ~3.5 s under TCG on an idle 2-vCPU host; parallel tests share the CPUs.
const BOOT_PATIENCE: Duration = Duration::from_secs(90);

struct VmHost {
    host: Host,
    ops_home: PathBuf,
}

impl VmHost {
    fn new() -> VmHost {
        ops_standin();
        let host = Host::new();
        host.write_config("[unikernel]\naccel = \"tcg\"\n");
        let ops_home = host.root().join("ops-home");
        VmHost { host, ops_home }
    }

    /// `mcp ARGS` with the stand-in ops on PATH (or not) and ops writing below the test.
    fn mcp_with(&self, ops_on_path: bool, args: &[&str]) -> Output {
        self.host.run(self.command(ops_on_path, args))
    }

    fn command(&self, ops_on_path: bool, args: &[&str]) -> std::process::Command {
        let fx = ops_standin();
        let path = std::env::var("PATH").unwrap_or_default();
        let path = if ops_on_path {
            format!("{}:{path}", fx.bin_dir.display())
        } else {
            path
        };
        let mut cmd = self.host.mcp_command();
        cmd.env("PATH", path)
            .env("OPS_HOME", &self.ops_home)
            .env("OPS_STANDIN_CACHE", &fx.cache)
            .args(args);
        cmd
    }

    fn mcp(&self, args: &[&str]) -> Output {
        self.mcp_with(true, args)
    }

    fn uni(&self, tag: &str) -> String {
        format!("{REGISTRY}/{UNI_REPO}:{tag}")
    }

    fn vm_dir(&self, instance: &str) -> PathBuf {
        self.host.state_dir().join("vms").join(instance)
    }

    fn qemu_pid(&self, instance: &str) -> Option<u32> {
        std::fs::read_to_string(self.vm_dir(instance).join("vm.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits until GET / on `port` answers `expected`; the seconds it took.
    #[track_caller]
    fn wait_serves(&self, port: u16, expected: &str) -> f64 {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < BOOT_PATIENCE {
            last = crate::support::http_get(port, "/", Duration::from_secs(2));
            if matches!(&last, Some((200..=299, body)) if body == expected) {
                return started.elapsed().as_secs_f64();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "127.0.0.1:{port} did not serve {expected:?} within {BOOT_PATIENCE:?}; last: {last:?}"
        );
    }

    fn status_of(&self, component: &str) -> serde_json::Value {
        let out = self.mcp(&["--json", "status"]);
        out.json()["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["component"] == component)
            .unwrap_or_else(|| panic!("no {component} in status\n{out}"))
            .clone()
    }
}

fn service(host: &VmHost, web_port: u16, vm_port: u16, uni_tag: &str, active: bool) -> String {
    format!(
        r#"active = {active}

[[components]]
name = "web"
image = "{web}"
ports = ["127.0.0.1:{web_port}:8080"]

[[components]]
name = "vm"
image = "{uni}"
runtime = "unikernel"
ports = ["127.0.0.1:{vm_port}:8080"]

[components.health]
http = "http://127.0.0.1:{vm_port}/"
timeout = "90s"
"#,
        web = host.host.image("v1"),
        uni = host.uni(uni_tag),
    )
}

#[test]
fn container_and_vm_side_by_side() {
    let h = VmHost::new();
    let (web_port, vm_port) = (h.host.free_port(), h.host.free_port());
    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v1", true));

    let started = Instant::now();
    h.mcp(&["sync"]).success();
    eprintln!(
        "sync (build + boot + health) took {:.1?}",
        started.elapsed()
    );
    h.host.assert_serves(web_port, "v1");
    h.wait_serves(vm_port, "v1");

    // status: both running, with versions, the VM as `unikernel`.
    let vm = h.status_of("vm");
    assert_eq!(vm["runtime"], "unikernel", "{vm}");
    assert_eq!(vm["observed"], "running", "{vm}");
    assert_eq!(vm["version"], "v1", "{vm}");
    assert_eq!(vm["drift"], serde_json::json!([]), "{vm}");
    let web = h.status_of("web");
    assert_eq!(web["observed"], "running", "{web}");
    assert_eq!(web["runtime"], "container", "{web}");
    h.mcp(&["status", "--check"])
        .success()
        .stdout_has("unikernel");

    // logs: the guest's console.
    h.mcp(&["logs", "svc/vm", "--tail", "20"])
        .success()
        .stdout_has("hello from uni v1");
    // --json: one object per console line; the boot marker carries a time.
    let out = h.mcp(&["--json", "logs", "svc/vm"]).success();
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{out}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["stream"] == "console" && l["component"] == "svc/vm"),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l["line"] == "hello from uni v1"),
        "{out}"
    );
    assert!(lines.iter().any(|l| l["time"].is_string()), "{out}");

    // kill -9 of qemu: drift, then sync boots it again.
    let pid = h.qemu_pid("svc-vm").expect("vm.pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.status_of("vm")["observed"] == "running" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = h.mcp(&["status", "--check"]).expect_code(3);
    assert!(out.stdout.contains("exited"), "{out}");
    assert_eq!(h.status_of("vm")["exit_code"], 137);
    let started = Instant::now();
    h.mcp(&["sync"]).success().stdout_has("start");
    h.wait_serves(vm_port, "v1");
    let boot = started.elapsed().as_secs_f64();
    eprintln!("restart after kill -9: sync + boot to HTTP in {boot:.1}s");
    assert_ne!(h.qemu_pid("svc-vm"), Some(pid));

    // A new image version: rebuilt and replaced; the new version answers.
    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v2", true));
    h.mcp(&["sync"]).success().stdout_has("recreate");
    h.wait_serves(vm_port, "v2");
    let vm = h.status_of("vm");
    assert_eq!(vm["version"], "v2", "{vm}");
    assert_eq!(vm["observed"], "running", "{vm}");
    let leftovers: Vec<String> = std::fs::read_dir(h.host.state_dir().join("vms"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["svc-vm".to_string()]);
    let images: Vec<String> = std::fs::read_dir(h.ops_home.join(".ops/images"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        images.len(),
        1,
        "the v1 disk is removed with its VM: {images:?}"
    );

    // active = false: the VM is stopped through QMP (ACPI power button), not SIGKILL.
    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v2", false));
    let started = Instant::now();
    h.mcp(&["sync"]).success();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "stopping took {took:?}");
    let serial = std::fs::read_to_string(h.vm_dir("svc-vm").join("serial.log")).unwrap();
    assert!(
        serial.contains("LGF: power button, shutting down"),
        "{serial}"
    );
    assert!(serial.contains("stopped by system_powerdown"), "{serial}");
    let vm = h.status_of("vm");
    assert_eq!(vm["observed"], "exited", "{vm}");
    assert_eq!(vm["exit_code"], 0, "{vm}");
    assert_eq!(h.host.curl_once(vm_port), None);
}

/// start-first for a VM: the new version boots beside the old one on a side
/// port, passes its check there, and then takes the real port over QMP
/// (`hostfwd_remove`/`hostfwd_add`): it keeps running, it is not booted again.
#[test]
fn a_vm_rollout_hands_the_real_port_to_the_checked_new_vm() {
    let h = VmHost::new();
    let (web_port, vm_port) = (h.host.free_port(), h.host.free_port());
    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v1", true));
    h.mcp(&["sync"]).success();
    h.wait_serves(vm_port, "v1");

    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v2", true));
    h.mcp(&["deploy", "svc/vm", "--pull", "missing"]).success();
    h.wait_serves(vm_port, "v2");
    // The serving qemu was started with its side port: the real one was handed
    // to it live, and its record names the real port for later boots.
    let pid = h.qemu_pid("svc-vm").expect("svc-vm runs");
    let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
    assert!(argv.contains("hostfwd=tcp:127.0.0.1:"), "{argv}");
    assert!(
        !argv.contains(&format!(":{vm_port}-:")),
        "the VM was booted on the real port, not handed it: {argv}"
    );
    let record = std::fs::read_to_string(h.vm_dir("svc-vm").join("vm.json")).unwrap();
    assert!(
        record.contains(&format!("127.0.0.1:{vm_port}:8080")),
        "{record}"
    );
    let leftovers: Vec<String> = std::fs::read_dir(h.host.state_dir().join("vms"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["svc-vm".to_string()]);
}

#[test]
fn missing_ops_is_named_and_the_running_vm_is_untouched() {
    let h = VmHost::new();
    let (web_port, vm_port) = (h.host.free_port(), h.host.free_port());
    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v1", true));
    h.mcp(&["sync"]).success();
    h.wait_serves(vm_port, "v1");
    let pid = h.qemu_pid("svc-vm");

    h.host
        .write_service("svc", &service(&h, web_port, vm_port, "v2", true));
    let out = h.mcp_with(false, &["sync"]).failure();
    assert!(
        out.stderr
            .contains("ops was not found on PATH (needed by svc/vm)"),
        "{out}"
    );
    assert_eq!(h.qemu_pid("svc-vm"), pid);
    assert_eq!(h.host.curl_once(vm_port).as_deref(), Some("v1"));
    assert_eq!(h.status_of("vm")["observed"], "running");
}

#[test]
fn guest_exit_code_is_reported() {
    let h = VmHost::new();
    h.host.write_service(
        "job",
        &format!(
            r#"[[components]]
name = "vm"
image = "{}"
runtime = "unikernel"
restart = "no"
cmd = ["sh", "-c", "echo job running; exit 3"]
"#,
            h.uni("v1")
        ),
    );
    h.mcp(&["sync"]).success();
    let deadline = Instant::now() + BOOT_PATIENCE;
    let mut vm = h.status_of("vm");
    while vm["observed"] == "running" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        vm = h.status_of("vm");
    }
    assert_eq!(vm["observed"], "exited", "{vm}");
    assert_eq!(vm["exit_code"], 3, "{vm}");
    h.mcp(&["logs", "job/vm"])
        .success()
        .stdout_has("job running");
    // restart = "no": sync leaves the exited VM alone.
    let out = h.mcp(&["--json", "sync", "--dry-run"]);
    assert!(
        !out.stdout.contains("\"start\""),
        "sync would restart a VM with restart = no\n{out}"
    );
}

/// This host's `/dev/kvm` is kvm_pvm: guests stop in QMP `internal-error` while qemu
/// keeps running. Forcing `accel = "kvm"` there must fail with the cause and the fix,
/// and leave no qemu running. Skipped where kvm_pvm is absent.
#[test]
fn kvm_internal_error_names_the_fix() {
    if !std::path::Path::new("/sys/module/kvm_pvm").exists() {
        eprintln!("skipped: /sys/module/kvm_pvm is absent (KVM here can run guests)");
        return;
    }
    let h = VmHost::new();
    h.host.write_config("[unikernel]\naccel = \"kvm\"\n");
    let port = h.host.free_port();
    h.host.write_service(
        "svc",
        &format!(
            r#"[[components]]
name = "vm"
image = "{}"
runtime = "unikernel"
ports = ["127.0.0.1:{port}:8080"]
"#,
            h.uni("v1")
        ),
    );
    let out = h.mcp(&["sync"]).failure();
    eprintln!("{}", out.stderr);
    assert!(out.stderr.contains("internal-error"), "{out}");
    assert!(out.stderr.contains("accel = \"tcg\""), "{out}");
    let vm = h.status_of("vm");
    assert_ne!(vm["observed"], "running", "{vm}");
}

/// A VM directory mcp did not make (no labels) is adopted as `ignore`, as a
/// `unikernel`, and never touched.
#[test]
fn untracked_vm_is_adopted_as_ignore() {
    let h = VmHost::new();
    std::fs::create_dir_all(h.vm_dir("legacy-app")).unwrap();
    h.mcp(&["sync"]).success().stdout_has("adopt");
    let vm = h.status_of("app");
    assert_eq!(vm["service"], "legacy", "{vm}");
    assert_eq!(vm["runtime"], "unikernel", "{vm}");
    assert_eq!(vm["desired"], "ignore", "{vm}");
    h.mcp(&["sync"]).success();
    assert!(h.vm_dir("legacy-app").is_dir());
}

/// `--since` takes the same forms for a VM as for a container (issue 15). The serial
/// console has no timestamps: the output starts at the boot running at T.
#[test]
fn logs_since_takes_an_rfc3339_time_for_a_vm() {
    let h = VmHost::new();
    let port = h.host.free_port();
    h.host.write_service(
        "svc",
        &format!(
            "[[components]]\nname = \"vm\"\nimage = \"{}\"\nruntime = \"unikernel\"\nports = [\"127.0.0.1:{port}:8080\"]\n",
            h.uni("v1")
        ),
    );
    let now = mcp::timefmt::unix_now;
    let wait_past = |t: i64| {
        while now() <= t {
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    h.mcp(&["sync"]).success();
    h.wait_serves(port, "v1");
    // The first boot's marker is stamped at or before `between`, the second's after it.
    let between = now();
    wait_past(between);
    h.mcp(&["restart", "svc/vm"]).success();
    h.wait_serves(port, "v1");
    let after = now();

    let hellos = |out: &Output| out.stdout.matches("hello from uni v1").count();
    let all = h.mcp(&["logs", "svc/vm"]).success();
    assert_eq!(hellos(&all), 2, "two boots:\n{all}");
    let since = mcp::timefmt::rfc3339(after);
    let out = h.mcp(&["logs", "svc/vm", "--since", &since]).success();
    assert_eq!(hellos(&out), 1, "only the second boot:\n{out}");
    assert!(out.stdout.starts_with("-- mcp: boot ("), "{out}");
    let offset = mcp::timefmt::rfc3339(between - 3600).replace('Z', "-01:00");
    let out = h.mcp(&["logs", "svc/vm", "--since", &offset]).success();
    assert_eq!(hellos(&out), 2, "from the first boot on:\n{out}");
    let unix = format!("@{after}");
    assert_eq!(
        hellos(&h.mcp(&["logs", "svc/vm", "--since", &unix]).success()),
        1
    );
}

/// A VM alone, behind a tcp gate on its published port; `extra` is more
/// component keys (a `cmd` replaces the image's).
fn gated_vm(h: &VmHost, port: u16, tag: &str, extra: &str, timeout: &str) -> String {
    format!(
        r#"[[components]]
name = "vm"
image = "{uni}"
runtime = "unikernel"
ports = ["127.0.0.1:{port}:8080"]
{extra}
[components.health]
tcp = {port}
timeout = "{timeout}"
"#,
        uni = h.uni(tag),
    )
}

#[test]
fn vm_tcp_gate_waits_for_the_guest_and_a_guest_listening_elsewhere_is_rolled_back() {
    let h = VmHost::new();
    let port = h.host.free_port();
    h.host
        .write_service("svc", &gated_vm(&h, port, "v1", "", "90s"));
    h.mcp(&["sync"]).success();
    // qemu's forward accepts at once; the gate passed only when the guest did,
    // so the first request after sync is answered (one attempt, no retry).
    let first = crate::support::http_get(port, "/", Duration::from_secs(5));
    assert_eq!(first, Some((200, "v1".to_string())));

    // v2 serves on 8081 inside the guest: its forwarded port 8080 never accepts.
    let elsewhere = r#"cmd = ["sh", "-c", "mkdir -p /www; printf v2 > /www/index.html; exec httpd -f -p 8081 -h /www"]"#;
    h.host
        .write_service("svc", &gated_vm(&h, port, "v2", elsewhere, "20s"));
    // start-first: the trial ran with 127.0.0.1:{port} moved to a side port
    // (the error names both) and the old VM was never stopped.
    h.mcp(&["sync"])
        .expect_code(1)
        .stderr_has("did not accept connections")
        .stderr_has(&format!(
            "ports moved aside (127.0.0.1:{port} on 127.0.0.1:"
        ))
        .stderr_has("kept serving untouched");
    h.wait_serves(port, "v1");
    let vm = h.status_of("vm");
    assert_eq!(vm["version"], "v1", "{vm}");
    assert_eq!(vm["observed"], "running", "{vm}");

    // A VM's stop_timeout is the wait after the ACPI powerdown and changes
    // nothing that runs (no recreate); 0s asks qemu to quit at once.
    h.host.write_service(
        "svc",
        &gated_vm(&h, port, "v1", r#"stop_timeout = "0s""#, "90s"),
    );
    let pid = h.qemu_pid("svc-vm");
    let synced = h.mcp(&["sync"]).success();
    assert!(!synced.stdout.contains("recreate"), "{synced}");
    assert_eq!(h.qemu_pid("svc-vm"), pid);
    h.mcp(&["stop", "svc"]).success();
    let serial = std::fs::read_to_string(h.vm_dir("svc-vm").join("serial.log")).unwrap();
    let last = serial.lines().rev().find(|l| l.contains("stopped by"));
    assert!(
        last.is_some_and(|l| l.contains("stopped by QMP quit")),
        "{serial}"
    );
}

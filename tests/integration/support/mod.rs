//! Test support: a fluent, isolated "host" per test (DESIGN §6, §7).
//!
//! ```ignore
//! let host = Host::new();
//! host.write_service("web", &format!(r#"
//!     [[components]]
//!     name = "app"
//!     image = "{}"
//!     ports = ["127.0.0.1:{port}:8080"]
//! "#, host.image("v1")));
//! host.mcp(["deploy", "web"]).success();
//! assert_eq!(host.curl(port).as_deref(), Some("v1"));
//! ```
//!
//! Every `Host` has its own temp dir with a services dir, registry db, state dir, mcp
//! config, podman storage (graphroot/runroot), containers.conf (own network config dir,
//! default network with a name, bridge and subnet of its own, events log) — so tests running in
//! parallel cannot see each other's containers or networks. The registry at
//! [`REGISTRY`] and its images are shared (see `fixtures.rs`).
#![allow(dead_code, unused_imports)]

pub mod fixtures;
pub mod isolation;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use fixtures::{REGISTRY, REGISTRY_PORT, WEB_TAGS, http_get};

/// How long one `mcp`/`podman` invocation may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `curl` retries.
pub const CURL_PATIENCE: Duration = Duration::from_secs(10);

/// Env vars that would leak the developer's mcp setup into a test.
pub const MCP_ENV: [&str; 5] = [
    "MCP_CONFIG",
    "MCP_SERVICES",
    "MCP_DB",
    "MCP_STATE_DIR",
    "MCP_LOCK_WAIT",
];

pub struct Host {
    root: tempfile::TempDir,
    services: PathBuf,
    db: PathBuf,
    state: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
    subnet: String,
    bridge: String,
    /// Held (locked) for the life of the host: reserves this host's network slot.
    _net_slot: File,
    /// Networks made by [`Host::create_network`], numbering their bridges.
    networks_made: std::sync::atomic::AtomicU32,
}

impl Host {
    /// A fresh isolated host. Sets up the shared registry and images first if needed.
    pub fn new() -> Host {
        let fx = fixtures::fixtures();
        let root = tempfile::Builder::new()
            .prefix("mcpt.")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating the test temp dir: {e}"));
        let r = root.path().to_path_buf();
        let services = r.join("services");
        let state = r.join("state");
        let storage = r.join("storage");
        let networks = r.join("networks");
        for d in [&services, &state, &storage, &networks] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("creating {}: {e}", d.display()));
        }
        let db = r.join("registry.db");
        let config = r.join("mcp.toml");
        fs::write(&config, "").unwrap();

        // Network slot i owns 10.64.0.0/10's i-th /21: its first /24 is this host's default
        // network (bridge mcpt<i>), the rest the pool for networks the test creates.
        let (slot, net_slot) = reserve_net_slot(&fx.dir);
        let base: u32 = 0x0A40_0000 + slot * 2048;
        let ip = |a: u32| {
            format!(
                "{}.{}.{}.{}",
                a >> 24,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            )
        };
        let subnet = format!("{}/24", ip(base));
        let bridge = format!("mcpt{slot}");
        // Named after its bridge, not "podman": see `default_network` in
        // tests/fixtures/containers.conf.
        fs::write(
            networks.join(format!("{bridge}.json")),
            format!(
                r#"{{
  "name": "{bridge}",
  "id": "{id:0>64x}",
  "driver": "bridge",
  "network_interface": "{bridge}",
  "created": "2024-01-01T00:00:00Z",
  "subnets": [{{ "subnet": "{subnet}", "gateway": "{gw}" }}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {{ "driver": "host-local" }}
}}
"#,
                gw = ip(base + 1),
                id = base | 0xd,
            ),
        )
        .unwrap();
        let pools = format!("{{\"base\" = \"{}/21\", \"size\" = 24}}", ip(base));

        let containers_conf = r.join("containers.conf");
        fs::write(
            &containers_conf,
            fixtures::containers_conf(&networks, &r.join("events.log"), &pools, &bridge),
        )
        .unwrap();
        let storage_conf = r.join("storage.conf");
        fs::write(
            &storage_conf,
            fixtures::storage_conf(&storage, &fx.storage_driver),
        )
        .unwrap();

        let env = vec![
            (
                "CONTAINERS_CONF".to_string(),
                containers_conf.display().to_string(),
            ),
            (
                "CONTAINERS_STORAGE_CONF".to_string(),
                storage_conf.display().to_string(),
            ),
            (
                "CONTAINERS_REGISTRIES_CONF".to_string(),
                fx.registries_conf.display().to_string(),
            ),
        ];
        Host {
            root,
            services,
            db,
            state,
            config,
            env,
            subnet,
            bridge,
            _net_slot: net_slot,
            networks_made: std::sync::atomic::AtomicU32::new(0),
        }
    }

    // ----- paths -------------------------------------------------------------------

    /// The host's temp dir (everything below lives in it).
    pub fn root(&self) -> &Path {
        self.root.path()
    }
    /// `--services` dir.
    pub fn services_dir(&self) -> &Path {
        &self.services
    }
    /// `--db` file (not created until mcp creates it).
    pub fn db_path(&self) -> &Path {
        &self.db
    }
    /// `--state-dir`.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }
    /// `--config` file (empty unless [`Host::write_config`] was called).
    pub fn config_path(&self) -> &Path {
        &self.config
    }
    /// Subnet of this host's default podman network, e.g. `10.64.8.0/24`.
    pub fn default_subnet(&self) -> &str {
        &self.subnet
    }
    /// Bridge interface of this host's default podman network, e.g. `mcpt1`.
    pub fn default_bridge(&self) -> &str {
        &self.bridge
    }

    // ----- registry and images -----------------------------------------------------

    /// `127.0.0.1:5471`, the shared test registry, for image references.
    pub fn registry(&self) -> &'static str {
        REGISTRY
    }
    /// `127.0.0.1:5471/web:<tag>`; tags: `v1`, `v2`, `broken`, `nohealth`.
    pub fn image(&self, tag: &str) -> String {
        format!("{REGISTRY}/web:{tag}")
    }

    // ----- files -------------------------------------------------------------------

    /// Writes `<services>/<name>.toml` (replacing it) and returns its path.
    pub fn write_service(&self, name: &str, toml: &str) -> PathBuf {
        let path = self.services.join(format!("{name}.toml"));
        fs::write(&path, toml).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
    /// Removes `<services>/<name>.toml` (no error if absent).
    pub fn remove_service(&self, name: &str) {
        let path = self.services.join(format!("{name}.toml"));
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                panic!("removing {}: {e}", path.display())
            }
            _ => {}
        }
    }
    /// Writes the mcp config file passed as `--config`.
    pub fn write_config(&self, toml: &str) -> PathBuf {
        fs::write(&self.config, toml)
            .unwrap_or_else(|e| panic!("writing {}: {e}", self.config.display()));
        self.config.clone()
    }

    // ----- commands ----------------------------------------------------------------

    /// Env vars that put podman (and so mcp) on this host's storage/config/registry:
    /// `CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`, `CONTAINERS_REGISTRIES_CONF`.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    /// A `Command` for `program` with [`Host::env`] applied, `MCP_*` removed, stdin null.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for var in MCP_ENV {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// The `mcp` binary's argv prefix: global flags pointing at this host.
    pub fn mcp_command(&self) -> Command {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_mcp"));
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--services")
            .arg(&self.services)
            .arg("--db")
            .arg(&self.db)
            .arg("--state-dir")
            .arg(&self.state);
        cmd
    }

    /// Runs `mcp --config C --services D --db F --state-dir S <args...>`.
    pub fn mcp<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.mcp_command();
        cmd.args(args);
        run(cmd, COMMAND_TIMEOUT)
    }

    /// Runs `podman <args...>` on this host's storage.
    pub fn podman<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command("podman");
        cmd.args(args);
        run(cmd, COMMAND_TIMEOUT)
    }

    /// The names of this host's containers, sorted.
    pub fn container_names(&self) -> Vec<String> {
        let out = self
            .podman(["ps", "-a", "--format", "{{.Names}}"])
            .success();
        let mut names: Vec<String> = out.stdout.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    /// podman's own record of what happened, as `name status` lines in order.
    pub fn podman_events(&self) -> Vec<String> {
        self.podman([
            "events",
            "--stream=false",
            "--format",
            "{{.Name}} {{.Status}}",
        ])
        .success()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Runs any prepared command (e.g. from [`Host::command`]), capturing its output.
    pub fn run(&self, cmd: Command) -> Output {
        run(cmd, COMMAND_TIMEOUT)
    }

    // ----- network -----------------------------------------------------------------

    /// Creates podman network `name` on a bridge and subnet of this host's own
    /// (`mcpt<i>n<k>`, the k-th /24 of the host's /21). A network that mcp,
    /// podman-compose or `kube play` creates itself gets the first free `podman<N>`
    /// bridge of this host's (empty) network config dir, the same name in every parallel
    /// test: they would share one kernel bridge and tear it down under each other.
    /// podman 4.3 has no `--interface-name`, so the config file is written directly,
    /// as for the default network.
    pub fn create_network(&self, name: &str) {
        let k = self
            .networks_made
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        assert!(k < 8, "a host has room for 7 networks of its own");
        let base: Vec<u32> = self
            .subnet
            .trim_end_matches("/24")
            .split('.')
            .map(|p| p.parse().expect("subnet octet"))
            .collect();
        let third = base[2] + k;
        let (a, b) = (base[0], base[1]);
        let file = self.root().join("networks").join(format!("{name}.json"));
        fs::write(
            &file,
            format!(
                r#"{{
  "name": "{name}",
  "id": "{id:0>64x}",
  "driver": "bridge",
  "network_interface": "{bridge}n{k}",
  "created": "2024-01-01T00:00:00Z",
  "subnets": [{{ "subnet": "{a}.{b}.{third}.0/24", "gateway": "{a}.{b}.{third}.1" }}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {{ "driver": "host-local" }}
}}
"#,
                id = (u64::from(a) << 24) | (u64::from(b) << 16) | (u64::from(third) << 8) | 0xab,
                bridge = self.bridge,
            ),
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
        self.podman(["network", "exists", name]).success();
    }

    /// A loopback port that was free a moment ago (bind 127.0.0.1:0, release).
    pub fn free_port(&self) -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("binding 127.0.0.1:0")
    }

    /// `GET http://127.0.0.1:<port>/`, retried for up to 10 s until it answers 2xx:
    /// the body, or `None` if it never did.
    pub fn curl(&self, port: u16) -> Option<String> {
        self.curl_path(port, "/")
    }

    /// Like [`Host::curl`] for another path.
    pub fn curl_path(&self, port: u16, path: &str) -> Option<String> {
        let deadline = Instant::now() + CURL_PATIENCE;
        loop {
            if let Some((200..=299, body)) = http_get(port, path, Duration::from_secs(2)) {
                return Some(body);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One `GET /` without retries: the body of a 2xx answer, else `None` (use it to
    /// check that nothing serves a port any more).
    pub fn curl_once(&self, port: u16) -> Option<String> {
        match http_get(port, "/", Duration::from_secs(2)) {
            Some((200..=299, body)) => Some(body),
            _ => None,
        }
    }

    /// Retries `GET /` for up to 10 s until the body is `expected`; panics with the last
    /// answer otherwise (e.g. while a v1 → v2 rollout settles).
    #[track_caller]
    pub fn assert_serves(&self, port: u16, expected: &str) {
        let deadline = Instant::now() + CURL_PATIENCE;
        let mut last = None;
        while Instant::now() < deadline {
            last = http_get(port, "/", Duration::from_secs(2));
            if matches!(&last, Some((200..=299, body)) if body == expected) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "127.0.0.1:{port} did not serve {expected:?} within {CURL_PATIENCE:?}; last answer: {last:?}"
        );
    }

    /// Leaves the host's temp dir and containers in place (for debugging a failure) when
    /// `MCP_TEST_KEEP` is set.
    fn keep() -> bool {
        std::env::var_os("MCP_TEST_KEEP").is_some()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if Host::keep() {
            eprintln!(
                "MCP_TEST_KEEP: leaving {} (env: {:?})",
                self.root.path().display(),
                self.env
            );
            self.root.disable_cleanup(true);
            return;
        }
        let podman = |args: &[&str]| {
            let mut cmd = self.command("podman");
            cmd.args(args);
            let _ = run_raw(cmd, Duration::from_secs(60));
        };
        podman(&["rm", "-af", "-t", "0"]);
        podman(&["pod", "rm", "-af", "-t", "0"]);
        podman(&["network", "prune", "-f"]);
        kill_vms(&self.state);
        unmount_below(self.root.path());
        // TempDir's own Drop removes the directory and ignores errors.
    }
}

/// Lock file `target/test-fixtures/net-slots/<i>.lock` for a free slot i in 0..2048.
fn reserve_net_slot(fixtures_dir: &Path) -> (u32, File) {
    let dir = fixtures_dir.join("net-slots");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for k in 0..2048u32 {
        let slot = (seed.wrapping_add(k)) % 2048;
        let path = dir.join(format!("{slot}.lock"));
        let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if file.try_lock().is_ok() {
            return (slot, file);
        }
    }
    panic!("no free network slot in {}", dir.display());
}

/// Kills qemu processes whose pidfile lies below `state` (VMs a test left running).
fn kill_vms(state: &Path) {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "pid")
                || p.file_name().is_some_and(|n| n == "pidfile")
            {
                out.push(p);
            }
        }
    }
    let mut pidfiles = Vec::new();
    walk(state, &mut pidfiles);
    for f in pidfiles {
        let Some(pid) = fs::read_to_string(&f)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.starts_with("qemu") {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// Lazily unmounts every mount point below `root` (overlay keeps graphroot/overlay
/// bind-mounted on itself, and leaked container mounts would make removal fail).
fn unmount_below(root: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = root.display().to_string();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    for p in points {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&p)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn unescape_mountinfo(s: &str) -> String {
    // Octal escapes for space, tab, newline, backslash.
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

// ----- running commands ----------------------------------------------------------------

/// What a command did. Assertion helpers panic with the command line and both streams.
#[derive(Clone, Debug)]
pub struct Output {
    /// The command line, for messages.
    pub cmd: String,
    /// Exit code; -1 when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Exit code 0, else panic.
    #[track_caller]
    pub fn success(self) -> Self {
        if self.code != 0 {
            panic!("command failed, expected success\n{self}");
        }
        self
    }
    /// Non-zero exit code, else panic.
    #[track_caller]
    pub fn failure(self) -> Self {
        if self.code == 0 {
            panic!("command succeeded, expected failure\n{self}");
        }
        self
    }
    /// Exactly `code`, else panic.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        if self.code != code {
            panic!("expected exit code {code}, got {}\n{self}", self.code);
        }
        self
    }
    /// stdout contains `needle`, else panic.
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Self {
        if !self.stdout.contains(needle) {
            panic!("stdout does not contain {needle:?}\n{self}");
        }
        self
    }
    /// stderr contains `needle`, else panic.
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        if !self.stderr.contains(needle) {
            panic!("stderr does not contain {needle:?}\n{self}");
        }
        self
    }
    /// stdout parsed as JSON, else panic.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
    /// Trimmed stdout.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }
}

/// Runs `cmd` capturing stdout/stderr; panics if it cannot start, exceeds `timeout`, or
/// leaves its stdout/stderr open in a background process after exiting.
#[track_caller]
/// Where `wanted` stands in `events` (from [`Host::podman_events`]); panics,
/// showing them, when it is not there.
pub fn position(events: &[String], wanted: &str) -> usize {
    events
        .iter()
        .position(|e| e == wanted)
        .unwrap_or_else(|| panic!("no `{wanted}` in podman's events:\n{}", events.join("\n")))
}

pub fn run(cmd: Command, timeout: Duration) -> Output {
    match run_raw(cmd, timeout) {
        Ok(out) => out,
        Err(e) => panic!("{e}"),
    }
}

fn describe(cmd: &Command) -> String {
    let mut parts: Vec<OsString> = vec![cmd.get_program().to_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_owned()));
    parts
        .iter()
        .map(|p| {
            let s = p.to_string_lossy();
            if s.is_empty() || s.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
                format!("'{}'", s.replace('\'', "'\\''"))
            } else {
                s.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_raw(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let line = describe(&cmd);
    isolation::ensure(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{line}`: {e}"))?;
    let (tx, rx) = mpsc::channel();
    for (i, stream) in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        let mut stream = stream.expect("piped");
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stream.read_to_end(&mut buf);
            let _ = tx.send((i, buf));
        });
    }
    drop(tx);

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{line}` did not finish within {timeout:?}; killed"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for `{line}`: {e}")),
        }
    };
    // The child has exited: its streams must close promptly. If a background process it
    // started still holds them, cron (and the shell `$(...)`) would hang too.
    let mut streams = [Vec::new(), Vec::new()];
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..2 {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, buf)) => streams[i] = buf,
            Err(_) => {
                return Err(format!(
                    "`{line}` exited ({status}) but a process it left behind keeps its stdout/stderr open"
                ));
            }
        }
    }
    let [stdout, stderr] = streams;
    Ok(Output {
        cmd: line,
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

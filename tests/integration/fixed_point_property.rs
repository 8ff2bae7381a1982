//! Property (issue 16): whatever an operator does, one `sync` reaches a fixed
//! point. Random short sequences of operator actions on real podman — add,
//! edit or remove a service file, start a container by hand, stop, kill or
//! pause one, adopt, deploy, stop/start, kill -9 a running sync — each
//! followed by `sync`; afterwards a second `mcp -q sync` prints nothing,
//! `sync --dry-run` exits 0 and `status --check` exits 0 or names only real
//! drift (a paused container, a kept orphan — its file gone, which status
//! reports — and a container of a kept orphan that died, which sync keeps
//! as it is).
//!
//! Sized for CI: four shards (run in parallel by nextest) of a few sequences.
//! Larger by hand, e.g.:
//!
//! ```text
//! MCP_FIXPOINT_SEQUENCES=25 MCP_FIXPOINT_STEPS=6 cargo nextest run fixed_point_property
//! ```
//!
//! `MCP_FIXPOINT_SEED=<n> MCP_FIXPOINT_SEQUENCES=1` replays one sequence
//! (every failure prints its seed); `MCP_FIXPOINT_TRACE=1` prints every
//! sequence's actions.

use std::time::Duration;

use crate::fixed_points::web;
use crate::support::Host;

/// xorshift: sequences vary between runs and replay from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The service files a sequence can write: `svc0`..`svc2`, each on a port
/// of its own.
const SERVICES: usize = 3;

struct World<'h> {
    host: &'h Host,
    ports: Vec<u16>,
    /// How many containers were started by hand so far (unique names).
    hand: usize,
    log: Vec<String>,
}

impl World<'_> {
    fn service_text(&self, rng: &mut Rng, k: usize) -> String {
        let host = self.host;
        let mut text = String::new();
        if rng.chance(25) {
            text.push_str("active = false\n");
        }
        text.push_str(&web(host, "api", self.ports[k], rng.chance(50)));
        text = text.replace(
            &host.image("v1"),
            &host.image(if rng.chance(50) { "v1" } else { "v2" }),
        );
        if rng.chance(30) {
            text.push_str(&format!(
                "[[components]]\nname = \"side\"\nimage = \"{}\"\n",
                host.image("nohealth")
            ));
        }
        if rng.chance(30) {
            text = text.replace(
                "[[components]]\nname = \"api\"\n",
                "[[components]]\nname = \"api\"\nenv = { MODE = \"b\" }\n",
            );
        }
        text
    }

    fn containers(&self) -> Vec<String> {
        self.host
            .podman(["ps", "-a", "--format", "{{.Names}}"])
            .stdout
            .lines()
            .map(str::to_string)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// One random operator action; returns what it did, for the log.
    fn act(&mut self, rng: &mut Rng) -> String {
        let host = self.host;
        let k = rng.below(SERVICES);
        let svc = format!("svc{k}");
        match rng.below(11) {
            0 | 1 => {
                host.write_service(&svc, &self.service_text(rng, k));
                format!("write {svc}.toml")
            }
            2 => {
                host.remove_service(&svc);
                format!("remove {svc}.toml")
            }
            3 => {
                self.hand += 1;
                let name = match rng.below(3) {
                    0 => format!("hand{}", self.hand),
                    1 => format!("{svc}-extra{}", self.hand),
                    _ => format!("loose-x{}", self.hand),
                };
                let out = host.podman(["run", "-d", "--name", &name, &host.image("nohealth")]);
                format!("podman run {name} (exit {})", out.code)
            }
            4 => {
                let names = self.containers();
                if names.is_empty() {
                    return "no container to stop/kill/pause".into();
                }
                let name = names[rng.below(names.len())].clone();
                let verb = ["stop", "kill", "pause"][rng.below(3)];
                let out = match verb {
                    "stop" => host.podman(["stop", "-t", "2", &name]),
                    other => host.podman([other, &name]),
                };
                format!("podman {verb} {name} (exit {})", out.code)
            }
            5 => {
                let out = if rng.chance(50) {
                    host.mcp(["adopt", "--all"])
                } else {
                    let loose: Vec<String> = self
                        .containers()
                        .into_iter()
                        .filter(|n| n.starts_with("loose-"))
                        .collect();
                    match loose.first() {
                        Some(n) => host.mcp(["adopt", n, "--write-spec"]),
                        None => host.mcp(["adopt", "--all"]),
                    }
                };
                format!("{} (exit {})", out.cmd_tail(), out.code)
            }
            6 => {
                let out = if rng.chance(30) {
                    host.mcp(["deploy", "--all"])
                } else {
                    host.mcp(["deploy", &svc])
                };
                format!("{} (exit {})", out.cmd_tail(), out.code)
            }
            7 => {
                let verb = ["stop", "start", "restart"][rng.below(3)];
                let out = host.mcp([verb, &svc]);
                format!("mcp {verb} {svc} (exit {})", out.code)
            }
            8 => {
                let mut cmd = host.mcp_command();
                cmd.arg("sync")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
                let mut child = cmd.spawn().expect("mcp starts");
                let delay = Duration::from_millis(rng.next() % 2500);
                std::thread::sleep(delay);
                let _ = child.kill();
                let _ = child.wait();
                format!("kill -9 a sync after {delay:?}")
            }
            9 => {
                // Another version of a service that may already run.
                host.write_service(&svc, &self.service_text(rng, k));
                format!("edit {svc}.toml")
            }
            _ => {
                let out = host.mcp(["sync", "--prune"]);
                format!("mcp sync --prune (exit {})", out.code)
            }
        }
    }
}

trait Tail {
    fn cmd_tail(&self) -> String;
}

impl Tail for crate::support::Output {
    /// The mcp arguments after the isolation flags, for the log.
    fn cmd_tail(&self) -> String {
        let words: Vec<&str> = self.cmd.split(' ').collect();
        let start = words
            .iter()
            .position(|w| w.starts_with("--state-dir"))
            .map_or(0, |i| i + 2);
        format!("mcp {}", words[start.min(words.len())..].join(" "))
    }
}

/// Runs one sequence on a fresh host; `Err` describes how the fixed point
/// broke, with the actions that led there.
fn sequence(seed: u64, steps: u64) -> Result<(), String> {
    let mut rng = Rng(seed | 1);
    let host = Host::new();
    let ports = (0..SERVICES).map(|_| host.free_port()).collect();
    let mut world = World {
        host: &host,
        ports,
        hand: 0,
        log: Vec::new(),
    };
    // A start from something running: one or two services.
    for k in 0..1 + rng.below(2) {
        let text = world.service_text(&mut rng, k);
        host.write_service(&format!("svc{k}"), &text);
    }
    let first = host.mcp(["sync"]);
    world
        .log
        .push(format!("initial sync (exit {})", first.code));
    for _ in 0..steps {
        let what = world.act(&mut rng);
        let sync = host.mcp(["sync"]);
        world.log.push(format!("{what}; sync (exit {})", sync.code));
        if sync.code != 0 {
            world
                .log
                .push(format!("  sync said: {}", sync.stderr.trim()));
        }
    }
    if std::env::var_os("MCP_FIXPOINT_TRACE").is_some() {
        eprintln!("seed {seed}:\n  {}", world.log.join("\n  "));
    }
    let fail = |why: String| {
        Err(format!(
            "seed {seed}: {why}\nactions:\n  {}\nstatus:\n{}",
            world.log.join("\n  "),
            host.mcp(["status"]).stdout
        ))
    };
    let quiet = host.mcp(["-q", "sync"]);
    if quiet.code != 0 || !quiet.stdout.is_empty() || !quiet.stderr.is_empty() {
        return fail(format!("the second sync is not a quiet no-op:\n{quiet}"));
    }
    let dry = host.mcp(["sync", "--dry-run"]);
    if dry.code != 0 {
        return fail(format!("sync --dry-run after converging:\n{dry}"));
    }
    let check = host.mcp(["--json", "status", "--check"]);
    if check.code != 0 {
        let status: serde_json::Value = serde_json::from_str(&check.stdout).unwrap_or_default();
        // Real drift that sync leaves alone by design: a paused container
        // (sync does not unpause), and anything of a kept orphan (its file
        // is gone; without --prune it is kept exactly as it is, so a
        // container of it that was killed stays down and status says so).
        let declared = |service: &str| host.services_dir().join(format!("{service}.toml")).exists();
        let unreal: Vec<String> = status["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                !(c["desired"] == "running" || c["desired"] == "stopped")
                    || declared(c["service"].as_str().unwrap_or_default())
            })
            .flat_map(|c| {
                c["drift"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|d| {
                        let d = d.as_str().unwrap_or_default();
                        d != "paused" && !d.starts_with("service file is gone")
                    })
                    .map(move |d| format!("{}/{}: {d}", c["service"], c["component"]))
            })
            .collect();
        if check.code != 3 || !unreal.is_empty() {
            return fail(format!(
                "status --check names drift that sync should have fixed: {unreal:?}\n{check}"
            ));
        }
    }
    Ok(())
}

/// Runs this shard's sequences and fails with every broken one.
fn shard(index: u64) {
    let sequences = env_number("MCP_FIXPOINT_SEQUENCES", 6);
    let steps = env_number("MCP_FIXPOINT_STEPS", 3);
    let base = env_number(
        "MCP_FIXPOINT_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    let mut failures = Vec::new();
    for n in 0..sequences {
        // Each sequence has a seed of its own, so one failure replays alone
        // (MCP_FIXPOINT_SEED=<seed> MCP_FIXPOINT_SEQUENCES=1).
        let seed = if sequences == 1 {
            base
        } else {
            base.wrapping_add(index * 1_000_003 + n * 7919)
        };
        if let Err(e) = sequence(seed, steps) {
            eprintln!("FAILED {e}");
            failures.push(e);
        }
    }
    eprintln!(
        "fixed point property, shard {index}: {sequences} sequences of {steps} steps, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {sequences} sequences broke the fixed point:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn fixed_point_property_shard_0() {
    shard(0);
}

#[test]
fn fixed_point_property_shard_1() {
    shard(1);
}

#[test]
fn fixed_point_property_shard_2() {
    shard(2);
}

#[test]
fn fixed_point_property_shard_3() {
    shard(3);
}

//! Health gates: a new instance must prove itself before the old one goes.

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::probe;
use crate::runtime::{Runtime, State};
use crate::spec::{ComponentSpec, HealthCheck, HealthProbe};

/// Without a health check, an instance must still be running after this.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Waits until the instance passes its health check (or, without one, is
/// still running after `settle`, normally [`SETTLE`]). Fails early if it exits.
pub fn wait_healthy(
    runtime: &dyn Runtime,
    name: &str,
    spec: &ComponentSpec,
    settle: Duration,
) -> anyhow::Result<()> {
    let Some(check) = &spec.health else {
        sleep(settle);
        return expect_running(runtime, name);
    };
    let deadline = Instant::now() + check.timeout;
    let mut last_state_check = Instant::now();
    loop {
        let attempt = probe_once(runtime, name, spec, check, deadline);
        if attempt.healthy {
            return Ok(());
        }
        if last_state_check.elapsed() >= Duration::from_secs(1) {
            expect_running(runtime, name)?;
            last_state_check = Instant::now();
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "health check failed: {} within {}s",
                attempt.detail,
                check.timeout.as_secs()
            );
        }
        sleep(
            check
                .interval()
                .min(deadline.saturating_duration_since(Instant::now())),
        );
    }
}

/// One attempt of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub healthy: bool,
    /// What was seen, for messages: `exit 2: no response`, `tcp port 80 ...`.
    pub detail: String,
}

/// Longest a single health `cmd` may run, so one hung attempt cannot use up
/// the whole gate when later ones could pass.
const MAX_CMD_ATTEMPT: Duration = Duration::from_secs(30);

/// Runs the check once against instance `name`, giving up by `deadline`.
pub fn probe_once(
    runtime: &dyn Runtime,
    name: &str,
    spec: &ComponentSpec,
    check: &HealthCheck,
    deadline: Instant,
) -> Attempt {
    match &check.probe {
        HealthProbe::Tcp(port) => {
            let healthy = probe::tcp_ok(runtime, name, spec, &probe::probe_addr(spec, *port));
            Attempt {
                healthy,
                detail: if healthy {
                    format!("tcp port {port} accepted a connection")
                } else {
                    format!("tcp port {port} did not accept connections")
                },
            }
        }
        HealthProbe::Http(url) => {
            let healthy = probe::http_ok(runtime, name, spec, url);
            Attempt {
                healthy,
                detail: if healthy {
                    format!("{url} answered")
                } else {
                    format!("{url} did not answer with a 2xx or 3xx status")
                },
            }
        }
        HealthProbe::Cmd(argv) => {
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_secs(1), MAX_CMD_ATTEMPT);
            let shown = argv.join(" ");
            match runtime.exec(name, argv, budget) {
                Ok(r) if r.passed() => Attempt {
                    healthy: true,
                    detail: format!("`{shown}` exited 0"),
                },
                Ok(r) => {
                    let code = r
                        .code
                        .map_or("was killed".to_string(), |c| format!("exited {c}"));
                    let said = if r.output.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.output)
                    };
                    Attempt {
                        healthy: false,
                        detail: format!("`{shown}` {code}{said}"),
                    }
                }
                Err(e) => Attempt {
                    healthy: false,
                    detail: format!("`{shown}` could not run: {e:#}"),
                },
            }
        }
    }
}

fn expect_running(runtime: &dyn Runtime, name: &str) -> anyhow::Result<()> {
    match runtime.state(name)? {
        Some(State::Running) => Ok(()),
        Some(state) => anyhow::bail!("{name} is {} instead of running", state.describe()),
        None => anyhow::bail!("{name} disappeared"),
    }
}

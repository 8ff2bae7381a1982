//! `mcp status --health`: each component's health check, run once now.
//! podman's own healthchecks need systemd, so mcp runs the probe itself,
//! exactly as the deploy gate does (one attempt instead of a wait).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::status::ComponentStatus;
use crate::reconcile::health::probe_once;
use crate::runtime::Runtime;
use crate::spec::{ServiceSpec, instance_name};

/// One attempt may take at most this long, however long the gate's timeout.
const ONE_CHECK: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Healthy,
    Unhealthy,
    /// The service file declares no check.
    NoCheck,
    /// Not running, so there is nothing to probe.
    NotRunning,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub result: Verdict,
    /// What the probe saw (`` `pg_isready` exited 2: no response ``).
    pub detail: String,
}

impl HealthReport {
    /// The cell of the HEALTH column.
    pub fn cell(&self) -> String {
        match self.result {
            Verdict::Healthy => "healthy".into(),
            Verdict::Unhealthy => format!("unhealthy: {}", self.detail),
            Verdict::NoCheck => "-".into(),
            Verdict::NotRunning => "not running".into(),
        }
    }
}

/// Fills `health` of every declared component of `status` by probing it
/// once; components in no service file (untracked, removed) are left out.
pub fn check_all(runtime: &dyn Runtime, specs: &[ServiceSpec], status: &mut [ComponentStatus]) {
    for row in status.iter_mut() {
        let Some(spec) = specs
            .iter()
            .find(|s| s.name == row.service)
            .and_then(|s| s.component(&row.component))
        else {
            continue;
        };
        row.health = Some(match &spec.health {
            None => HealthReport {
                result: Verdict::NoCheck,
                detail: "no [components.health] in the service file".into(),
            },
            Some(_) if row.observed != "running" => HealthReport {
                result: Verdict::NotRunning,
                detail: format!(
                    "{} is {}",
                    instance_name(&row.service, &row.component),
                    row.observed
                ),
            },
            Some(check) => {
                let deadline = Instant::now() + check.timeout.min(ONE_CHECK);
                let name = instance_name(&row.service, &row.component);
                let attempt = probe_once(runtime, &name, spec, check, deadline);
                HealthReport {
                    result: if attempt.healthy {
                        Verdict::Healthy
                    } else {
                        Verdict::Unhealthy
                    },
                    detail: attempt.detail,
                }
            }
        });
    }
}

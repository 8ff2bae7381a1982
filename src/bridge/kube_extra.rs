//! The parts of `export kube` that read the lifecycle keys (`stop_timeout`,
//! `stop_signal`, `health.cmd`, `health.interval`).

use std::time::Duration;

use super::kube_yaml::{Y, map, s};
use crate::spec::{ComponentSpec, DEFAULT_STOP_TIMEOUT, HealthCheck, HealthProbe, ServiceSpec};

/// Stop timeouts that differ from the default (Kubernetes' own default grace is 30s,
/// podman's 10s: an unset one is left to the platform).
pub(super) fn stop_timeouts(containers: &[&ComponentSpec]) -> Vec<Duration> {
    containers
        .iter()
        .map(|c| c.stop_timeout)
        .filter(|t| *t != DEFAULT_STOP_TIMEOUT)
        .collect()
}

/// Kubernetes probes in whole seconds, at least 1.
pub(super) fn interval_secs(h: &HealthCheck) -> i64 {
    h.interval().as_secs().max(1) as i64
}

pub(super) fn exec_probe(probe: &HealthProbe) -> Option<Y> {
    match probe {
        HealthProbe::Cmd(argv) => Some(map([(
            "exec",
            map([("command", Y::List(argv.iter().map(s).collect()))]),
        )])),
        HealthProbe::Tcp(_) | HealthProbe::Http(_) => None,
    }
}

/// Kubernetes has no per-container stop signal (only the image's STOPSIGNAL counts).
pub(super) fn stop_signal_note(spec: &ServiceSpec, c: &ComponentSpec, notes: &mut Vec<String>) {
    if let Some(sig) = &c.stop_signal {
        notes.push(format!(
            "{}/{}: stop_signal {sig} is not exported: Kubernetes sends the image's STOPSIGNAL (else SIGTERM)",
            spec.name, c.name
        ));
    }
}

//! The parts of `export kube` that read the health issue's spec keys (`stop_timeout`,
//! `stop_signal`, `health.cmd`, `health.interval`), kept apart so they follow that model.

use std::time::Duration;

use super::kube_yaml::Y;
use crate::spec::{ComponentSpec, HealthCheck, HealthProbe, ServiceSpec};

pub(super) fn stop_timeouts(_containers: &[&ComponentSpec]) -> Vec<Duration> {
    Vec::new()
}

pub(super) fn interval_secs(_h: &HealthCheck) -> i64 {
    1
}

pub(super) fn other_probe(_probe: &HealthProbe) -> Option<Y> {
    None
}

pub(super) fn stop_signal_note(_spec: &ServiceSpec, _c: &ComponentSpec, _notes: &mut Vec<String>) {}

//! The validated, defaults-filled model of a service definition.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(skip)]
    pub file: PathBuf,
    pub active: bool,
    pub comment: String,
    pub components: Vec<ComponentSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentSpec {
    pub name: String,
    pub image: String,
    pub runtime: RuntimeKind,
    pub network: Option<String>,
    pub user: Option<String>,
    pub restart: RestartPolicy,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub memory_mb: Option<u32>,
    pub vcpus: Option<u32>,
    pub health: Option<HealthCheck>,
    pub routes: Vec<Route>,
    /// What must run (and be healthy) before this component starts, and be
    /// stopped after it.
    pub requires: Vec<Requirement>,
    /// How a replacement happens; the default is already resolved here.
    pub rollout: Rollout,
    /// Normalized `SIG...` name; `None` keeps the image's STOPSIGNAL (else SIGTERM).
    pub stop_signal: Option<String>,
    /// Grace before SIGKILL for a container; for a VM, the wait after the
    /// ACPI powerdown.
    #[serde(serialize_with = "serialize_secs")]
    pub stop_timeout: Duration,
}

/// Podman's own default grace before SIGKILL, which mcp keeps.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One entry of `requires`: a whole service or one of its components.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Requirement {
    pub service: String,
    pub component: Option<String>,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.component {
            Some(c) => write!(f, "{}/{c}", self.service),
            None => write!(f, "{}", self.service),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rollout {
    /// The new instance runs beside the old one and passes its gate first.
    #[serde(rename = "start-first")]
    StartFirst,
    /// The old instance stops before the new one starts (one data directory).
    #[serde(rename = "stop-first")]
    StopFirst,
}

impl Rollout {
    pub const NAMES: [&'static str; 2] = ["start-first", "stop-first"];

    pub fn as_str(self) -> &'static str {
        match self {
            Rollout::StartFirst => "start-first",
            Rollout::StopFirst => "stop-first",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "start-first" => Some(Rollout::StartFirst),
            "stop-first" => Some(Rollout::StopFirst),
            _ => None,
        }
    }

    /// Two instances on one writable volume would be wrong, so a component
    /// with a read-write mount is stopped first unless it says otherwise.
    pub fn default_for(volumes: &[VolumeSpec]) -> Self {
        if volumes.iter().any(|v| !v.read_only()) {
            Rollout::StopFirst
        } else {
            Rollout::StartFirst
        }
    }
}

pub use crate::model::{RouteMode, RuntimeKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RestartPolicy {
    #[serde(rename = "no")]
    No,
    #[serde(rename = "on-failure")]
    OnFailure,
    #[serde(rename = "always")]
    Always,
    #[serde(rename = "unless-stopped")]
    UnlessStopped,
}

impl RestartPolicy {
    pub const NAMES: [&'static str; 4] = ["no", "on-failure", "always", "unless-stopped"];

    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "no" => Some(RestartPolicy::No),
            "on-failure" => Some(RestartPolicy::OnFailure),
            "always" => Some(RestartPolicy::Always),
            "unless-stopped" => Some(RestartPolicy::UnlessStopped),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A published port in podman's `-p` syntax: `[[ip:]host:]container[/proto]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortSpec {
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = &self.host_ip {
            if ip.contains(':') {
                write!(f, "[{ip}]:")?;
            } else {
                write!(f, "{ip}:")?;
            }
        }
        write!(f, "{}:{}", self.host_port, self.container_port)?;
        if self.protocol == Protocol::Udp {
            write!(f, "/udp")?;
        }
        Ok(())
    }
}

/// A bind mount in podman's `-v` syntax: `/host:/container[:options]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeSpec {
    pub source: String,
    pub target: String,
    pub options: Option<String>,
}

impl VolumeSpec {
    pub fn read_only(&self) -> bool {
        self.options
            .as_deref()
            .is_some_and(|o| o.split(',').any(|opt| opt == "ro"))
    }
}

impl fmt::Display for VolumeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.target)?;
        if let Some(o) = &self.options {
            write!(f, ":{o}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthProbe {
    Tcp(u16),
    Http(String),
    /// An argv run inside the container (`podman exec`); healthy on exit 0.
    Cmd(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub probe: HealthProbe,
    #[serde(
        serialize_with = "serialize_secs",
        deserialize_with = "deserialize_secs"
    )]
    pub timeout: Duration,
    /// Pause between attempts as written; `None` takes the probe's default
    /// (see [`HealthCheck::interval`]). Left out of the JSON when unset so the
    /// registry's stored check of older specs reads as unchanged.
    #[serde(
        serialize_with = "serialize_opt_millis",
        deserialize_with = "deserialize_opt_millis",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub interval: Option<Duration>,
}

/// Between attempts of a health `cmd` (each one a `podman exec`).
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// Between attempts of a tcp or http probe: one connection costs nothing,
/// and a short pause lets a gate pass soon after the instance is ready.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(250);

impl HealthCheck {
    /// The pause between attempts, with the default of its probe filled in.
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or(match self.probe {
            HealthProbe::Cmd(_) => DEFAULT_HEALTH_INTERVAL,
            HealthProbe::Tcp(_) | HealthProbe::Http(_) => DEFAULT_PROBE_INTERVAL,
        })
    }
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn deserialize_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

fn serialize_opt_millis<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

fn deserialize_opt_millis<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub name: String,
    pub port: u16,
    pub mode: RouteMode,
    pub hostname: Option<String>,
}

impl ServiceSpec {
    pub fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// The stop grace of a component as its file says; podman's default when no
/// file names it (a hands-on stop must not depend on a valid file).
pub fn stop_timeout_of(specs: &[ServiceSpec], service: &str, component: &str) -> Duration {
    specs
        .iter()
        .find(|s| s.name == service)
        .and_then(|s| s.component(component))
        .map_or(DEFAULT_STOP_TIMEOUT, |c| c.stop_timeout)
}

pub use crate::model::instance_name;

//! The shared vocabulary of mcp: what the planner, the runtimes, the config
//! and the registry all speak of. It imports none of them, so a runtime
//! needs neither the command line nor the config file to be understood.

mod image;

pub use image::{ImageRef, split_tag};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Labels mcp puts on what it creates.
pub const LABEL_SERVICE: &str = "mcp.service";
pub const LABEL_COMPONENT: &str = "mcp.component";
pub const LABEL_SPEC_HASH: &str = "mcp.spec-hash";
pub const LABEL_HASH_VERSION: &str = "mcp.hash-version";
pub const LABEL_IMAGE: &str = "mcp.image";

/// Suffixes of the temporary names used while a component is replaced: the
/// new instance is created as `<name>.next`, the old one kept as `<name>.prev`
/// until the new one is healthy. Component names have no dots, so these
/// never collide with a real instance.
pub const NEXT_SUFFIX: &str = ".next";
pub const PREV_SUFFIX: &str = ".prev";

/// The container or VM name of a component.
pub fn instance_name(service: &str, component: &str) -> String {
    format!("{service}-{component}")
}

/// What the registry wants of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    Running,
    Stopped,
    /// Adopted and unmanaged: shown, never started, stopped or removed.
    Ignore,
}

impl DesiredState {
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Running => "running",
            DesiredState::Stopped => "stopped",
            DesiredState::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(DesiredState::Running),
            "stopped" => Some(DesiredState::Stopped),
            "ignore" => Some(DesiredState::Ignore),
            _ => None,
        }
    }

    pub fn from_active(active: bool) -> Self {
        if active {
            DesiredState::Running
        } else {
            DesiredState::Stopped
        }
    }
}

/// How long an instance must have been up for its engine's restarts to be
/// history rather than a crash loop.
pub const STABLE_AFTER_SECS: i64 = 60;

/// The run state of an instance as its runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "exit_code")]
pub enum State {
    Running,
    Exited(i32),
    Created,
    Paused,
    Other(String),
}

impl State {
    pub fn describe(&self) -> String {
        match self {
            State::Running => "running".into(),
            State::Exited(code) => format!("exited ({code})"),
            State::Created => "created".into(),
            State::Paused => "paused".into(),
            State::Other(s) => s.clone(),
        }
    }
}

/// One container or VM as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    pub name: String,
    pub runtime: RuntimeKind,
    pub image: String,
    pub image_id: String,
    pub state: State,
    /// Unix time the instance last started, when known.
    pub started_at: Option<i64>,
    pub labels: BTreeMap<String, String>,
}

impl Instance {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// (service, component) from mcp's labels, if mcp created it.
    pub fn managed_identity(&self) -> Option<(&str, &str)> {
        Some((self.label(LABEL_SERVICE)?, self.label(LABEL_COMPONENT)?))
    }

    /// The image the instance was created from, as the spec named it.
    pub fn spec_image(&self) -> &str {
        self.label(LABEL_IMAGE).unwrap_or(&self.image)
    }
}

/// Which runtime a component runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Container,
    Unikernel,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Container => "container",
            RuntimeKind::Unikernel => "unikernel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "container" => Some(RuntimeKind::Container),
            "unikernel" => Some(RuntimeKind::Unikernel),
            _ => None,
        }
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a front proxy forwards a route: plain TCP (`l4`) or HTTP (`l7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    L4,
    L7,
}

impl RouteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteMode::L4 => "l4",
            RouteMode::L7 => "l7",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "l4" => Some(RouteMode::L4),
            "l7" => Some(RouteMode::L7),
            _ => None,
        }
    }
}

/// What the registry last saw of a component it acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedState {
    Running,
    Exited,
}

impl ObservedState {
    pub fn as_str(self) -> &'static str {
        match self {
            ObservedState::Running => "running",
            ObservedState::Exited => "exited",
        }
    }
}

/// When to pull an image before a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
}

/// Limits on how long one podman call may take; past them the call is
/// killed and the error names it, so a hung podman never hangs cron.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Every call that does not pull.
    pub call: Duration,
    /// Pulls, and creations (which may pull first).
    pub pull: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            call: Duration::from_secs(120),
            pull: Duration::from_secs(900),
        }
    }
}

/// Which accelerator a VM should run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    #[default]
    Auto,
    Kvm,
    Tcg,
}

/// The accelerator a VM actually boots under, once `auto` is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedAccel {
    Kvm,
    Tcg,
}

impl ResolvedAccel {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedAccel::Kvm => "kvm",
            ResolvedAccel::Tcg => "tcg",
        }
    }
}

impl std::fmt::Display for ResolvedAccel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the unikernel runtime is configured with (`[unikernel]`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSettings {
    pub ops: Option<PathBuf>,
    pub qemu: Option<PathBuf>,
    #[serde(default)]
    pub accel: Accel,
    pub cpu: Option<String>,
}

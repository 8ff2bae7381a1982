//! Runtimes: one trait, and what the runtime shows of an instance.

pub mod children;
pub mod dispatch;
pub mod exec;
pub mod logjson;
pub mod ops;
pub mod podman;
pub mod qemu;
pub mod qemu_argv;
pub mod qmp;
pub mod vmbuild;
pub mod vmlogs;
pub mod vmstate;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cli::PullPolicy;
use crate::spec::ComponentSpec;

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
    pub runtime: &'static str,
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

/// What a runtime needs to create an instance.
#[derive(Debug, Clone)]
pub struct CreateRequest<'a> {
    pub name: &'a str,
    pub service: &'a str,
    pub spec: &'a ComponentSpec,
    pub spec_hash: &'a str,
}

impl CreateRequest<'_> {
    /// The labels every runtime puts on what it creates, so that the planner
    /// and `status` read containers and VMs alike.
    pub fn labels(&self) -> BTreeMap<String, String> {
        [
            (LABEL_SERVICE, self.service.to_string()),
            (LABEL_COMPONENT, self.spec.name.clone()),
            (LABEL_SPEC_HASH, self.spec_hash.to_string()),
            (
                LABEL_HASH_VERSION,
                crate::spec::hash::HASH_VERSION.to_string(),
            ),
            (LABEL_IMAGE, self.spec.image.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<u64>,
    pub since: Option<String>,
    /// Print JSON lines ([`logjson`]) naming this component instead of the
    /// raw log.
    pub json_component: Option<String>,
}

/// Everything mcp asks of a runtime. Implementations run every external
/// command through [`exec::Tool`].
pub trait Runtime: Sync {
    /// Every instance, from one listing call.
    fn list(&self) -> anyhow::Result<Vec<Instance>>;
    /// Whether an instance of this name belongs to this runtime.
    fn owns(&self, name: &str) -> bool;
    /// Checks, before anything is stopped, that `req` can be created here
    /// (tools present); the error names the tool and the component.
    fn preflight(&self, _req: &CreateRequest<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    /// Pulls according to `policy`; returns the local image id when known.
    fn pull(&self, image: &str, policy: PullPolicy) -> anyhow::Result<Option<String>>;
    /// Makes sure a network exists, creating it if needed.
    fn ensure_network(&self, network: &str) -> anyhow::Result<()>;
    /// Creates an instance without starting it.
    fn create(&self, req: &CreateRequest<'_>) -> anyhow::Result<()>;
    /// Creates and starts an instance.
    fn run(&self, req: &CreateRequest<'_>) -> anyhow::Result<()>;
    fn start(&self, name: &str) -> anyhow::Result<()>;
    fn stop(&self, name: &str, timeout: Duration) -> anyhow::Result<()>;
    fn remove(&self, name: &str) -> anyhow::Result<()>;
    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()>;
    /// The current state of one instance (used by health gates).
    fn state(&self, name: &str) -> anyhow::Result<Option<State>>;
    /// Streams logs to stdout; returns the tool's exit code.
    fn logs(&self, name: &str, opts: &LogOptions) -> anyhow::Result<i32>;
}

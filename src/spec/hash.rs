//! The canonical form of what a runtime sees of a component, and its hash.
//! Comment, routes, health gates, `requires` and `rollout` are left out on
//! purpose: changing them must never recreate anything. `stop_signal` and
//! `stop_timeout` are in for containers, because podman fixes them when the
//! container is created; a VM's stop timeout is only mcp's own wait. The image is compared on its own so the
//! cause can say `image v1 -> v2`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{ComponentSpec, DEFAULT_STOP_TIMEOUT, RuntimeKind};

/// Bumped only when the canonical form changes meaning; recorded beside the
/// hash so an upgrade of mcp alone never looks like a spec change.
pub const HASH_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSpec {
    pub runtime: RuntimeKind,
    pub network: Option<String>,
    pub user: Option<String>,
    pub restart: String,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub memory_mb: Option<u32>,
    pub vcpus: Option<u32>,
    /// Absent unless set, so specs written before these keys existed keep
    /// their hash (and nothing is recreated by an upgrade of mcp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds, absent at podman's default of 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
}

impl RuntimeSpec {
    pub fn of(c: &ComponentSpec) -> Self {
        RuntimeSpec {
            runtime: c.runtime,
            network: c.network.clone(),
            user: c.user.clone(),
            restart: c.restart.as_str().to_string(),
            ports: c.ports.iter().map(ToString::to_string).collect(),
            volumes: c.volumes.iter().map(ToString::to_string).collect(),
            cmd: c.cmd.clone(),
            env: c.env.clone(),
            memory_mb: c.memory_mb,
            vcpus: c.vcpus,
            stop_signal: c.stop_signal.clone(),
            stop_timeout: (c.runtime == RuntimeKind::Container
                && c.stop_timeout != DEFAULT_STOP_TIMEOUT)
                .then_some(c.stop_timeout.as_secs()),
        }
    }

    /// Canonical JSON: struct fields in declaration order, maps sorted.
    pub fn canonical_json(&self) -> String {
        // Invariant: serializing plain strings, numbers and sorted maps cannot fail.
        serde_json::to_string(self).expect("RuntimeSpec serializes")
    }

    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.canonical_json().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

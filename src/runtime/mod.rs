//! Runtimes: one trait, and what the runtime shows of an instance.

pub mod children;
pub mod describe;
pub mod digests;
pub mod dispatch;
pub mod evidence;
pub mod exec;
#[cfg(test)]
pub mod fake;
pub mod hostfwd;
pub mod logjson;
pub mod ops;
pub mod podman;
pub mod podman_cli;
pub mod podman_env;
mod podman_states;
pub mod qemu;
pub mod qemu_argv;
pub mod qmp;
pub mod usernet;
pub mod vmbuild;
pub mod vmlogs;
pub mod vmstate;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::model::PullPolicy;
use crate::spec::ComponentSpec;

pub use crate::model::{
    Instance, LABEL_COMPONENT, LABEL_HASH_VERSION, LABEL_IMAGE, LABEL_SERVICE, LABEL_SPEC_HASH,
    NEXT_SUFFIX, PREV_SUFFIX, State,
};

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

/// What one run of a command inside an instance gave (a health `cmd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecResult {
    /// `None` when the command was ended by a signal.
    pub code: Option<i32>,
    /// The last non-empty line it printed (stdout, else stderr), shortened.
    pub output: String,
}

impl ExecResult {
    pub fn passed(&self) -> bool {
        self.code == Some(0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<u64>,
    /// Unix seconds (see [`crate::since`]).
    pub since: Option<i64>,
    /// Print JSON lines ([`logjson`]) naming this component instead of the
    /// raw log.
    pub json_component: Option<String>,
}

/// Everything mcp asks of a runtime. Implementations run every external
/// command through [`exec::Tool`].
pub trait Runtime: Sync {
    /// Every instance, from one listing call.
    fn list(&self) -> anyhow::Result<Vec<Instance>>;
    /// Checks, before anything is stopped, that `req` can be created here
    /// (tools present); the error names the tool and the component.
    fn preflight(&self, _req: &CreateRequest<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    /// Pulls according to `policy`; returns the local image id when known.
    /// Images are podman's for every runtime, so only the container runtime
    /// (which [`dispatch::Dispatch`] asks) pulls.
    fn pull(&self, image: &str, _policy: PullPolicy) -> anyhow::Result<Option<String>> {
        anyhow::bail!("internal: {image} must be pulled through the container runtime")
    }
    /// Makes sure a network exists, creating it if needed; runtimes without
    /// networks (VMs use user-mode networking) have nothing to do.
    fn ensure_network(&self, _network: &str) -> anyhow::Result<()> {
        Ok(())
    }
    /// The manifest digests (`sha256:...`) of local images (by reference or
    /// id), the runtime's main one first, recorded at deploy so `mcp update`
    /// can tell when a tag moves. Images it cannot tell about are left out.
    fn image_digests(&self, _images: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        Ok(BTreeMap::new())
    }
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
    /// Moves the published ports from running `from` to running `to` without
    /// restarting either: `from` lets go of its ports, `to` gives up its own
    /// and takes `ports` (podman syntax). The switch of a start-first rollout
    /// then costs no restart. `Ok(false)`: this runtime cannot (podman 4.3
    /// cannot change a container's ports), and nothing was changed.
    fn take_over_ports(&self, _from: &str, _to: &str, _ports: &[String]) -> anyhow::Result<bool> {
        Ok(false)
    }
    /// The `[[components]]` table, named `component`, that would create
    /// this instance again (for `adopt --write-spec`).
    fn describe(&self, name: &str, _component: &str) -> anyhow::Result<describe::Description> {
        anyhow::bail!("{name} cannot be described as a component by this runtime")
    }
    /// Resumes a paused instance.
    fn resume(&self, name: &str) -> anyhow::Result<()> {
        anyhow::bail!("{name} is paused and this runtime cannot resume it; stop it by hand")
    }
    /// Takes an instance out of service for good, whatever its state and
    /// restart policy: afterwards nothing revives it until it is started
    /// again. The default suits runtimes without restart policies.
    fn retire(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        match self.state(name)? {
            Some(State::Running) => self.stop(name, timeout),
            _ => Ok(()),
        }
    }
    /// How often the engine has restarted each of `names` (those it knows;
    /// runtimes without restart policies know none).
    fn restart_counts(&self, _names: &[String]) -> anyhow::Result<BTreeMap<String, u64>> {
        Ok(BTreeMap::new())
    }
    /// Whether `name` is running only because its engine keeps reviving it:
    /// restarted by its restart policy and up for less than
    /// [`crate::model::STABLE_AFTER_SECS`] (runtimes without restart
    /// policies never are).
    fn crash_looping(&self, _name: &str) -> anyhow::Result<bool> {
        Ok(false)
    }
    /// Why an instance failed, read before it is removed (best effort).
    fn evidence(&self, _name: &str) -> Option<evidence::Evidence> {
        None
    }
    /// Streams logs to `out`; returns the tool's exit code.
    fn logs(
        &self,
        name: &str,
        opts: &LogOptions,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<i32>;
    /// Runs `argv` inside a running instance within `timeout`. Only a failure
    /// to run it at all is an error; a non-zero exit is a result.
    fn exec(&self, name: &str, _argv: &[String], _timeout: Duration) -> anyhow::Result<ExecResult> {
        anyhow::bail!("cannot run a command inside {name}: its runtime has no exec")
    }
    /// The connections forwarded into the instance by a user-mode network
    /// whose host side accepts before the instance does (qemu's slirp), so
    /// that a gate can tell whether the instance itself accepted. `None` for
    /// runtimes whose published ports only accept once the instance does.
    fn forwarded(&self, _name: &str) -> anyhow::Result<Option<Vec<usernet::Forwarded>>> {
        Ok(None)
    }
}

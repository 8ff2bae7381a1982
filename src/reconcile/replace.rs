//! Replacing a component's instance without losing it.

use std::time::{Duration, Instant};

use super::apply::stop_grace;
use super::health::wait_healthy;
use super::plan::Desired;
use crate::runtime::{Runtime, State};

/// How far a replacement got (stop-first here, the start-first switch in
/// `rollout.rs`); a rollback undoes exactly these steps.
#[derive(Debug, Default)]
pub(super) struct Swap {
    pub(super) old_stopped: bool,
    pub(super) old_aside: bool,
    pub(super) new_in_place: bool,
}

impl Swap {
    /// The failed new instance's evidence (exit code, last log lines), read
    /// before the rollback removes it, added to `why`.
    pub(super) fn with_evidence(
        &self,
        runtime: &dyn Runtime,
        why: anyhow::Error,
        name: &str,
        next: &str,
    ) -> anyhow::Error {
        let failed = if self.new_in_place { name } else { next };
        match runtime.evidence(failed) {
            Some(evidence) => why.context(evidence),
            None => why,
        }
    }

    /// Removes the failed new instance and puts the old one back as it was.
    pub(super) fn undo(
        &self,
        runtime: &dyn Runtime,
        name: &str,
        next: &str,
        prev: &str,
    ) -> anyhow::Result<()> {
        runtime.remove(if self.new_in_place { name } else { next })?;
        if self.old_aside {
            runtime.rename(prev, name)?;
        }
        if self.old_stopped {
            start_on_released_ports(runtime, name)?;
        }
        Ok(())
    }
}

/// How long a start waits for host ports that an instance stopped a moment
/// ago still holds. Seen under load replacing a crash-looping container: the old
/// one was reported `exited` and the new one's start still found the port
/// taken. The likely holder is the old conmon, which keeps the reserved host
/// ports until it exits, a little after podman reports the exit (not proven:
/// it takes a loaded host to see it).
const PORT_RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Whether `err` says a host port was taken.
pub(super) fn port_taken(err: &anyhow::Error) -> bool {
    format!("{err:#}").contains("address already in use")
}

/// Starts `name` on ports that another instance has just given up, waiting
/// up to [`PORT_RELEASE_WAIT`] for them to be free; a port held for longer
/// (by something else) fails as before.
pub(super) fn start_on_released_ports(runtime: &dyn Runtime, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + PORT_RELEASE_WAIT;
    loop {
        match runtime.start(name) {
            Err(e) if port_taken(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// Replaces a component's instance without losing it: create the new one
/// aside, swap names, start it, gate it, and put the old one back if any
/// step fails. Until the old one is stopped nothing has changed.
pub fn replace(runtime: &dyn Runtime, d: &Desired<'_>, settle: Duration) -> anyhow::Result<()> {
    let (name, next, prev) = d.instance_names();
    let req = d.create_request(&next);
    runtime.preflight(&req)?;
    let old = runtime.state(&name)?;
    let old_running = old == Some(State::Running);
    runtime.remove(&next)?;
    // Creating pulls a missing image; a bad image fails here, old one untouched.
    if let Err(e) = runtime.create(&req) {
        let _ = runtime.remove(&next);
        return Err(e);
    }
    let mut swap = Swap::default();
    let swapped = (|| -> anyhow::Result<()> {
        if old.is_some() {
            // Out of service whatever its state (paused, stopping, between
            // two crashes) and restart policy: a policy must never revive
            // it under its .prev name and take the port back.
            // Marked first: a retire that fails half-way may have stopped
            // it, and starting a running one again is harmless.
            swap.old_stopped = old_running;
            runtime.retire(&name, stop_grace(Some(d)))?;
        }
        if old.is_some() {
            runtime.rename(&name, &prev)?;
            swap.old_aside = true;
        }
        runtime.rename(&next, &name)?;
        swap.new_in_place = true;
        // Without an old instance there are no ports to wait for, and a
        // taken one is somebody else's: fail at once.
        if old.is_some() {
            start_on_released_ports(runtime, &name)?;
        } else {
            runtime.start(&name)?;
        }
        wait_healthy(runtime, &name, d.spec, settle)
    })();
    let Err(why) = swapped else {
        // The next sync removes a .prev left here if this removal fails.
        runtime.remove(&prev)?;
        return Ok(());
    };
    let why = swap.with_evidence(runtime, why, &name, &next);
    if old.is_none() {
        return Err(why.context(format!("the new {name} failed")));
    }
    match swap.undo(runtime, &name, &next, &prev) {
        Ok(()) => Err(why.context(format!(
            "the new {name} failed; the previous version was put back{}",
            if old_running { " and is running" } else { "" }
        ))),
        Err(e) => Err(why.context(format!(
            "the new {name} failed and putting the previous version back failed too ({e:#}); the next sync retries"
        ))),
    }
}

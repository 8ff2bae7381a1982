//! Replacing a component's instance without losing it.

use std::time::Duration;

use super::apply::stop_grace;
use super::health::wait_healthy;
use super::plan::Desired;
use crate::runtime::{CreateRequest, NEXT_SUFFIX, PREV_SUFFIX, Runtime, State};

/// How far a replacement got; a rollback undoes exactly these steps.
#[derive(Debug, Default)]
struct Swap {
    old_stopped: bool,
    old_aside: bool,
    new_in_place: bool,
}

/// Replaces a component's instance without losing it: create the new one
/// aside, swap names, start it, gate it, and put the old one back if any
/// step fails. Until the old one is stopped nothing has changed.
pub fn replace(
    runtime: &dyn Runtime,
    service: &str,
    d: &Desired<'_>,
    settle: Duration,
) -> anyhow::Result<()> {
    let name = d.instance();
    let next = format!("{name}{NEXT_SUFFIX}");
    let prev = format!("{name}{PREV_SUFFIX}");
    let req = CreateRequest {
        name: &next,
        service,
        spec: d.spec,
        spec_hash: &d.spec_hash,
    };
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
        runtime.start(&name)?;
        wait_healthy(runtime, &name, d.spec, settle)
    })();
    let Err(why) = swapped else {
        // The next sync removes a .prev left here if this removal fails.
        runtime.remove(&prev)?;
        return Ok(());
    };
    // Keep the evidence before the rollback removes the failed instance.
    let failed = if swap.new_in_place { &name } else { &next };
    let why = match runtime.evidence(failed) {
        Some(evidence) => why.context(evidence),
        None => why,
    };
    if old.is_none() {
        return Err(why.context(format!("the new {name} failed")));
    }
    let rollback = (|| -> anyhow::Result<()> {
        runtime.remove(if swap.new_in_place { &name } else { &next })?;
        if swap.old_aside {
            runtime.rename(&prev, &name)?;
        }
        if swap.old_stopped {
            runtime.start(&name)?;
        }
        Ok(())
    })();
    match rollback {
        Ok(()) => Err(why.context(format!(
            "the new {name} failed; the previous version was put back{}",
            if old_running { " and is running" } else { "" }
        ))),
        Err(e) => Err(why.context(format!(
            "the new {name} failed and putting the previous version back failed too ({e:#}); the next sync retries"
        ))),
    }
}

//! After a plan ran: record the registry digest of the image each created
//! or replaced component now runs, so `mcp update` can later tell whether
//! its tag has moved. One runtime call for the whole plan, not one per
//! component, to keep a converge as fast as before.

use std::collections::BTreeSet;

use super::apply::Outcome;
use super::plan::{ActionKind, Desired, Plan};
use crate::registry::Registry;
use crate::runtime::Runtime;

pub fn record(
    runtime: &dyn Runtime,
    registry: &Registry,
    plan: &Plan,
    desired: &[Desired<'_>],
    outcomes: &[Outcome],
) -> anyhow::Result<()> {
    let deployed: Vec<(&str, &str, &str)> = plan
        .actions
        .iter()
        .zip(outcomes)
        .filter(|(a, o)| {
            matches!(a.action, ActionKind::Create | ActionKind::Recreate) && **o == Outcome::Ok
        })
        .filter_map(|(a, _)| {
            let d = desired.get(a.desired?)?;
            Some((
                a.service.as_str(),
                a.component.as_str(),
                d.spec.image.as_str(),
            ))
        })
        .collect();
    if deployed.is_empty() {
        return Ok(());
    }
    let images: Vec<String> = deployed
        .iter()
        .map(|(_, _, i)| i.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let digests = runtime.image_digests(&images)?;
    for (service, component, image) in deployed {
        let known = digests.get(image).map_or(&[][..], Vec::as_slice);
        registry.set_image_digests(service, component, known)?;
    }
    Ok(())
}

//! `mcp update`: ask each image's registry what its tag points at now (one
//! manifest request per distinct reference, in parallel, nothing pulled),
//! and roll out only the components whose tag moved since they were
//! deployed, through the same health-gated replacement as `deploy`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Ctx, sync, update_print, world};
use crate::cli::{PullPolicy, UpdateArgs};
use crate::exit;
use crate::progress::Progress;
use crate::reconcile::{self, Executor, Intent, Outcome, PlanInput};
use crate::registry::{ComponentRow, DesiredState, EventOutcome, NewEvent, Registry};
use crate::runtime::digests::{DigestClient, RefKind, ref_kind};
use crate::runtime::exec::Tool;
use crate::runtime::{Instance, Runtime};
use crate::spec::fields::image_version;
use crate::spec::hash::RuntimeSpec;
use crate::spec::{self, ServiceSpec, instance_name};

/// Registry lookups at once when `-j` is not given: they mostly wait on
/// the network, so more than the rollout default pays off.
const DEFAULT_LOOKUPS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The tag still names the deployed image.
    Current,
    /// The tag moved (dry run: not rolled out).
    Moved,
    /// The tag moved and the new image was rolled out.
    Updated,
    /// The registry could not tell, or the rollout failed.
    Failed,
    /// Not checked; `note` says why.
    Skipped,
}

/// One component's result, as printed and as `--json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub service: String,
    pub component: String,
    pub image: String,
    pub status: Status,
    pub deployed_digest: Option<String>,
    pub registry_digest: Option<String>,
    /// Why it was skipped, or what failed.
    pub note: Option<String>,
    /// Every manifest digest of the deployed image: the tag naming any of
    /// them has not moved.
    #[serde(skip)]
    pub known: Vec<String>,
}

impl Check {
    pub fn name(&self) -> String {
        format!("{}/{}", self.service, self.component)
    }
}

/// The components to look at, as (service, component): the named ones,
/// or every component of every active service.
fn selected(targets: &[String], specs: &[ServiceSpec]) -> anyhow::Result<Vec<(String, String)>> {
    let named = world::declared_targets(targets, specs, world::Inactive::Allow)?;
    Ok(named.into_iter().collect())
}

/// Why a component is not checked, if it is not. Only what runs as the
/// service file says is updated: anything else is `sync`'s or `deploy`'s
/// to roll out, and an update must not smuggle in other changes.
fn skip_reason(
    spec: &ServiceSpec,
    image: &str,
    hash: &str,
    row: Option<&ComponentRow>,
    instance: Option<&Instance>,
) -> Option<String> {
    if !spec.active {
        return Some("service is inactive".into());
    }
    match ref_kind(image) {
        RefKind::Pinned => return Some("pinned by digest; never updated".into()),
        RefKind::Local => return Some("local image (localhost/); in no registry".into()),
        RefKind::Tagged => {}
    }
    let Some(row) = row else {
        return Some("not in the registry yet (run mcp sync)".into());
    };
    if row.desired != DesiredState::Running {
        return Some(format!("desired {}", row.desired.as_str()));
    }
    if instance.is_none() {
        return Some("not created yet (mcp sync creates it)".into());
    }
    let deployed_image = row.deployed.as_ref().map(|d| d.image.to_string());
    if deployed_image.as_deref() != Some(image) || row.deployed_hash.as_deref() != Some(hash) {
        return Some(
            "the service file changed since the last deploy; mcp sync rolls it out".into(),
        );
    }
    None
}

/// One [`Check`] per selected component: skipped ones with their reason,
/// the others with every manifest digest known for what they run.
fn collect(
    selected: &[(String, String)],
    specs: &[ServiceSpec],
    rows: &[ComponentRow],
    observed: &[Instance],
    runtime: &dyn Runtime,
) -> anyhow::Result<Vec<Check>> {
    let row_of: BTreeMap<(&str, &str), &ComponentRow> = rows
        .iter()
        .map(|r| ((r.service.as_str(), r.name.as_str()), r))
        .collect();
    let by_name: BTreeMap<&str, &Instance> =
        observed.iter().map(|i| (i.name.as_str(), i)).collect();
    let mut checks = Vec::new();
    // Components lacking a recorded digest (deployed before mcp recorded
    // them): the digests of the image their instance runs stand in.
    let mut ask_local: Vec<String> = Vec::new();
    for (service, component) in selected {
        let Some(spec) = specs.iter().find(|s| &s.name == service) else {
            continue;
        };
        let Some(c) = spec.component(component) else {
            continue;
        };
        let row = row_of.get(&(service.as_str(), component.as_str())).copied();
        let instance = by_name
            .get(instance_name(service, component).as_str())
            .copied();
        let note = skip_reason(spec, &c.image, &RuntimeSpec::of(c).hash(), row, instance);
        let known = row.map(ComponentRow::known_digests).unwrap_or_default();
        if note.is_none() && known.is_empty() {
            ask_local.extend(instance.map(|i| i.image_id.clone()));
        }
        checks.push(Check {
            service: service.clone(),
            component: component.clone(),
            image: c.image.clone(),
            status: if note.is_some() {
                Status::Skipped
            } else {
                Status::Current
            },
            deployed_digest: known.first().cloned(),
            registry_digest: None,
            note,
            known,
        });
    }
    ask_local.sort();
    ask_local.dedup();
    let local = if ask_local.is_empty() {
        BTreeMap::new()
    } else {
        runtime.image_digests(&ask_local)?
    };
    for ch in checks.iter_mut().filter(|c| c.status != Status::Skipped) {
        if ch.known.is_empty() {
            let id = by_name
                .get(instance_name(&ch.service, &ch.component).as_str())
                .map(|i| i.image_id.as_str());
            ch.known = id.and_then(|id| local.get(id)).cloned().unwrap_or_default();
            ch.deployed_digest = ch.known.first().cloned();
        }
        if ch.deployed_digest.is_none() {
            ch.status = Status::Skipped;
            ch.note = Some("the deployed image's digest is unknown; mcp deploy records it".into());
        }
    }
    Ok(checks)
}

/// Asks the registries (one request per distinct image, `jobs` at once)
/// and marks each checked component current, moved or failed.
fn compare(checks: &mut [Check], client: &DigestClient, jobs: usize) {
    let images: Vec<String> = checks
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .map(|c| c.image.clone())
        .collect();
    let remote = client.lookup_all(&images, jobs);
    for ch in checks.iter_mut().filter(|c| c.status != Status::Skipped) {
        match remote.get(&ch.image) {
            Some(Ok(r)) => {
                if !r.matches(&ch.known) {
                    ch.status = Status::Moved;
                } else if ch.known.contains(&r.digest) {
                    // Show the manifest the tag names, of the several the image has.
                    ch.deployed_digest = Some(r.digest.clone());
                }
                ch.registry_digest = Some(r.digest.clone());
            }
            Some(Err(e)) => {
                ch.status = Status::Failed;
                ch.note = Some(format!("{}: {e}", ch.image));
            }
            None => {
                ch.status = Status::Failed;
                ch.note = Some(format!("{}: not looked up", ch.image));
            }
        }
    }
}

pub fn run(ctx: &Ctx, args: &UpdateArgs) -> anyhow::Result<u8> {
    let specs = spec::load_dir(&ctx.config.services_dir)?;
    let selected = selected(&args.targets, &specs)?;
    // A dry run changes nothing, so it needs no lock.
    let _lock = if args.dry_run {
        None
    } else {
        Some(ctx.lock("update")?)
    };
    // Nothing was ever deployed without a registry; make none (like status).
    let Some(mut registry) = Registry::open_existing(&ctx.config.db)? else {
        if !ctx.out.quiet && !ctx.out.json {
            ctx.out
                .line("no registry yet, so nothing was deployed to update (run mcp sync)");
        } else if ctx.out.json {
            update_print::print(ctx, args.dry_run, &[])?;
        }
        return Ok(exit::SUCCESS);
    };
    let rows = registry.components()?;
    let runtimes = world::Runtimes::open(ctx, "update")?;
    let runtime = runtimes.dispatch();
    let observed = runtime.list()?;

    let mut checks = collect(&selected, &specs, &rows, &observed, &runtime)?;
    if checks.iter().any(|c| c.status != Status::Skipped) {
        let skopeo = Tool::locate(
            "skopeo",
            ctx.config.skopeo.as_deref(),
            "mcp update",
            ctx.config.verbose,
        )?;
        compare(
            &mut checks,
            &DigestClient::new(skopeo),
            args.jobs.unwrap_or(DEFAULT_LOOKUPS),
        );
    }

    if !args.dry_run {
        // Cron runs are read back through history: a tag that vanished or a
        // registry that stays down must show there, not only in cron mail.
        for ch in checks.iter().filter(|c| c.status == Status::Failed) {
            record_failure(&registry, ch, "check")?;
        }
    }
    if !args.dry_run && checks.iter().any(|c| c.status == Status::Moved) {
        let loaded = Loaded {
            specs: &specs,
            rows: &rows,
            observed: &observed,
        };
        roll_out(ctx, args, &loaded, &runtime, &mut registry, &mut checks)?;
    }
    update_print::print(ctx, args.dry_run, &checks)?;
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| format!("{}: {}", c.name(), c.note.as_deref().unwrap_or("failed")))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "update failed for {} component{}:\n  {}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            failed.join("\n  ")
        );
    }
    let moved = checks.iter().any(|c| c.status == Status::Moved);
    Ok(if args.dry_run && moved {
        exit::PENDING
    } else {
        exit::SUCCESS
    })
}

fn record_failure(registry: &Registry, ch: &Check, action: &str) -> anyhow::Result<()> {
    registry.record_event(
        &NewEvent {
            command: "update",
            service: &ch.service,
            component: Some(&ch.component),
            action,
            detail: &ch.image,
        },
        &EventOutcome::Failed(ch.note.clone().unwrap_or_default()),
    )
}

/// The cause recorded in history: the tag and both digests in full.
fn cause(c: &Check) -> String {
    format!(
        "image {} moved: {} -> {}",
        image_version(&c.image),
        c.deployed_digest.as_deref().unwrap_or("unknown"),
        c.registry_digest.as_deref().unwrap_or("unknown")
    )
}

/// What `run` loaded, for the rollout.
struct Loaded<'a> {
    specs: &'a [ServiceSpec],
    rows: &'a [ComponentRow],
    observed: &'a [Instance],
}

/// Pulls each moved image once (a failed pull fails only the components
/// that use it, and changes nothing for them), then has the executor
/// replace the moved components: the same health-gated replacement as
/// `deploy`, the old instance put back on failure.
fn roll_out(
    ctx: &Ctx,
    args: &UpdateArgs,
    loaded: &Loaded<'_>,
    runtime: &dyn Runtime,
    registry: &mut Registry,
    checks: &mut [Check],
) -> anyhow::Result<()> {
    let progress = Progress::new(ctx.out.progress());
    let mut desired = world::desired(loaded.specs, loaded.rows);
    let mut by_image: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for ch in checks.iter().filter(|c| c.status == Status::Moved) {
        by_image
            .entry(ch.image.clone())
            .or_default()
            .insert((ch.service.clone(), ch.component.clone()));
    }
    let mut pull_failed: BTreeMap<String, String> = BTreeMap::new();
    for (image, targets) in &by_image {
        if let Err(e) = reconcile::pull(
            runtime,
            &progress,
            &mut desired,
            targets,
            PullPolicy::Always,
        ) {
            pull_failed.insert(image.clone(), format!("{e:#}"));
        }
    }
    let mut moved: BTreeMap<(String, String), String> = BTreeMap::new();
    for ch in checks.iter_mut().filter(|c| c.status == Status::Moved) {
        if let Some(e) = pull_failed.get(&ch.image) {
            ch.status = Status::Failed;
            ch.note = Some(e.clone());
            record_failure(registry, ch, "pull")?;
            continue;
        }
        // A tag re-pushed with another manifest (format, compression) of the
        // very image that runs: nothing to replace, only the manifest to learn.
        let pulled_id = desired
            .iter()
            .find(|d| d.service == ch.service && d.spec.name == ch.component)
            .and_then(|d| d.image_id.as_deref());
        let running_id = loaded
            .observed
            .iter()
            .find(|i| i.name == instance_name(&ch.service, &ch.component))
            .map(|i| i.image_id.as_str());
        if pulled_id.is_some() && pulled_id == running_id {
            let known = runtime.image_digests(std::slice::from_ref(&ch.image))?;
            let known = known.get(&ch.image).map_or(&[][..], Vec::as_slice);
            registry.set_image_digests(&ch.service, &ch.component, known)?;
            ch.status = Status::Current;
            ch.note = Some("the tag names the same image under another manifest".into());
            continue;
        }
        moved.insert((ch.service.clone(), ch.component.clone()), cause(ch));
    }
    let input = PlanInput {
        desired,
        kept: BTreeSet::new(),
        observed: &[],
        scope: None,
        known: BTreeSet::new(),
        prune: false,
    };
    let plan = reconcile::plan(&Intent::Update { moved }, &input);
    let outcomes = Executor::new(runtime, &progress, registry, "update")
        .jobs(args.jobs.unwrap_or_else(sync::default_jobs))
        .apply(&plan, &input.desired, |_, _| {})?;
    for (a, outcome) in plan.actions.iter().zip(outcomes) {
        let Some(ch) = checks
            .iter_mut()
            .find(|c| c.service == a.service && c.component == a.component)
        else {
            continue;
        };
        match outcome {
            Outcome::Ok => ch.status = Status::Updated,
            Outcome::Failed(e) => {
                ch.status = Status::Failed;
                ch.note = Some(e);
            }
            Outcome::Skipped => {
                ch.status = Status::Failed;
                ch.note = Some("skipped after an earlier failure".into());
            }
        }
    }
    Ok(())
}

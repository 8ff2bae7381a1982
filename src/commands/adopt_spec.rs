//! `adopt --write-spec`: the service file that describes adopted containers
//! exactly, so that the next sync changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::Context;

use super::adopt::Adopted;
use super::{Ctx, sync, world};
use crate::reconcile::{self, Executor, Intent, PlanInput, Silent};
use crate::registry::{Change, ComponentRecord, Registry};
use crate::runtime::Runtime;
use crate::spec::{self, ComponentSpec, fields};

/// Writes one service file per adopted service, describing its containers
/// as they run, and records them as deployed from it so that the next sync
/// reports no changes and recreates nothing. Where the service's file
/// already exists (a name clash being resolved), nothing is written: the
/// containers are taken over only if they are exactly what it declares.
pub(super) fn write_specs(
    ctx: &Ctx,
    containers: &dyn Runtime,
    registry: &mut Registry,
    adopted: &mut [Adopted],
) -> anyhow::Result<()> {
    let mut by_service: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, a) in adopted.iter().enumerate() {
        by_service.entry(a.service.clone()).or_default().push(i);
    }
    let dir = &ctx.config.services_dir;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (service, indices) in by_service {
        if !fields::is_service_name(&service) {
            anyhow::bail!(
                "cannot write a spec for service `{service}`: not a valid service name ([a-z0-9][a-z0-9_]*)"
            );
        }
        let path = dir.join(format!("{service}.toml"));
        let mut described = Vec::new();
        let mut header = String::new();
        for &i in &indices {
            let c = &adopted[i];
            let d = containers.describe(&c.container, &c.component)?;
            for what in &d.not_expressed {
                header.push_str(&format!(
                    "# not expressed for container {}: {what}\n",
                    c.container
                ));
            }
            described.push(d.table);
            adopted[i].not_expressed = d.not_expressed;
        }
        let existed = path.exists();
        let note = if existed {
            check_declared_as_described(&path, &service, &described)?;
            format!(
                "{} already declares {service} exactly as it runs: taken over, file unchanged",
                path.display()
            )
        } else {
            write_new(&path, &service, &header, described)?
        };

        // Validate against everything else before recording it.
        let specs = match spec::load_dir(dir) {
            Ok(s) => s,
            Err(e) if !existed => {
                let _ = fs::remove_file(&path);
                return Err(e.context(format!(
                    "the spec written for `{service}` did not validate; removed it"
                )));
            }
            Err(e) => return Err(e),
        };
        registry.sync_desired(&specs, std::slice::from_ref(&service), false, true)?;
        let rows = registry.components()?;
        let one: Vec<spec::ServiceSpec> = specs.into_iter().filter(|s| s.name == service).collect();
        let input = PlanInput {
            desired: world::desired(&one, &rows),
            kept: BTreeSet::new(),
            observed: &[],
            scope: None,
            known: BTreeSet::new(),
            prune: false,
        };
        let intent = Intent::Record {
            targets: indices
                .iter()
                .map(|&i| (service.clone(), adopted[i].component.clone()))
                .collect(),
            source: path.display().to_string(),
        };
        let plan = reconcile::plan(&intent, &input);
        let outcomes = Executor::new(containers, &Silent, registry, "adopt").apply(
            &plan,
            &input.desired,
            |_, _| {},
        )?;
        let failed = sync::failures(&plan.actions, &outcomes);
        if !failed.is_empty() {
            anyhow::bail!("adopt failed:\n  {}", failed.join("\n  "));
        }
        for &i in &indices {
            adopted[i].spec_file = Some(path.display().to_string());
            adopted[i].spec_note = Some(note.clone());
        }
    }
    Ok(())
}

/// Writes a new service file; one that holds env values (often secrets)
/// is readable by its owner only. Returns what to tell the operator.
/// `header` (comment lines naming what the file cannot express) goes first.
fn write_new(
    path: &Path,
    service: &str,
    header: &str,
    components: Vec<toml::Value>,
) -> anyhow::Result<String> {
    let has_env = components.iter().any(|c| c.get("env").is_some());
    let mut doc = toml::Table::new();
    doc.insert(
        "comment".into(),
        "adopted by mcp from running containers".into(),
    );
    doc.insert("components".into(), toml::Value::Array(components));
    let text = format!(
        "{header}{}",
        toml::to_string(&doc).context("rendering the service file")?
    );
    let mode = if has_env { 0o600 } else { 0o644 };
    crate::safefs::write_new(path, text.as_bytes(), mode)?;
    Ok(if has_env {
        format!(
            "{} holds the env values of {service}: written with mode 0600 (readable by its owner only)",
            path.display()
        )
    } else {
        format!("{} written", path.display())
    })
}

/// Fails unless every described component is declared in `path` with the
/// same image and runtime spec: taking over a container the file declares
/// differently would have the next sync replace it.
fn check_declared_as_described(
    path: &Path,
    service: &str,
    described: &[toml::Value],
) -> anyhow::Result<()> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let declared = parse(path, service, &text)?;
    let mut doc = toml::Table::new();
    doc.insert("components".into(), toml::Value::Array(described.to_vec()));
    let described_text = toml::to_string(&doc).context("rendering the described components")?;
    let running = parse(path, service, &described_text)?;
    for r in &running {
        let Some(d) = declared.iter().find(|d| d.name == r.name) else {
            anyhow::bail!(
                "{} exists and does not declare component `{}`; not overwritten (declare it there, or adopt without --write-spec)",
                path.display(),
                r.name
            );
        };
        let differ: Vec<&str> = ComponentRecord::of(d)
            .diff(&ComponentRecord::of(r))
            .iter()
            .filter_map(|c| match c {
                Change::Image { .. } => Some("image"),
                other => other.runtime_field(),
            })
            .collect();
        if !differ.is_empty() {
            anyhow::bail!(
                "{} declares {service}/{} differently from the running container ({}); make the file match the container (or remove the file to have one written), or rename the container by hand",
                path.display(),
                r.name,
                differ.join(", ")
            );
        }
    }
    Ok(())
}

fn parse(path: &Path, service: &str, text: &str) -> anyhow::Result<Vec<ComponentSpec>> {
    let mut reader = spec::parse::FileReader::new(path, text);
    match reader.read_service(service) {
        Some(parsed) => Ok(parsed.spec.components),
        None => anyhow::bail!("{} does not validate; run mcp validate", path.display()),
    }
}

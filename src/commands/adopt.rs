//! `mcp adopt`: record untracked containers in the registry as `ignore`,
//! and optionally write a service file that describes them exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use super::{Ctx, world};
use crate::cli::AdoptArgs;
use crate::exit::{self, UsageError};
use crate::reconcile::apply::deployed_json;
use crate::reconcile::plan::split_instance_name;
use crate::registry::{NewEvent, Registry};
use crate::runtime::podman::Podman;
use crate::runtime::{Instance, NEXT_SUFFIX, PREV_SUFFIX, Runtime};
use crate::spec::{self, fields, instance_name};

#[derive(Serialize)]
struct Adopted {
    container: String,
    service: String,
    component: String,
    image: String,
    spec_file: Option<String>,
    /// What the container has that a service file cannot say, so the spec
    /// written for it would not recreate it exactly (empty: faithful).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_expressed: Vec<String>,
}

pub fn run(ctx: &Ctx, args: &AdoptArgs) -> anyhow::Result<u8> {
    if args.containers.is_empty() && !args.all {
        return Err(UsageError("name the containers to adopt, or use --all".into()).into());
    }
    let _lock = ctx.lock("adopt")?;
    let mut registry = Registry::open(&ctx.config.db)?;
    let podman = world::podman(&ctx.config, "adopt")?;
    let observed = podman.list()?;
    let tracked: BTreeSet<String> = registry
        .components()?
        .iter()
        .flat_map(|r| {
            let n = instance_name(&r.service, &r.name);
            [format!("{n}{NEXT_SUFFIX}"), format!("{n}{PREV_SUFFIX}"), n]
        })
        .collect();
    let untracked: Vec<&Instance> = observed
        .iter()
        .filter(|i| !tracked.contains(&i.name))
        .collect();
    let chosen: Vec<&Instance> = if args.all {
        untracked
    } else {
        let mut chosen = Vec::new();
        for name in &args.containers {
            match observed.iter().find(|i| &i.name == name) {
                None => anyhow::bail!("no container named `{name}` (see podman ps -a)"),
                Some(_) if tracked.contains(name) => {
                    anyhow::bail!("`{name}` is already in the registry")
                }
                Some(i) => chosen.push(i),
            }
        }
        chosen
    };

    let mut adopted = Vec::new();
    for inst in chosen {
        let (service, component) = match inst.managed_identity() {
            Some((s, c)) => (s.to_string(), c.to_string()),
            None => split_instance_name(&inst.name),
        };
        if args.write_spec && instance_name(&service, &component) != inst.name {
            anyhow::bail!(
                "cannot write a spec for `{}`: mcp names containers <service>-<component>; rename it first (podman rename)",
                inst.name
            );
        }
        registry.adopt(
            &service,
            &component,
            "container",
            &inst.image,
            &fields::image_version(&inst.image),
            &inst.state.describe(),
        )?;
        registry.record_event(&NewEvent {
            command: "adopt",
            service: &service,
            component: Some(&component),
            action: "adopt",
            detail: &format!("container {} ({})", inst.name, inst.image),
            outcome: "ok",
        })?;
        adopted.push(Adopted {
            container: inst.name.clone(),
            service,
            component,
            image: inst.image.clone(),
            spec_file: None,
            not_expressed: Vec::new(),
        });
    }

    if args.write_spec {
        write_specs(ctx, &podman, &mut registry, &mut adopted)?;
    }
    if ctx.out.json {
        ctx.out
            .print_json(&serde_json::json!({ "adopted": adopted }))?;
    } else if adopted.is_empty() {
        if !ctx.out.quiet {
            ctx.out.line("nothing to adopt");
        }
    } else {
        let rows: Vec<Vec<String>> = adopted
            .iter()
            .map(|a| {
                vec![
                    a.container.clone(),
                    format!("{}/{}", a.service, a.component),
                    a.image.clone(),
                    a.spec_file.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        ctx.out.line(
            &ctx.out
                .table(&["CONTAINER", "ADOPTED AS", "IMAGE", "SPEC FILE"], &rows),
        );
    }
    if !ctx.out.json {
        for a in adopted.iter().filter(|a| !a.not_expressed.is_empty()) {
            eprintln!(
                "note: {} cannot say everything about container {}; recreating it from the file loses: {}",
                a.spec_file.as_deref().unwrap_or("the service file"),
                a.container,
                a.not_expressed.join("; ")
            );
        }
    }
    Ok(exit::SUCCESS)
}

/// Writes one service file per adopted service, describing its containers
/// as they run, and records them as deployed from it so that the next sync
/// reports no changes and recreates nothing.
fn write_specs(
    ctx: &Ctx,
    podman: &Podman,
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
        if path.exists() {
            anyhow::bail!(
                "{} already exists; not overwritten (remove it or adopt without --write-spec)",
                path.display()
            );
        }
        let mut components = Vec::new();
        let mut header = String::new();
        for &i in &indices {
            let c = &adopted[i];
            let inspect = podman.inspect_container(&c.container)?;
            let image_config = podman.inspect_image(&c.image).unwrap_or(Value::Null);
            let (table, lost) = component_table(&c.component, &inspect, &image_config)?;
            components.push(table);
            for what in &lost {
                header.push_str(&format!(
                    "# not expressed for container {}: {what}\n",
                    c.container
                ));
            }
            adopted[i].not_expressed = lost;
        }
        let mut doc = toml::Table::new();
        doc.insert(
            "comment".into(),
            "adopted by mcp from running containers".into(),
        );
        doc.insert("components".into(), toml::Value::Array(components));
        let text = header + &toml::to_string(&doc).context("rendering the service file")?;
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;

        // Validate what was written against everything else before recording it.
        let specs = match spec::load_dir(dir) {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&path);
                return Err(e.context(format!(
                    "the spec written for `{service}` did not validate; removed it"
                )));
            }
        };
        registry.sync_desired(&specs, std::slice::from_ref(&service), false, true)?;
        let rows = registry.components()?;
        let one: Vec<spec::ServiceSpec> = specs.into_iter().filter(|s| s.name == service).collect();
        for d in world::desired(&one, &rows) {
            registry.record_deployed(
                &service,
                &d.spec.name,
                &d.spec_hash,
                &deployed_json(&d),
                None,
            )?;
        }
        for &i in &indices {
            adopted[i].spec_file = Some(path.display().to_string());
        }
    }
    Ok(())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One `[[components]]` table from `podman container inspect`, leaving out
/// what the image itself provides (its environment and default command),
/// and what the container has that a service file cannot express.
fn component_table(
    name: &str,
    c: &Value,
    image: &Value,
) -> anyhow::Result<(toml::Value, Vec<String>)> {
    let mut t = toml::Table::new();
    let mut lost = Vec::new();
    t.insert("name".into(), name.into());
    let image_name = c["ImageName"]
        .as_str()
        .or(c["Config"]["Image"].as_str())
        .unwrap_or_default();
    t.insert("image".into(), image_name.into());
    let restart = match c["HostConfig"]["RestartPolicy"]["Name"]
        .as_str()
        .unwrap_or("")
    {
        "" => "no",
        other => other,
    };
    t.insert("restart".into(), restart.into());
    if let Some(user) = c["Config"]["User"].as_str().filter(|u| !u.is_empty()) {
        t.insert("user".into(), user.into());
    }
    if let Some(net) = c["NetworkSettings"]["Networks"]
        .as_object()
        .and_then(|nets| nets.keys().find(|n| n.as_str() != "podman"))
    {
        t.insert("network".into(), net.as_str().into());
    }
    let mut ports = Vec::new();
    if let Some(bindings) = c["HostConfig"]["PortBindings"].as_object() {
        for (key, hosts) in bindings {
            let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
            for h in hosts.as_array().into_iter().flatten() {
                let host_port = h["HostPort"].as_str().unwrap_or_default();
                let ip = h["HostIp"].as_str().unwrap_or_default();
                let mut p = if ip.is_empty() || ip == "0.0.0.0" {
                    format!("{host_port}:{port}")
                } else {
                    format!("{ip}:{host_port}:{port}")
                };
                if proto == "udp" {
                    p.push_str("/udp");
                }
                ports.push(toml::Value::from(p));
            }
        }
    }
    if !ports.is_empty() {
        t.insert("ports".into(), toml::Value::Array(ports));
    }
    let mut volumes = Vec::new();
    for m in c["Mounts"].as_array().into_iter().flatten() {
        let dest = m["Destination"].as_str().unwrap_or_default();
        let source = match m["Type"].as_str() {
            Some("bind") => m["Source"].as_str().unwrap_or_default(),
            Some("volume") => m["Name"].as_str().unwrap_or_default(),
            _ => continue,
        };
        let ro = if m["RW"].as_bool() == Some(false) {
            ":ro"
        } else {
            ""
        };
        volumes.push(toml::Value::from(format!("{source}:{dest}{ro}")));
    }
    if !volumes.is_empty() {
        t.insert("volumes".into(), toml::Value::Array(volumes));
    }
    if let Some(cmd) = command(c, image, &mut lost) {
        t.insert(
            "cmd".into(),
            toml::Value::Array(cmd.into_iter().map(Into::into).collect()),
        );
    }
    lost.extend(inexpressible(c, image));
    let image_env: BTreeSet<String> = strings(&image["Config"]["Env"]).into_iter().collect();
    let mut env = toml::Table::new();
    for kv in strings(&c["Config"]["Env"]) {
        if image_env.contains(&kv) {
            continue;
        }
        if let Some((k, v)) = kv.split_once('=') {
            // podman adds these itself to every container.
            if matches!(k, "PATH" | "HOSTNAME" | "HOME" | "TERM" | "container") {
                continue;
            }
            env.insert(k.into(), v.into());
        }
    }
    if !env.is_empty() {
        t.insert("env".into(), toml::Value::Table(env));
    }
    if let Some(mem) = c["HostConfig"]["Memory"].as_u64().filter(|m| *m > 0) {
        t.insert(
            "memory_mb".into(),
            toml::Value::Integer((mem / (1024 * 1024)) as i64),
        );
    }
    if let Some(nano) = c["HostConfig"]["NanoCpus"]
        .as_u64()
        .filter(|n| *n > 0 && n % 1_000_000_000 == 0)
    {
        t.insert(
            "vcpus".into(),
            toml::Value::Integer((nano / 1_000_000_000) as i64),
        );
    }
    Ok((toml::Value::Table(t), lost))
}

/// The `cmd` that makes mcp run what the container runs, if it differs from
/// the image's default. The process's argv (`Path` and `Args`) is what runs,
/// whatever mix of `--entrypoint` and arguments started it: with an image
/// that has no entrypoint, that whole argv is the `cmd`; with one that has,
/// the argv must start with it, else (`--entrypoint` replaced it) no `cmd`
/// can say it and that is named.
fn command(c: &Value, image: &Value, lost: &mut Vec<String>) -> Option<Vec<String>> {
    let path = c["Path"].as_str().filter(|p| !p.is_empty());
    let argv: Vec<String> = match path {
        Some(p) => std::iter::once(p.to_string())
            .chain(strings(&c["Args"]))
            .collect(),
        // Older inspect output: fall back to the configured command.
        None => strings(&c["Config"]["Cmd"]),
    };
    let image_entrypoint = strings(&image["Config"]["Entrypoint"]);
    let image_cmd = strings(&image["Config"]["Cmd"]);
    let args = match argv.strip_prefix(image_entrypoint.as_slice()) {
        Some(rest) => rest.to_vec(),
        None => {
            lost.push(format!(
                "entrypoint: it runs `{}` in place of the image's entrypoint `{}` (a service file has no entrypoint key)",
                argv.join(" "),
                image_entrypoint.join(" ")
            ));
            return None;
        }
    };
    (!args.is_empty() && args != image_cmd).then_some(args)
}

/// Settings of the container that no service file key expresses.
fn inexpressible(c: &Value, image: &Value) -> Vec<String> {
    let mut lost = Vec::new();
    let host = &c["HostConfig"];
    let workdir = c["Config"]["WorkingDir"].as_str().unwrap_or_default();
    let image_workdir = image["Config"]["WorkingDir"].as_str().unwrap_or("/");
    if !workdir.is_empty()
        && workdir != image_workdir
        && !(workdir == "/" && image_workdir.is_empty())
    {
        lost.push(format!("working directory {workdir}"));
    }
    if host["Privileged"].as_bool() == Some(true) {
        lost.push("--privileged".into());
    }
    let caps = strings(&host["CapAdd"]);
    if !caps.is_empty() {
        lost.push(format!("added capabilities {}", caps.join(", ")));
    }
    if host["Devices"].as_array().is_some_and(|d| !d.is_empty()) {
        lost.push("devices".into());
    }
    if host["ReadonlyRootfs"].as_bool() == Some(true) {
        lost.push("--read-only".into());
    }
    if c["Pod"].as_str().is_some_and(|p| !p.is_empty()) {
        lost.push("membership of a pod".into());
    }
    let tmpfs: Vec<&str> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["Type"].as_str() == Some("tmpfs"))
        .filter_map(|m| m["Destination"].as_str())
        .collect();
    if !tmpfs.is_empty() {
        lost.push(format!("tmpfs mounts {}", tmpfs.join(", ")));
    }
    let networks: Vec<&String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|n| n.keys().filter(|k| k.as_str() != "podman").collect())
        .unwrap_or_default();
    if networks.len() > 1 {
        lost.push(format!(
            "networks beyond the first ({})",
            networks[1..]
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(mem) = host["Memory"]
        .as_u64()
        .filter(|m| *m > 0 && m % (1024 * 1024) != 0)
    {
        lost.push(format!("memory limit of {mem} bytes (not whole MiB)"));
    }
    if let Some(nano) = host["NanoCpus"]
        .as_u64()
        .filter(|n| *n > 0 && n % 1_000_000_000 != 0)
    {
        lost.push(format!(
            "a CPU limit of {} CPUs (not whole)",
            nano as f64 / 1e9
        ));
    }
    let image_labels = image["Config"]["Labels"].as_object();
    let own_labels: Vec<&String> = c["Config"]["Labels"]
        .as_object()
        .map(|l| {
            l.keys()
                .filter(|k| image_labels.is_none_or(|il| !il.contains_key(*k)))
                .collect()
        })
        .unwrap_or_default();
    if !own_labels.is_empty() {
        lost.push(format!(
            "labels {}",
            own_labels
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    lost
}

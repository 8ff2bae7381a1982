//! Describing a container as a component: the `[[components]]` table that
//! would create it again (for `adopt --write-spec`), from `podman inspect`.

use std::collections::BTreeSet;

use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A container described as a component.
#[derive(Debug, Clone)]
pub struct Description {
    /// The `[[components]]` table.
    pub table: toml::Value,
    /// What the container has that a service file cannot say, so the table
    /// would not recreate it exactly (empty: faithful).
    pub not_expressed: Vec<String>,
}

/// One `[[components]]` table from `podman container inspect`, leaving out
/// what the image itself provides (its environment and default command),
/// and what the container has that a service file cannot express.
pub fn component_table(name: &str, c: &Value, image: &Value) -> anyhow::Result<Description> {
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
    Ok(Description {
        table: toml::Value::Table(t),
        not_expressed: lost,
    })
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

//! Describing a container as a component: the `[[components]]` table that
//! would create it again (for `adopt --write-spec`), from `podman inspect`.

use std::collections::BTreeSet;

use super::ops::ImageConfig;
use super::podman_cli::ContainerInspect;

/// The image a container was created from, as it was named.
pub fn image_of(c: &ContainerInspect) -> &str {
    if c.image_name.is_empty() {
        &c.config.image
    } else {
        &c.image_name
    }
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
/// and what the container has that a service file cannot express;
/// `image` is `None` when the image could not be inspected.
pub fn component_table(
    name: &str,
    c: &ContainerInspect,
    image: Option<&ImageConfig>,
) -> Description {
    let mut t = toml::Table::new();
    let mut lost = Vec::new();
    t.insert("name".into(), name.into());
    t.insert("image".into(), image_of(c).into());
    let restart = match c
        .host_config
        .restart_policy
        .as_ref()
        .map(|r| r.name.as_str())
    {
        None | Some("") => "no",
        Some(other) => other,
    };
    t.insert("restart".into(), restart.into());
    if !c.config.user.is_empty() {
        t.insert("user".into(), c.config.user.as_str().into());
    }
    if let Some(net) = chosen_networks(c).first() {
        t.insert("network".into(), net.as_str().into());
    }
    let mut ports = Vec::new();
    for (key, hosts) in c.host_config.port_bindings.iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        for h in hosts.iter().flatten() {
            let mut p = if h.host_ip.is_empty() || h.host_ip == "0.0.0.0" {
                format!("{}:{port}", h.host_port)
            } else {
                format!("{}:{}:{port}", h.host_ip, h.host_port)
            };
            if proto == "udp" {
                p.push_str("/udp");
            }
            ports.push(toml::Value::from(p));
        }
    }
    if !ports.is_empty() {
        t.insert("ports".into(), toml::Value::Array(ports));
    }
    let mut volumes = Vec::new();
    for m in c.mounts.iter().flatten() {
        let source = match m.r#type.as_str() {
            "bind" => &m.source,
            "volume" => &m.name,
            _ => continue,
        };
        let ro = if m.rw == Some(false) { ":ro" } else { "" };
        volumes.push(toml::Value::from(format!("{source}:{}{ro}", m.destination)));
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
    let image_env: BTreeSet<&String> = image.iter().flat_map(|i| &i.env).collect();
    let mut env = toml::Table::new();
    for kv in c.config.env.iter().flatten() {
        if image_env.contains(kv) {
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
    let mem = c.host_config.memory;
    if mem > 0 {
        t.insert(
            "memory_mb".into(),
            toml::Value::Integer((mem / (1024 * 1024)) as i64),
        );
    }
    let nano = c.host_config.nano_cpus;
    if nano > 0 && nano.is_multiple_of(1_000_000_000) {
        t.insert(
            "vcpus".into(),
            toml::Value::Integer((nano / 1_000_000_000) as i64),
        );
    }
    Description {
        table: toml::Value::Table(t),
        not_expressed: lost,
    }
}

/// The `cmd` that makes mcp run what the container runs, if it differs from
/// the image's default. The process's argv (`Path` and `Args`) is what runs,
/// whatever mix of `--entrypoint` and arguments started it: with an image
/// that has no entrypoint, that whole argv is the `cmd`; with one that has,
/// the argv must start with it, else (`--entrypoint` replaced it) no `cmd`
/// can say it and that is named.
fn command(
    c: &ContainerInspect,
    image: Option<&ImageConfig>,
    lost: &mut Vec<String>,
) -> Option<Vec<String>> {
    let argv: Vec<String> = if c.path.is_empty() {
        // Older inspect output: fall back to the configured command.
        c.config.cmd.clone().unwrap_or_default()
    } else {
        std::iter::once(c.path.clone())
            .chain(c.args.iter().flatten().cloned())
            .collect()
    };
    let image_entrypoint: &[String] = image.map_or(&[], |i| &i.entrypoint);
    let image_cmd: &[String] = image.map_or(&[], |i| &i.cmd);
    let Some(args) = argv.strip_prefix(image_entrypoint) else {
        lost.push(format!(
            "entrypoint: it runs `{}` in place of the image's entrypoint `{}` (a service file has no entrypoint key)",
            argv.join(" "),
            image_entrypoint.join(" ")
        ));
        return None;
    };
    (!args.is_empty() && args != image_cmd).then(|| args.to_vec())
}

/// Settings of the container that no service file key expresses.
fn inexpressible(c: &ContainerInspect, image: Option<&ImageConfig>) -> Vec<String> {
    let mut lost = Vec::new();
    let host = &c.host_config;
    let workdir = c.config.working_dir.as_str();
    let image_workdir = image.map_or("", |i| i.working_dir.as_str());
    let default_dir = |d: &str| d.is_empty() || d == "/";
    if workdir != image_workdir && !(default_dir(workdir) && default_dir(image_workdir)) {
        lost.push(format!("working directory {workdir}"));
    }
    if host.privileged {
        lost.push("--privileged".into());
    }
    let caps: Vec<&String> = host.cap_add.iter().flatten().collect();
    if !caps.is_empty() {
        lost.push(format!(
            "added capabilities {}",
            caps.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if host.devices.as_ref().is_some_and(|d| !d.is_empty()) {
        lost.push("devices".into());
    }
    if host.readonly_rootfs {
        lost.push("--read-only".into());
    }
    if !c.pod.is_empty() {
        lost.push("membership of a pod".into());
    }
    let tmpfs: Vec<&str> = c
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.r#type == "tmpfs")
        .map(|m| m.destination.as_str())
        .collect();
    if !tmpfs.is_empty() {
        lost.push(format!("tmpfs mounts {}", tmpfs.join(", ")));
    }
    let networks = chosen_networks(c);
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
    let mem = host.memory;
    if mem > 0 && !mem.is_multiple_of(1024 * 1024) {
        lost.push(format!("memory limit of {mem} bytes (not whole MiB)"));
    }
    let nano = host.nano_cpus;
    if nano > 0 && !nano.is_multiple_of(1_000_000_000) {
        lost.push(format!(
            "a CPU limit of {} CPUs (not whole)",
            nano as f64 / 1e9
        ));
    }
    let own_labels: Vec<&str> = c
        .config
        .labels
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .filter(|k| image.is_none_or(|i| !i.labels.contains_key(*k)))
        .collect();
    if !own_labels.is_empty() {
        lost.push(format!("labels {}", own_labels.join(", ")));
    }
    lost
}

/// The networks a container was put on by choice: not podman's default
/// network, which is `podman` unless containers.conf names another. Which
/// one is the default is told by the create command when podman's CLI made
/// the container (no `--network`/`--net`: only the default).
fn chosen_networks(c: &ContainerInspect) -> Vec<&String> {
    let named_a_network = c.config.create_command.as_ref().map(|argv| {
        argv.iter().any(|a| {
            ["--network", "--net"]
                .iter()
                .any(|f| a == f || a.starts_with(&format!("{f}=")))
        })
    });
    if named_a_network == Some(false) {
        return Vec::new();
    }
    c.network_settings
        .networks
        .iter()
        .flat_map(|n| n.keys())
        .filter(|k| k.as_str() != "podman")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default network is whatever containers.conf names: a container
    /// whose create command chose no network is on the default one only.
    #[test]
    fn only_a_chosen_network_is_described() {
        let on = |create: &str, net: &str| -> ContainerInspect {
            serde_json::from_str(&format!(
                r#"{{"Config":{{"CreateCommand":{create}}},"NetworkSettings":{{"Networks":{{"{net}":{{}}}}}}}}"#
            ))
            .unwrap()
        };
        let default_elsewhere = on(r#"["podman","run","-d","img"]"#, "hostdefault");
        assert!(chosen_networks(&default_elsewhere).is_empty());
        for create in [
            r#"["podman","run","--network","mcpnet","img"]"#,
            r#"["podman","run","--net=mcpnet","img"]"#,
            "null",
        ] {
            let chosen = on(create, "mcpnet");
            assert_eq!(
                chosen_networks(&chosen),
                [&"mcpnet".to_string()],
                "{create}"
            );
        }
        // Without a create command, "podman" is still taken as the default.
        assert!(chosen_networks(&on("null", "podman")).is_empty());
    }

    #[test]
    fn a_container_reads_back_as_the_component_that_creates_it() {
        let c: ContainerInspect = serde_json::from_str(
            r#"{"ImageName":"r:5000/web:v1","Config":{"Image":"r:5000/web:v1","User":"1000",
                "Cmd":["httpd","-f","-p","8080"],"Env":["PATH=/bin","HOSTNAME=x","FROM_IMAGE=1","MODE=prod"]},
                "HostConfig":{"RestartPolicy":{"Name":""},"Memory":134217728,"NanoCpus":1500000000,
                "PortBindings":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}],
                    "53/udp":[{"HostIp":"","HostPort":"5353"}]}},
                "NetworkSettings":{"Networks":{"podman":{}}},
                "Mounts":[{"Type":"bind","Source":"/srv/web","Destination":"/data","RW":false},
                    {"Type":"volume","Name":"cache","Destination":"/cache","RW":true},
                    {"Type":"tmpfs","Destination":"/tmp"}]}"#,
        )
        .unwrap();
        let image = ImageConfig {
            id: "sha256:1".into(),
            entrypoint: Vec::new(),
            cmd: vec!["httpd".into()],
            env: vec!["FROM_IMAGE=1".into()],
            ..ImageConfig::default()
        };
        let text = toml::to_string(&component_table("web", &c, Some(&image)).table).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let expected: toml::Table = toml::from_str(
            r#"name = "web"
image = "r:5000/web:v1"
restart = "no"
user = "1000"
ports = ["5353:53/udp", "127.0.0.1:18080:8080"]
volumes = ["/srv/web:/data:ro", "cache:/cache"]
cmd = ["httpd", "-f", "-p", "8080"]
env = { MODE = "prod" }
memory_mb = 128
"#,
        )
        .unwrap();
        assert_eq!(table, expected);
    }
}

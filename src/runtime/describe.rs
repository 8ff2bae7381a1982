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

/// One `[[components]]` table from `podman container inspect`, leaving out
/// what the image itself provides (its environment and default command);
/// `image` is `None` when the image could not be inspected.
pub fn component_table(
    name: &str,
    c: &ContainerInspect,
    image: Option<&ImageConfig>,
) -> toml::Value {
    let mut t = toml::Table::new();
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
    if let Some(net) = c
        .network_settings
        .networks
        .as_ref()
        .and_then(|nets| nets.keys().find(|n| n.as_str() != "podman"))
    {
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
    let cmd = c.config.cmd.clone().unwrap_or_default();
    let image_cmd = image.map(|i| i.cmd.clone()).unwrap_or_default();
    if !cmd.is_empty() && cmd != image_cmd {
        t.insert(
            "cmd".into(),
            toml::Value::Array(cmd.into_iter().map(Into::into).collect()),
        );
    }
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
    toml::Value::Table(t)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        let text = toml::to_string(&component_table("web", &c, Some(&image))).unwrap();
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

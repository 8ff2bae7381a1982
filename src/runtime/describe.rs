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

/// One `[[components]]` table from `podman container inspect`, leaving out
/// what the image itself provides (its environment and default command).
pub fn component_table(name: &str, c: &Value, image: &Value) -> anyhow::Result<toml::Value> {
    let mut t = toml::Table::new();
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
    let cmd = strings(&c["Config"]["Cmd"]);
    if !cmd.is_empty() && cmd != strings(&image["Config"]["Cmd"]) {
        t.insert(
            "cmd".into(),
            toml::Value::Array(cmd.into_iter().map(Into::into).collect()),
        );
    }
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
    Ok(toml::Value::Table(t))
}

//! Service specs → Kubernetes objects: per service a Pod (or a Deployment), a Secret
//! holding its env values, and a PersistentVolumeClaim per named volume. Pure: the
//! notes (what does not carry over) are returned for the caller to print.

use std::collections::BTreeSet;

use super::kube_yaml::{Y, map, s};
use crate::spec::{ComponentSpec, HealthProbe, Protocol, RestartPolicy, RuntimeKind, ServiceSpec};

#[derive(Debug, Default)]
pub struct Export {
    pub documents: Vec<Y>,
    /// Things that do not carry over, one line each (stderr).
    pub notes: Vec<String>,
}

/// A DNS-1123 name (what Kubernetes object and container names must be).
pub fn dns_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() { c } else { '-' }
        })
        .collect();
    let s = s.trim_matches('-').chars().take(63).collect::<String>();
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "x".into() } else { s }
}

pub fn export(specs: &[ServiceSpec], deployment: bool) -> Export {
    let mut out = Export::default();
    let mut claims = BTreeSet::new();
    for spec in specs {
        let containers: Vec<&ComponentSpec> = spec
            .components
            .iter()
            .filter(|c| {
                let vm = c.runtime == RuntimeKind::Unikernel;
                if vm {
                    out.notes.push(format!(
                        "not exportable: {}/{}: a unikernel (a Nanos VM under qemu); Kubernetes and podman kube play run containers only",
                        spec.name, c.name
                    ));
                }
                !vm
            })
            .collect();
        if containers.is_empty() {
            continue;
        }
        let name = dns_name(&spec.name);
        let mut secret_data = Vec::new();
        let mut volumes: Vec<Y> = Vec::new();
        let mut pod_containers = Vec::new();
        let mut container_ports: BTreeSet<(u16, &str)> = BTreeSet::new();
        for c in &containers {
            pod_containers.push(container(
                spec,
                c,
                &name,
                &mut secret_data,
                &mut volumes,
                &mut claims,
                &mut out.notes,
            ));
            for p in &c.ports {
                let proto = proto(p.protocol);
                if !container_ports.insert((p.container_port, proto)) {
                    out.notes.push(format!(
                        "{}: two containers of the pod listen on {}/{proto}: containers of a pod share one network namespace",
                        spec.name, p.container_port
                    ));
                }
            }
        }
        if containers.len() > 1 {
            out.notes.push(format!(
                "{}: the containers of a pod reach each other at localhost, not by their mcp names `{}-<component>`",
                spec.name, spec.name
            ));
        }
        if !secret_data.is_empty() {
            out.documents.push(map([
                ("apiVersion", s("v1")),
                ("kind", s("Secret")),
                ("metadata", map([("name", s(format!("{name}-env")))])),
                ("type", s("Opaque")),
                ("stringData", Y::Map(secret_data)),
            ]));
        }
        let restart = restart_policy(spec, &containers, deployment, &mut out.notes);
        let labels = map([("app.kubernetes.io/name", s(&name))]);
        let mut pod_spec = map([("restartPolicy", s(restart))]);
        if let Some(grace) = stop_grace(&containers) {
            pod_spec.push("terminationGracePeriodSeconds", Y::Int(grace));
        }
        pod_spec.push("containers", Y::List(pod_containers));
        if !volumes.is_empty() {
            pod_spec.push("volumes", Y::List(volumes));
        }
        let doc = if deployment {
            map([
                ("apiVersion", s("apps/v1")),
                ("kind", s("Deployment")),
                (
                    "metadata",
                    map([("name", s(&name)), ("labels", labels.clone())]),
                ),
                (
                    "spec",
                    map([
                        ("replicas", Y::Int(1)),
                        ("selector", map([("matchLabels", labels.clone())])),
                        ("strategy", map([("type", s(strategy(&containers)))])),
                        (
                            "template",
                            map([("metadata", map([("labels", labels)])), ("spec", pod_spec)]),
                        ),
                    ]),
                ),
            ])
        } else {
            map([
                ("apiVersion", s("v1")),
                ("kind", s("Pod")),
                ("metadata", map([("name", s(&name)), ("labels", labels)])),
                ("spec", pod_spec),
            ])
        };
        out.documents.push(doc);
    }
    // Claims first: a cluster binds them before the pods that mount them start.
    let mut docs: Vec<Y> = claims
        .into_iter()
        .map(|claim| {
            map([
                ("apiVersion", s("v1")),
                ("kind", s("PersistentVolumeClaim")),
                ("metadata", map([("name", s(claim))])),
                (
                    "spec",
                    map([
                        ("accessModes", Y::List(vec![s("ReadWriteOnce")])),
                        (
                            "resources",
                            map([("requests", map([("storage", s("1Gi"))]))]),
                        ),
                    ]),
                ),
            ])
        })
        .collect();
    docs.append(&mut out.documents);
    out.documents = docs;
    out
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

/// A read-write volume means two instances must not overlap (stop-first in mcp).
fn strategy(containers: &[&ComponentSpec]) -> &'static str {
    let rw = containers.iter().any(|c| {
        c.volumes.iter().any(|v| {
            !v.options
                .as_deref()
                .is_some_and(|o| o.split(',').any(|x| x == "ro"))
        })
    });
    if rw { "Recreate" } else { "RollingUpdate" }
}

fn restart_policy(
    spec: &ServiceSpec,
    containers: &[&ComponentSpec],
    deployment: bool,
    notes: &mut Vec<String>,
) -> &'static str {
    let policies: BTreeSet<&str> = containers
        .iter()
        .map(|c| match c.restart {
            RestartPolicy::No => "Never",
            RestartPolicy::OnFailure => "OnFailure",
            RestartPolicy::Always | RestartPolicy::UnlessStopped => "Always",
        })
        .collect();
    let chosen = ["Always", "OnFailure", "Never"]
        .into_iter()
        .find(|p| policies.contains(p))
        .unwrap_or("Always");
    if policies.len() > 1 {
        notes.push(format!(
            "{}: components differ in restart policy; the pod's restartPolicy is {chosen}",
            spec.name
        ));
    }
    if deployment && chosen != "Always" {
        notes.push(format!(
            "{}: a Deployment always restarts its containers (restart = {chosen} in mcp)",
            spec.name
        ));
        return "Always";
    }
    chosen
}

/// The longest stop timeout of the pod's containers, in seconds, when one is set.
fn stop_grace(containers: &[&ComponentSpec]) -> Option<i64> {
    super::kube_extra::stop_timeouts(containers)
        .into_iter()
        .max()
        .map(|d| d.as_secs().max(1) as i64)
}

fn container(
    spec: &ServiceSpec,
    c: &ComponentSpec,
    pod: &str,
    secret: &mut Vec<(String, Y)>,
    volumes: &mut Vec<Y>,
    claims: &mut BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Y {
    let cname = dns_name(&c.name);
    let mut y = map([("name", s(&cname)), ("image", s(&c.image))]);
    if let Some(cmd) = &c.cmd {
        // mcp's cmd follows the image like podman run's arguments: the image's
        // ENTRYPOINT (if any) still runs, as with Kubernetes `args`.
        y.push("args", Y::List(cmd.iter().map(s).collect()));
    }
    if !c.env.is_empty() {
        let env = c
            .env
            .iter()
            .map(|(k, v)| {
                let key = format!("{cname}.{k}");
                secret.push((key.clone(), s(v)));
                map([
                    ("name", s(k)),
                    (
                        "valueFrom",
                        map([(
                            "secretKeyRef",
                            map([("name", s(format!("{pod}-env"))), ("key", s(key))]),
                        )]),
                    ),
                ])
            })
            .collect();
        y.push("env", Y::List(env));
    }
    if !c.ports.is_empty() {
        let ports = c
            .ports
            .iter()
            .map(|p| {
                let mut port = map([
                    ("containerPort", Y::Int(p.container_port.into())),
                    ("hostPort", Y::Int(p.host_port.into())),
                ]);
                if let Some(ip) = &p.host_ip {
                    port.push("hostIP", s(ip));
                }
                port.push("protocol", s(proto(p.protocol)));
                port
            })
            .collect();
        y.push("ports", Y::List(ports));
    }
    if !c.volumes.is_empty() {
        let mut mounts = Vec::new();
        for (i, v) in c.volumes.iter().enumerate() {
            let vol = dns_name(&format!("{cname}-{i}"));
            let ro = v
                .options
                .as_deref()
                .is_some_and(|o| o.split(',').any(|x| x == "ro"));
            let mut m = map([("name", s(&vol)), ("mountPath", s(&v.target))]);
            if ro {
                m.push("readOnly", Y::Bool(true));
            }
            mounts.push(m);
            let source = if v.source.starts_with('/') {
                map([("hostPath", map([("path", s(&v.source))]))])
            } else {
                let claim = dns_name(&v.source);
                if claim != v.source {
                    notes.push(format!(
                        "{}/{}: volume `{}` is claim `{claim}` (Kubernetes names allow no `_`); podman kube play creates a new volume of that name",
                        spec.name, c.name, v.source
                    ));
                }
                claims.insert(claim.clone());
                map([("persistentVolumeClaim", map([("claimName", s(claim))]))])
            };
            let mut entry = map([("name", s(&vol))]);
            if let Y::Map(extra) = source {
                for (k, v) in extra {
                    entry.push(&k, v);
                }
            }
            volumes.push(entry);
        }
        y.push("volumeMounts", Y::List(mounts));
    }
    let mut limits = Vec::new();
    if let Some(m) = c.memory_mb {
        limits.push(("memory".to_string(), s(format!("{m}Mi"))));
    }
    if let Some(n) = c.vcpus {
        limits.push(("cpu".to_string(), s(n.to_string())));
    }
    if !limits.is_empty() {
        y.push("resources", map([("limits", Y::Map(limits))]));
    }
    if let Some(u) = &c.user {
        let mut ctx = Vec::new();
        let (user, group) = u
            .split_once(':')
            .map_or((u.as_str(), None), |(a, b)| (a, Some(b)));
        match user.parse::<i64>() {
            Ok(uid) => ctx.push(("runAsUser".to_string(), Y::Int(uid))),
            Err(_) => notes.push(format!(
                "{}/{}: user `{user}` is a name; Kubernetes needs a numeric uid, so the image's user is used",
                spec.name, c.name
            )),
        }
        if let Some(gid) = group.and_then(|g| g.parse::<i64>().ok()) {
            ctx.push(("runAsGroup".to_string(), Y::Int(gid)));
        }
        if !ctx.is_empty() {
            y.push("securityContext", Y::Map(ctx));
        }
    }
    if let Some(h) = &c.health {
        let container_port = |host: u16| {
            c.ports
                .iter()
                .find(|p| p.host_port == host)
                .map_or(host, |p| p.container_port)
        };
        let probe = match &h.probe {
            HealthProbe::Tcp(port) => Some(map([(
                "tcpSocket",
                map([("port", Y::Int(container_port(*port).into()))]),
            )])),
            HealthProbe::Http(url) => http_probe(url, container_port),
            other => super::kube_extra::exec_probe(other),
        };
        if let Some(mut probe) = probe {
            let period = super::kube_extra::interval_secs(h);
            probe.push("periodSeconds", Y::Int(period));
            probe.push(
                "failureThreshold",
                Y::Int(((h.timeout.as_secs() as i64) / period).max(1)),
            );
            y.push("readinessProbe", probe);
        }
    }
    super::kube_extra::stop_signal_note(spec, c, notes);
    y
}

/// `http://host:port/path` → an httpGet probe on the container's port.
fn http_probe(url: &str, container_port: impl Fn(u16) -> u16) -> Option<Y> {
    let rest = url.strip_prefix("http://")?;
    let (host_port, path) = rest
        .split_once('/')
        .map_or((rest, "".to_string()), |(h, p)| (h, format!("/{p}")));
    let port = host_port
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(80);
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    Some(map([(
        "httpGet",
        map([
            ("path", s(path)),
            ("port", Y::Int(container_port(port).into())),
        ]),
    )]))
}

//! One compose service → one mcp component: the key-by-key mapping, and the table of
//! keys mcp has no equivalent for (each a warning or an error, never a silent drop).

use super::compose::{Component, Cx, Severity};
use super::compose_items as items;
use super::compose_top;
use super::yaml::Node;
use crate::spec::fields;

pub(super) enum Outcome {
    Component(Box<Component>),
    /// Left out on purpose, as `compose up` would leave it (e.g. profiles).
    Omitted(String),
    /// Left out because of an error (written without it only with --force).
    Skipped,
}

use Severity::{Error as E, Warning as W};

/// Keys with no mcp equivalent: severity and why.
const UNMAPPED: &[(&str, Severity, &str)] = &[
    (
        "container_name",
        W,
        "mcp names the container <service>-<component>",
    ),
    (
        "expose",
        W,
        "containers on one network reach each other's ports without it",
    ),
    ("labels", W, "mcp sets its own labels"),
    ("annotations", W, "mcp sets no annotations"),
    (
        "logging",
        W,
        "podman's default log driver is used; read logs with `mcp logs`",
    ),
    (
        "platform",
        W,
        "podman pulls the image for this host's platform",
    ),
    (
        "pull_policy",
        W,
        "mcp pulls when the image changes (`mcp deploy --pull`)",
    ),
    ("tty", W, "mcp runs containers without a terminal"),
    ("stdin_open", W, "mcp runs containers without stdin"),
    ("attach", W, "mcp does not attach to containers"),
    ("develop", W, "compose watch is a development feature"),
    (
        "mem_reservation",
        W,
        "a soft reservation; only the limit is kept",
    ),
    ("memswap_limit", W, "swap is left at podman's default"),
    ("mem_swappiness", W, "swap is left at podman's default"),
    (
        "cpu_shares",
        W,
        "relative CPU weight; only `cpus` limits are kept",
    ),
    ("cpu_period", W, "only `cpus` limits are kept"),
    ("cpu_quota", W, "only `cpus` limits are kept"),
    ("cpu_count", W, "only `cpus` limits are kept"),
    ("cpu_percent", W, "only `cpus` limits are kept"),
    ("cpu_rt_runtime", W, "only `cpus` limits are kept"),
    ("cpu_rt_period", W, "only `cpus` limits are kept"),
    (
        "blkio_config",
        W,
        "block I/O weights are left at podman's default",
    ),
    ("oom_score_adj", W, "left at podman's default"),
    ("pids_limit", W, "left at podman's default"),
    (
        "links",
        W,
        "mcp containers reach each other by container name `<service>-<component>` on a shared network",
    ),
    ("build", W, "mcp runs the image; `build:` is ignored"),
    ("scale", E, "mcp runs one container per component"),
    ("cap_add", E, "mcp sets no capabilities"),
    ("cap_drop", E, "mcp sets no capabilities"),
    ("privileged", E, "mcp runs no privileged containers"),
    ("devices", E, "mcp passes no devices"),
    ("device_cgroup_rules", E, "mcp passes no devices"),
    ("gpus", E, "mcp passes no devices"),
    ("security_opt", E, "mcp sets no security options"),
    ("sysctls", E, "mcp sets no sysctls"),
    ("ulimits", E, "mcp uses podman's default ulimits"),
    ("pid", E, "mcp shares no PID namespace"),
    ("ipc", E, "mcp shares no IPC namespace"),
    ("uts", E, "mcp shares no UTS namespace"),
    ("userns_mode", E, "mcp sets no user namespace"),
    ("cgroup", E, "mcp sets no cgroup namespace"),
    ("cgroup_parent", E, "mcp sets no cgroup parent"),
    (
        "read_only",
        E,
        "mcp does not make the root filesystem read-only",
    ),
    ("shm_size", E, "/dev/shm keeps podman's default size"),
    ("tmpfs", E, "mcp mounts no tmpfs"),
    ("extra_hosts", E, "mcp adds no /etc/hosts entries"),
    ("dns", E, "mcp sets no DNS servers"),
    ("dns_opt", E, "mcp sets no DNS options"),
    ("dns_search", E, "mcp sets no DNS search domains"),
    (
        "hostname",
        E,
        "the container's hostname is its id under mcp",
    ),
    ("domainname", E, "mcp sets no domain name"),
    ("mac_address", E, "mcp sets no MAC address"),
    (
        "working_dir",
        E,
        "mcp has no working directory setting; the image's WORKDIR is used",
    ),
    ("init", E, "mcp runs no init process in the container"),
    ("isolation", E, "not a Linux setting"),
    ("runtime", E, "mcp uses podman's configured OCI runtime"),
    ("storage_opt", E, "mcp sets no storage options"),
    ("volumes_from", E, "mcp mounts each volume explicitly"),
    (
        "secrets",
        E,
        "mcp has no secrets: pass them as env or a read-only bind mount",
    ),
    (
        "configs",
        E,
        "mcp has no configs: use a read-only bind mount",
    ),
    ("extends", E, "it is not followed; inline the base service"),
    ("group_add", E, "mcp adds no supplementary groups"),
    ("oom_kill_disable", E, "mcp keeps the OOM killer on"),
    ("external_links", E, "mcp links no containers"),
    ("post_start", E, "mcp runs no lifecycle hooks"),
    ("pre_stop", E, "mcp runs no lifecycle hooks"),
    ("credential_spec", E, "not a Linux setting"),
    (
        "network_mode",
        E,
        "mcp joins a network by name (`networks:`); no other network mode",
    ),
    ("use_api_socket", E, "mcp mounts no API socket"),
    ("provider", E, "mcp runs containers only"),
    ("models", E, "mcp runs containers only"),
];

const MAPPED: &[&str] = &[
    "image",
    "ports",
    "volumes",
    "environment",
    "env_file",
    "command",
    "entrypoint",
    "depends_on",
    "healthcheck",
    "restart",
    "user",
    "networks",
    "deploy",
    "mem_limit",
    "cpus",
    "stop_signal",
    "stop_grace_period",
    "profiles",
];

pub(super) fn service(cx: &mut Cx<'_>, name: &str, key_node: &Node, svc: &Node) -> Outcome {
    let at = format!("services.{name}");
    let Some(entries) = svc.as_map() else {
        cx.error(
            svc,
            &at,
            format!("a service must be a mapping, found {}", svc.kind()),
        );
        return Outcome::Skipped;
    };
    if let Some(p) = svc.get("profiles")
        && p.as_seq().is_some_and(|s| !s.is_empty())
    {
        cx.warn(
            p,
            &format!("{at}.profiles"),
            "not imported: `compose up` does not start a service with profiles unless its profile is enabled",
        );
        return Outcome::Omitted("has profiles".into());
    }
    let mut c = Component {
        name: cx
            .names
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string()),
        restart: "no".into(),
        at: (key_node.line, key_node.col),
        ..Component::default()
    };
    let mut service_ok = true;
    match svc.get("image") {
        Some(image) => {
            if let Some(s) = cx.text(image, &format!("{at}.image")) {
                match fields::check_image(&s) {
                    Ok(()) => c.image = s,
                    Err(e) => {
                        cx.error(image, &format!("{at}.image"), e);
                        service_ok = false;
                    }
                }
            } else {
                service_ok = false;
            }
        }
        None => {
            let at_node = svc.get("build").unwrap_or(key_node);
            let message = if svc.get("build").is_some() {
                "`build:` without `image:`: mcp runs images and does not build them; build and push the image, then name it in `image:`"
            } else {
                "no `image:`: mcp needs an image to run"
            };
            cx.error(at_node, &at, message);
            service_ok = false;
        }
    }

    let mut command: Option<Vec<String>> = None;
    let mut entrypoint: Option<(Vec<String>, Node)> = None;
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        let path = format!("{at}.{key}");
        match key {
            "image" | "profiles" => {}
            "ports" => c.ports = super::compose_mounts::ports(cx, v, &path),
            "volumes" => c.volumes = super::compose_mounts::volumes(cx, v, &path, &c.name),
            "environment" => items::environment(cx, v, &path, &mut c.env),
            "env_file" => {
                // environment wins over env_file, whatever the order in the file.
                let mut from_files = std::collections::BTreeMap::new();
                items::env_file(cx, v, &path, &mut from_files);
                for (k, v) in from_files {
                    c.env.entry(k).or_insert(v);
                }
            }
            "command" => command = items::command(cx, v, &path),
            "entrypoint" => {
                entrypoint = items::command(cx, v, &path).map(|e| (e, k.clone()));
            }
            "depends_on" => c.requires = items::depends_on(cx, v, &path),
            "healthcheck" => c.health = items::healthcheck(cx, v, &path),
            "restart" => {
                if let Some(r) = items::restart(cx, v, &path) {
                    c.restart = r;
                }
            }
            "user" => {
                if let Some(u) = cx.text(v, &path) {
                    if fields::is_user(&u) {
                        c.user = Some(u);
                    } else {
                        cx.error(
                            v,
                            &path,
                            format!(
                                "user `{}` is not a name or uid[:gid] mcp accepts",
                                fields::shown(&u)
                            ),
                        );
                    }
                }
            }
            "networks" => c.network = networks(cx, v, &path),
            "deploy" => items::deploy(cx, v, &path, &mut c),
            "mem_limit" => c.memory_mb = items::memory(cx, v, &path).or(c.memory_mb),
            "cpus" => c.vcpus = items::cpus(cx, v, &path).or(c.vcpus),
            "stop_signal" => {
                if let Some(sig) = cx.text(v, &path) {
                    match crate::spec::parse::normalize_signal(&sig) {
                        Some(norm) => c.stop_signal = Some(norm),
                        None => cx.error(
                            v,
                            &path,
                            format!(
                                "`{}` is not a signal that ends a process",
                                fields::shown(&sig)
                            ),
                        ),
                    }
                }
            }
            "stop_grace_period" => c.stop_timeout = items::stop_timeout(cx, v, &path),
            _ if key.starts_with("x-") => {}
            _ => match UNMAPPED.iter().find(|(k, _, _)| *k == key) {
                Some(("scale", _, _)) if v.as_str() == Some("1") => {}
                Some(("build", _, _)) if c.image.is_empty() => {}
                Some(("secrets" | "configs", _, _))
                    if v.as_seq().is_some_and(<[Node]>::is_empty) => {}
                Some((_, sev, why)) => {
                    cx.finding(k, *sev, &path, format!("`{key}` is not imported: {why}"));
                }
                None => {
                    let all: Vec<&str> = MAPPED
                        .iter()
                        .copied()
                        .chain(UNMAPPED.iter().map(|(k, _, _)| *k))
                        .collect();
                    let hint = crate::spec::diag::suggest(key, &all)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    cx.error(
                        k,
                        &path,
                        format!("unknown service key `{}`{hint}", fields::shown(key)),
                    );
                }
            },
        }
    }
    if svc.get("networks").is_none() {
        c.network = compose_top::network_name(cx, "default");
    }
    c.cmd = match (entrypoint, command) {
        (Some((e, node)), command) => {
            if e.is_empty() {
                cx.error(
                    &node,
                    &format!("{at}.entrypoint"),
                    "an empty entrypoint (clearing the image's) has no mcp equivalent",
                );
            } else {
                cx.warn(
                    &node,
                    &format!("{at}.entrypoint"),
                    "entrypoint and command become mcp's `cmd`: the same only when the image has no ENTRYPOINT of its own",
                );
            }
            Some(e.into_iter().chain(command.unwrap_or_default()).collect())
        }
        (None, command) => command,
    };
    if service_ok {
        Outcome::Component(Box::new(c))
    } else {
        Outcome::Skipped
    }
}

/// `networks:` (a list or a mapping): mcp joins one network per component.
fn networks(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<String> {
    let names: Vec<(String, &Node, Option<&Node>)> = if let Some(seq) = v.as_seq() {
        seq.iter()
            .filter_map(|n| n.as_str().map(|s| (s.to_string(), n, None)))
            .collect()
    } else if let Some(map) = v.as_map() {
        map.iter()
            .filter_map(|(k, opts)| k.as_str().map(|s| (s.to_string(), k, Some(opts))))
            .collect()
    } else {
        cx.error(
            v,
            path,
            format!("expected a list or a mapping, found {}", v.kind()),
        );
        return None;
    };
    let mut chosen = None;
    for (i, (name, node, opts)) in names.into_iter().enumerate() {
        let Some(podman) = compose_top::network_name(cx, &name) else {
            cx.error(
                node,
                path,
                format!(
                    "network `{}` is not declared under the top-level `networks:`",
                    fields::shown(&name)
                ),
            );
            continue;
        };
        if i > 0 {
            cx.error(
                node,
                path,
                format!(
                    "a second network `{}`: an mcp component joins one network",
                    fields::shown(&name)
                ),
            );
            continue;
        }
        if let Some(opts) = opts.and_then(Node::as_map) {
            for (ok, _) in opts {
                let opt = ok.as_str().unwrap_or_default();
                let sev = if opt == "aliases" {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                cx.finding(
                    ok,
                    sev,
                    &format!("{path}.{name}.{opt}"),
                    format!("network option `{opt}` is not imported: containers are reached by their name `<service>-<component>`"),
                );
            }
        }
        chosen = Some(podman);
    }
    chosen
}

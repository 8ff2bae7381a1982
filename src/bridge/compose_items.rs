//! The values of single compose service keys in mcp's syntax: environment, commands,
//! depends_on, healthcheck, restart and resource limits (ports and volumes: compose_mounts).

use std::collections::BTreeMap;
use std::time::Duration;

use super::compose::{Component, Cx, Health};
use super::values;
use super::yaml::Node;
use crate::spec::fields;

pub(super) fn seq<'n>(cx: &mut Cx<'_>, v: &'n Node, path: &str) -> &'n [Node] {
    match v.as_seq() {
        Some(s) => s,
        None => {
            if !v.is_null() {
                cx.error(v, path, format!("expected a list, found {}", v.kind()));
            }
            &[]
        }
    }
}

// ----- environment ------------------------------------------------------------------

pub(super) fn environment(
    cx: &mut Cx<'_>,
    v: &Node,
    path: &str,
    env: &mut BTreeMap<String, String>,
) {
    let mut put = |cx: &mut Cx<'_>, node: &Node, key: &str, value: Option<String>| {
        if !fields::is_env_key(key) {
            cx.error(
                node,
                path,
                format!(
                    "`{}` is not an environment variable name mcp accepts",
                    fields::shown(key)
                ),
            );
            return;
        }
        // `KEY` alone takes the value from the importing shell; unset stays unset.
        let value = value.or_else(|| cx.input.vars.env.get(key).cloned());
        if let Some(value) = value {
            env.insert(key.to_string(), value);
        }
    };
    if let Some(map) = v.as_map() {
        for (k, val) in map {
            let key = k.as_str().unwrap_or_default();
            let value = if val.is_null() {
                None
            } else {
                val.as_str().map(str::to_string)
            };
            put(cx, k, key, value);
        }
    } else {
        for item in seq(cx, v, path) {
            let Some(text) = item.as_str() else {
                cx.error(
                    item,
                    path,
                    format!("expected KEY=VALUE, found {}", item.kind()),
                );
                continue;
            };
            match text.split_once('=') {
                Some((k, val)) => put(cx, item, k, Some(val.to_string())),
                None => put(cx, item, text, None),
            }
        }
    }
}

pub(super) fn env_file(cx: &mut Cx<'_>, v: &Node, path: &str, env: &mut BTreeMap<String, String>) {
    let entries: Vec<(&Node, Option<String>, bool)> = match v.as_seq() {
        Some(s) => s
            .iter()
            .map(|n| match n.as_map() {
                Some(_) => (
                    n,
                    n.get("path").and_then(Node::as_str).map(str::to_string),
                    n.get("required").and_then(Node::as_bool).unwrap_or(true),
                ),
                None => (n, n.as_str().map(str::to_string), true),
            })
            .collect(),
        None => vec![(v, v.as_str().map(str::to_string), true)],
    };
    for (node, file, required) in entries {
        let Some(file) = file else {
            cx.error(node, path, "expected a file name");
            continue;
        };
        let full = cx.path(&file);
        match (cx.input.read_file)(&full) {
            Ok(text) => {
                let (vars, bad) = super::interp::parse_env_file(&text);
                for line in bad {
                    cx.error(
                        node,
                        path,
                        format!("{}:{line}: not a KEY=VALUE line", full.display()),
                    );
                }
                env.extend(vars);
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => cx.error(node, path, format!("cannot read {}: {e}", full.display())),
        }
    }
}

// ----- command, depends_on, restart ---------------------------------------------------

pub(super) fn command(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<Vec<String>> {
    if v.is_null() {
        return None;
    }
    if v.as_seq().is_some() {
        return cx.strings(v, path);
    }
    let text = cx.text(v, path)?;
    match values::shell_words(&text) {
        Ok(words) => Some(words),
        Err(e) => {
            cx.error(v, path, e);
            None
        }
    }
}

pub(super) fn depends_on(cx: &mut Cx<'_>, v: &Node, path: &str) -> Vec<String> {
    let mut targets: Vec<(&Node, String)> = Vec::new();
    if let Some(map) = v.as_map() {
        for (k, opts) in map {
            let name = k.as_str().unwrap_or_default().to_string();
            let at = format!("{path}.{name}");
            let condition = opts
                .get("condition")
                .and_then(Node::as_str)
                .unwrap_or("service_started");
            match condition {
                "service_started" | "service_healthy" => {}
                "service_completed_successfully" => {
                    cx.error(k, &at, "condition `service_completed_successfully` (a one-shot job) has no mcp equivalent: mcp waits for a dependency to run and be healthy");
                    continue;
                }
                other => {
                    cx.error(
                        k,
                        &at,
                        format!("unknown condition `{}`", fields::shown(other)),
                    );
                    continue;
                }
            }
            if opts.get("required").and_then(Node::as_bool) == Some(false) {
                cx.warn(
                    k,
                    &at,
                    "`required: false` is not imported: the dependency is required",
                );
            }
            if opts.get("restart").is_some() {
                cx.warn(k, &at, "`restart` is not imported: mcp does not restart dependents with their dependency");
            }
            targets.push((k, name));
        }
    } else {
        for item in seq(cx, v, path) {
            if let Some(name) = item.as_str() {
                targets.push((item, name.to_string()));
            }
        }
    }
    let mut out = Vec::new();
    for (node, name) in targets {
        match cx.names.get(&name) {
            Some(comp) => out.push(format!("{}/{comp}", cx.project)),
            None => cx.error(
                node,
                path,
                format!(
                    "depends on `{}`, which is not a service of this file",
                    fields::shown(&name)
                ),
            ),
        }
    }
    out
}

pub(super) fn restart(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<String> {
    let text = cx.text(v, path)?;
    let (policy, retries) = text
        .split_once(':')
        .map_or((text.as_str(), None), |(p, n)| (p, Some(n)));
    match policy {
        "no" | "always" | "unless-stopped" => Some(policy.to_string()),
        "on-failure" => {
            if let Some(n) = retries {
                cx.warn(v, path, format!("the retry limit {n} is not imported: mcp's on-failure restarts without a limit"));
            }
            Some(policy.to_string())
        }
        _ => {
            cx.error(
                v,
                path,
                format!(
                    "unknown restart policy `{}` (no, always, on-failure, unless-stopped)",
                    fields::shown(&text)
                ),
            );
            None
        }
    }
}

// ----- healthcheck ----------------------------------------------------------------------

/// Compose's defaults, which decide how long a check may keep failing.
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
const RETRIES: u32 = 3;

pub(super) fn healthcheck(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<Health> {
    if v.get("disable").and_then(Node::as_bool) == Some(true) {
        return None;
    }
    let dur = |cx: &mut Cx<'_>, key: &str| -> Option<Duration> {
        let node = v.get(key)?;
        let text = cx.text(node, &format!("{path}.{key}"))?;
        match values::duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.error(node, &format!("{path}.{key}"), e);
                None
            }
        }
    };
    let interval = dur(cx, "interval");
    let timeout = dur(cx, "timeout").unwrap_or(TIMEOUT);
    let start_period = dur(cx, "start_period").unwrap_or_default();
    let _ = dur(cx, "start_interval");
    let retries = match v.get("retries") {
        Some(n) => match n.as_str().and_then(|s| s.parse::<u32>().ok()) {
            Some(r) => r,
            None => {
                cx.error(n, &format!("{path}.retries"), "expected a whole number");
                RETRIES
            }
        },
        None => RETRIES,
    };
    let test = v.get("test")?;
    let cmd = match (test.as_seq(), test.as_str()) {
        (Some(_), _) => {
            let words = cx.strings(test, &format!("{path}.test"))?;
            match words.split_first() {
                Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
                Some((kind, rest)) if kind == "CMD-SHELL" => {
                    vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
                }
                Some((kind, _)) if kind == "NONE" => return None,
                _ => {
                    cx.error(
                        test,
                        &format!("{path}.test"),
                        "a test list starts with CMD, CMD-SHELL or NONE",
                    );
                    return None;
                }
            }
        }
        (None, Some(s)) => vec!["/bin/sh".into(), "-c".into(), s.to_string()],
        _ => {
            cx.error(
                test,
                &format!("{path}.test"),
                format!("expected a string or a list, found {}", test.kind()),
            );
            return None;
        }
    };
    if cmd.is_empty() {
        cx.error(test, &format!("{path}.test"), "the test command is empty");
        return None;
    }
    // mcp runs the first word as the program: an empty one (e.g. a variable
    // that expanded to nothing) would write a file that does not validate.
    if cmd[0].is_empty() {
        cx.error(
            test,
            &format!("{path}.test"),
            "the test command names no program to run",
        );
        return None;
    }
    // Compose gives up after start_period plus `retries` failed attempts; mcp's gate
    // timeout is that whole window (mcp's own interval is used between attempts).
    let per_try = interval.unwrap_or(INTERVAL) + timeout;
    let mut window = start_period + per_try * retries;
    if window > MAX_GATE {
        cx.warn(
            v,
            path,
            format!(
                "the check may fail for {}s; mcp's health timeout is at most 1h",
                window.as_secs()
            ),
        );
        window = MAX_GATE;
    }
    // mcp tries at least every 100ms, and at most once per timeout.
    let interval = interval.map(|i| {
        i.clamp(
            Duration::from_millis(100),
            window.max(Duration::from_secs(1)),
        )
    });
    let window = whole_secs(
        window
            .max(interval.unwrap_or_default())
            .max(Duration::from_secs(1)),
    );
    Some(Health {
        cmd,
        interval: interval.map(values::mcp_duration),
        timeout: values::mcp_duration(window),
    })
}

const MAX_GATE: Duration = Duration::from_secs(3600);

fn whole_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// `stop_grace_period` → `stop_timeout`: podman counts whole seconds, at most 1h.
pub(super) fn stop_timeout(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<String> {
    let text = cx.text(v, path)?;
    match values::duration(&text) {
        Ok(d) => {
            let mut secs = whole_secs(d);
            if secs != d {
                cx.warn(
                    v,
                    path,
                    format!(
                        "{text} is rounded up to {}s: podman counts whole seconds",
                        secs.as_secs()
                    ),
                );
            }
            if secs > MAX_GATE {
                cx.warn(
                    v,
                    path,
                    format!("{text} is more than mcp's maximum; 1h is written"),
                );
                secs = MAX_GATE;
            }
            Some(values::mcp_duration(secs))
        }
        Err(e) => {
            cx.error(v, path, e);
            None
        }
    }
}

// ----- deploy and limits ------------------------------------------------------------

pub(super) fn memory(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<u64> {
    let text = cx.text(v, path)?;
    match values::bytes(&text) {
        Ok(b) => {
            let mb = b.div_ceil(1 << 20);
            if mb < 16 {
                cx.warn(
                    v,
                    path,
                    format!("{text} is below mcp's minimum; 16 MiB is written"),
                );
                return Some(16);
            }
            Some(mb)
        }
        Err(e) => {
            cx.error(v, path, e);
            None
        }
    }
}

pub(super) fn cpus(cx: &mut Cx<'_>, v: &Node, path: &str) -> Option<u64> {
    let text = cx.text(v, path)?;
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n <= 256.0 => {
            let whole = n.ceil() as u64;
            if (whole as f64 - n).abs() > f64::EPSILON {
                cx.error(
                    v,
                    path,
                    format!("{n} CPUs: mcp limits whole CPUs (`vcpus`); --force writes {whole}"),
                );
            }
            Some(whole)
        }
        Ok(0.0) => None,
        _ => {
            cx.error(
                v,
                path,
                format!("`{}` is not a number of CPUs", fields::shown(&text)),
            );
            None
        }
    }
}

pub(super) fn deploy(cx: &mut Cx<'_>, v: &Node, path: &str, c: &mut Component) {
    let Some(entries) = v.as_map() else { return };
    for (k, val) in entries {
        let key = k.as_str().unwrap_or_default();
        let at = format!("{path}.{key}");
        match key {
            "resources" => {
                if let Some(limits) = val.get("limits") {
                    if let Some(m) = limits.get("memory") {
                        c.memory_mb = memory(cx, m, &format!("{at}.limits.memory"));
                    }
                    if let Some(n) = limits.get("cpus") {
                        c.vcpus = cpus(cx, n, &format!("{at}.limits.cpus"));
                    }
                    if limits.get("pids").is_some() {
                        cx.warn(
                            limits,
                            &format!("{at}.limits.pids"),
                            "a pids limit is not imported",
                        );
                    }
                }
                if let Some(r) = val.get("reservations") {
                    cx.warn(
                        r,
                        &format!("{at}.reservations"),
                        "reservations are not imported: only limits are",
                    );
                }
            }
            "replicas" if val.as_str() == Some("1") => {}
            "replicas" => cx.error(val, &at, "mcp runs one container per component"),
            "restart_policy" => {
                let cond = val.get("condition").and_then(Node::as_str).unwrap_or("any");
                c.restart = match cond {
                    "none" => "no",
                    "on-failure" => "on-failure",
                    _ => "always",
                }
                .into();
                if val.as_map().is_some_and(|m| m.len() > 1) {
                    cx.warn(val, &at, "only the restart condition is imported");
                }
            }
            _ => cx.warn(
                k,
                &at,
                format!("`deploy.{key}` is for a swarm; not imported"),
            ),
        }
    }
}

//! Compose's `ports` and `volumes` in podman's `-p` and `-v` syntax, one entry per port.

use super::compose::Cx;
use super::compose_items::seq;
use super::compose_top;
use super::yaml::Node;
use crate::spec::fields;

// ----- ports ------------------------------------------------------------------------

pub(super) fn ports(cx: &mut Cx<'_>, v: &Node, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, item) in seq(cx, v, path).iter().enumerate() {
        let at = format!("{path}[{i}]");
        let parsed = if item.as_map().is_some() {
            long_port(item)
        } else {
            match item.as_str() {
                Some(s) => short_port(s),
                None => Err(format!("expected a port, found {}", item.kind())),
            }
        };
        match parsed {
            Ok(list) => {
                for p in list {
                    match fields::parse_port(&p) {
                        Ok(_) => out.push(p),
                        Err(e) => cx.error(item, &at, format!("port `{p}`: {e}")),
                    }
                }
            }
            Err(e) => cx.error(item, &at, e),
        }
    }
    out
}

/// `[ip:][host[-host]:]container[-container][/proto]` → podman `-p` strings, one per port.
fn short_port(text: &str) -> Result<Vec<String>, String> {
    let (addr, proto) = match text.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (text, "tcp"),
    };
    let (ip, rest) = if let Some(s) = addr.strip_prefix('[') {
        let (ip, rest) = s
            .split_once("]:")
            .ok_or("an IPv6 host address must be [addr]:host:container")?;
        (Some(ip), rest)
    } else if addr.matches(':').count() == 2 {
        let (ip, rest) = addr.split_once(':').ok_or("unreachable: two colons")?;
        (Some(ip), rest)
    } else {
        (None, addr)
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    expand(ip, host, container, proto)
}

fn long_port(item: &Node) -> Result<Vec<String>, String> {
    let target = item
        .get("target")
        .and_then(Node::as_str)
        .ok_or("a port in the long syntax needs `target`")?;
    let published = item.get("published").and_then(Node::as_str).unwrap_or("");
    let ip = item.get("host_ip").and_then(Node::as_str);
    let proto = item.get("protocol").and_then(Node::as_str).unwrap_or("tcp");
    expand(ip, published, target, proto)
}

fn range(text: &str) -> Result<(u16, u16), String> {
    let num = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`{}` is not a port number", fields::shown(s)))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(format!("port range `{text}` runs backwards"));
            }
            Ok((a, b))
        }
        None => Ok((num(text)?, num(text)?)),
    }
}

fn expand(
    ip: Option<&str>,
    host: &str,
    container: &str,
    proto: &str,
) -> Result<Vec<String>, String> {
    if !matches!(proto, "tcp" | "udp") {
        return Err(format!(
            "protocol `{}`: mcp publishes tcp and udp",
            fields::shown(proto)
        ));
    }
    if host.is_empty() {
        return Err(format!(
            "container port {container} is published on a random host port: mcp publishes fixed ports; write HOST:{container}"
        ));
    }
    let (c0, c1) = range(container)?;
    let (h0, h1) = range(host)?;
    if h1 - h0 != c1 - c0 {
        return Err(format!(
            "host range {host} and container range {container} differ in size"
        ));
    }
    let ip = match ip.filter(|s| !s.is_empty()) {
        Some(ip) if ip.contains(':') => format!("[{ip}]:"),
        Some(ip) => format!("{ip}:"),
        None => String::new(),
    };
    let suffix = if proto == "udp" { "/udp" } else { "" };
    Ok((0..=(c1 - c0))
        .map(|k| format!("{ip}{}:{}{suffix}", h0 + k, c0 + k))
        .collect())
}

// ----- volumes ----------------------------------------------------------------------

pub(super) fn volumes(cx: &mut Cx<'_>, v: &Node, path: &str, component: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, item) in seq(cx, v, path).iter().enumerate() {
        let at = format!("{path}[{i}]");
        let spec = if item.as_map().is_some() {
            long_volume(cx, item, &at, component, i)
        } else if let Some(s) = item.as_str() {
            short_volume(cx, item, s, &at, component, i)
        } else {
            cx.error(
                item,
                &at,
                format!("expected a volume, found {}", item.kind()),
            );
            None
        };
        if let Some(spec) = spec {
            match fields::parse_volume(&spec) {
                Ok(_) => out.push(spec),
                Err(e) => cx.error(item, &at, format!("volume `{spec}`: {e}")),
            }
        }
    }
    out
}

fn short_volume(
    cx: &mut Cx<'_>,
    item: &Node,
    text: &str,
    at: &str,
    component: &str,
    i: usize,
) -> Option<String> {
    let mut parts = text.splitn(3, ':');
    let first = parts.next().unwrap_or_default();
    let Some(target) = parts.next() else {
        return anonymous(cx, item, at, component, i, first, None);
    };
    let mode = parts.next().filter(|m| !m.is_empty());
    let source = source(cx, item, at, first)?;
    Some(match mode {
        Some(m) => format!("{source}:{target}:{m}"),
        None => format!("{source}:{target}"),
    })
}

/// A bind source made absolute. Docker creates a missing one; podman refuses to start
/// the container, so a missing source is reported (the user creates it).
fn bind_source(cx: &mut Cx<'_>, item: &Node, at: &str, text: &str) -> String {
    let p = cx.path(text);
    if !(cx.input.exists)(&p) {
        cx.error(
            item,
            at,
            format!(
                "bind source {} does not exist: podman will not start the container without it; create it, then import",
                p.display()
            ),
        );
    }
    p.display().to_string()
}

/// A bind path made absolute, or a named volume's podman name.
fn source(cx: &mut Cx<'_>, item: &Node, at: &str, text: &str) -> Option<String> {
    if text.starts_with('/') || text.starts_with('.') || text.starts_with('~') {
        return Some(bind_source(cx, item, at, text));
    }
    match compose_top::volume_name(cx, text) {
        Some(name) => Some(name),
        None => {
            cx.error(
                item,
                at,
                format!(
                    "volume `{}` is not declared under the top-level `volumes:`",
                    fields::shown(text)
                ),
            );
            None
        }
    }
}

/// A container path alone: compose makes an anonymous volume; mcp names it so the next
/// sync finds it again.
fn anonymous(
    cx: &mut Cx<'_>,
    item: &Node,
    at: &str,
    component: &str,
    i: usize,
    target: &str,
    mode: Option<&str>,
) -> Option<String> {
    let name = format!("{}_{component}_{i}", cx.project).replace('-', "_");
    cx.warn(
        item,
        at,
        format!("anonymous volume at {target} becomes the named volume `{name}`"),
    );
    Some(match mode {
        Some(m) => format!("{name}:{target}:{m}"),
        None => format!("{name}:{target}"),
    })
}

fn long_volume(
    cx: &mut Cx<'_>,
    item: &Node,
    at: &str,
    component: &str,
    i: usize,
) -> Option<String> {
    let kind = item.get("type").and_then(Node::as_str).unwrap_or("volume");
    let Some(target) = item.get("target").and_then(Node::as_str) else {
        cx.error(item, at, "a volume in the long syntax needs `target`");
        return None;
    };
    let mut opts: Vec<&str> = Vec::new();
    if item.get("read_only").and_then(Node::as_bool) == Some(true) {
        opts.push("ro");
    }
    if let Some(bind) = item.get("bind") {
        if let Some(sel) = bind.get("selinux").and_then(Node::as_str) {
            opts.push(if sel == "Z" { "Z" } else { "z" });
        }
        if let Some(p) = bind.get("propagation").and_then(Node::as_str) {
            match [
                "shared", "rshared", "slave", "rslave", "private", "rprivate",
            ]
            .iter()
            .find(|o| **o == p)
            {
                Some(o) => opts.push(o),
                None => cx.error(
                    bind,
                    at,
                    format!("bind propagation `{}` is unknown", fields::shown(p)),
                ),
            }
        }
    }
    if item
        .get("volume")
        .and_then(|v| v.get("nocopy"))
        .and_then(Node::as_bool)
        == Some(true)
    {
        opts.push("nocopy");
    }
    let mode = (!opts.is_empty()).then(|| opts.join(","));
    match kind {
        "volume" | "bind" => {
            let Some(src) = item
                .get("source")
                .and_then(Node::as_str)
                .filter(|s| !s.is_empty())
            else {
                return anonymous(cx, item, at, component, i, target, mode.as_deref());
            };
            let source = if kind == "bind" && !src.starts_with(['/', '.', '~']) {
                // A bind source without a leading `./` is still a path.
                bind_source(cx, item, at, src)
            } else {
                source(cx, item, at, src)?
            };
            Some(match mode {
                Some(m) => format!("{source}:{target}:{m}"),
                None => format!("{source}:{target}"),
            })
        }
        other => {
            cx.error(
                item,
                at,
                format!("a `{}` mount has no mcp equivalent", fields::shown(other)),
            );
            None
        }
    }
}

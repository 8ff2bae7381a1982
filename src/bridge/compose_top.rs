//! Top-level `volumes:` and `networks:` of a compose file: which names they give the
//! podman volumes and networks, and which of their options mcp cannot reproduce.

use super::compose::Cx;
use super::yaml::Node;

/// Options of a top-level volume/network that only document or label it.
const HARMLESS: &[&str] = &["labels", "name", "external"];

pub(super) fn check_top_level(cx: &mut Cx<'_>) {
    for (section, what) in [("volumes", "volume"), ("networks", "network")] {
        let top = match section {
            "volumes" => cx.top_volumes.clone(),
            _ => cx.top_networks.clone(),
        };
        let Some(top) = top else { continue };
        if top.is_null() {
            continue;
        }
        let Some(entries) = top.as_map() else {
            cx.error(
                &top,
                section,
                format!("`{section}` must be a mapping, found {}", top.kind()),
            );
            continue;
        };
        for (k, v) in entries {
            let name = k.as_str().unwrap_or_default();
            let Some(opts) = v.as_map() else { continue };
            for (ok, ov) in opts {
                let opt = ok.as_str().unwrap_or_default();
                let key = format!("{section}.{name}.{opt}");
                match opt {
                    _ if HARMLESS.contains(&opt) || opt.starts_with("x-") => {}
                    "driver" if matches!(ov.as_str(), Some("local" | "bridge")) => {}
                    "driver" | "driver_opts" | "ipam" | "internal" | "enable_ipv6" | "attachable" => cx.error(
                        ok,
                        &key,
                        format!("{what} option `{opt}` has no mcp equivalent: mcp lets podman create a default {what}"),
                    ),
                    _ => cx.warn(ok, &key, format!("{what} option `{opt}` is not imported")),
                }
            }
        }
    }
}

fn declared<'n>(top: &'n Option<Node>, name: &str) -> Option<&'n Node> {
    top.as_ref()?
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
}

/// The podman name of a top-level volume or network: its `name:`, the bare key when
/// `external`, else `<project>_<key>` as compose names it. `None` when undeclared.
fn podman_name(cx: &Cx<'_>, top: &Option<Node>, key: &str) -> Option<String> {
    let def = declared(top, key)?;
    if let Some(name) = def.get("name").and_then(Node::as_str) {
        return Some(name.to_string());
    }
    if def.get("external").and_then(Node::as_bool) == Some(true) {
        return Some(key.to_string());
    }
    Some(format!("{}_{key}", cx.project))
}

pub(super) fn volume_name(cx: &Cx<'_>, key: &str) -> Option<String> {
    podman_name(cx, &cx.top_volumes, key)
}

/// A network's podman name; `default` exists without being declared.
pub(super) fn network_name(cx: &Cx<'_>, key: &str) -> Option<String> {
    podman_name(cx, &cx.top_networks, key)
        .or_else(|| (key == "default").then(|| format!("{}_default", cx.project)))
}

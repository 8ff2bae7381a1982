//! Compose file (compose-spec) → one mcp service: each compose service a component.
//!
//! Pure: the caller reads the files and passes their text and variables in; the result
//! is a model of the service to write plus every finding with its line. Errors mark
//! what would run differently (the caller refuses to write unless forced); warnings
//! mark what is dropped without changing how the containers run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::interp::{self, Vars};
use super::yaml::{self, Node, Value};
use crate::spec::fields;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    /// Where in the file, as a key path: `services.web.ports[1]`.
    pub key: String,
    pub message: String,
}

/// One component to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Component {
    pub name: String,
    pub image: String,
    pub network: Option<String>,
    pub user: Option<String>,
    pub restart: String,
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub requires: Vec<String>,
    pub memory_mb: Option<u64>,
    pub vcpus: Option<u64>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<String>,
    pub health: Option<Health>,
    /// Line and column of the compose service's key, for findings about it.
    pub at: (usize, usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub cmd: Vec<String>,
    pub interval: Option<String>,
    pub timeout: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The mcp service name.
    pub service: String,
    pub components: Vec<Component>,
    pub findings: Vec<Finding>,
    /// Compose services left out because of an error (written only with --force).
    pub skipped: Vec<String>,
    /// Compose services left out on purpose (profiles), with the reason.
    pub omitted: Vec<(String, String)>,
}

impl Imported {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// What the importer reads besides the compose text.
pub struct Input<'a> {
    pub source: &'a str,
    /// The compose file's directory: relative paths (binds, env_file) resolve here.
    pub dir: &'a Path,
    pub vars: &'a Vars,
    /// `--project`, which wins over `name:` and the directory name.
    pub project: Option<&'a str>,
    /// Reads an `env_file` (a seam so that tests need no files).
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<String>,
    /// Whether a host path exists (bind sources are checked).
    pub exists: &'a dyn Fn(&Path) -> bool,
}

pub(super) struct Cx<'a> {
    pub input: &'a Input<'a>,
    pub findings: Vec<Finding>,
    pub project: String,
    pub top_volumes: Option<Node>,
    pub top_networks: Option<Node>,
    /// Compose service name → component name, for depends_on.
    pub names: BTreeMap<String, String>,
}

impl Cx<'_> {
    pub fn finding(
        &mut self,
        node: &Node,
        severity: Severity,
        key: &str,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            line: node.line,
            column: node.col,
            severity,
            key: key.to_string(),
            message: message.into(),
        });
    }
    pub fn warn(&mut self, node: &Node, key: &str, message: impl Into<String>) {
        self.finding(node, Severity::Warning, key, message);
    }
    pub fn error(&mut self, node: &Node, key: &str, message: impl Into<String>) {
        self.finding(node, Severity::Error, key, message);
    }

    /// A scalar as text, or an error finding.
    pub fn text(&mut self, node: &Node, key: &str) -> Option<String> {
        match node.as_str() {
            Some(s) if !node.is_null() => Some(s.to_string()),
            _ => {
                self.error(
                    node,
                    key,
                    format!("expected a value, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A string or a list of strings (`command`, `env_file`, ...).
    pub fn strings(&mut self, node: &Node, key: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(self.text(item, &format!("{key}[{i}]"))?);
                }
                Some(out)
            }
            _ => self.text(node, key).map(|s| vec![s]),
        }
    }

    /// A path from the file, made absolute against the compose file's directory.
    pub fn path(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/")
            && let Some(home) = self.input.vars.env.get("HOME")
        {
            return Path::new(home).join(rest);
        }
        normalize(&self.input.dir.join(text))
    }
}

/// Removes `.` and resolves `..` lexically (the path may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component as C;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            C::CurDir => {}
            C::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `[a-z0-9][a-z0-9_]*` from any name: lower case, other characters as `_`.
pub fn service_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_start_matches('_').chars().take(63).collect();
    if s.is_empty() { "compose".into() } else { s }
}

fn component_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s.trim_start_matches(['_', '-']).chars().take(63).collect();
    if s.is_empty() { "main".into() } else { s }
}

const TOP_KEYS: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models",
];

/// Maps a compose file. Never fails: problems are findings.
pub fn import(input: &Input<'_>) -> Imported {
    let mut cx = Cx {
        input,
        findings: Vec::new(),
        project: String::new(),
        top_volumes: None,
        top_networks: None,
        names: BTreeMap::new(),
    };
    let dir_name = input
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Imported {
        service: service_name(input.project.unwrap_or(&dir_name)),
        components: Vec::new(),
        findings: Vec::new(),
        skipped: Vec::new(),
        omitted: Vec::new(),
    };
    let root = match yaml::parse(input.source) {
        Ok(Some(root)) => root,
        Ok(None) => {
            cx.findings.push(Finding {
                line: 1,
                column: 1,
                severity: Severity::Error,
                key: String::new(),
                message: "the file is empty: a compose file needs `services:`".into(),
            });
            out.findings = cx.findings;
            return out;
        }
        Err(e) => {
            cx.findings.push(Finding {
                line: e.line,
                column: e.col,
                severity: Severity::Error,
                key: String::new(),
                message: format!("not valid YAML: {}", e.message),
            });
            out.findings = cx.findings;
            return out;
        }
    };
    let root = interpolate_tree(&mut cx, root, "");
    let Some(entries) = root.as_map() else {
        cx.error(
            &root,
            "",
            format!("the top level must be a mapping, found {}", root.kind()),
        );
        out.findings = cx.findings;
        return out;
    };

    // The project name: --project, else `name:`, else the directory.
    let raw_name = match (input.project, root.get("name")) {
        (Some(p), _) => p.to_string(),
        (None, Some(n)) => cx.text(n, "name").unwrap_or(dir_name.clone()),
        (None, None) => dir_name.clone(),
    };
    cx.project = service_name(&raw_name);
    if cx.project != raw_name {
        let at = root.get("name").unwrap_or(&root).clone();
        cx.warn(
            &at,
            "name",
            format!(
                "project name `{}` becomes the mcp service name `{}` (lower case letters, digits and `_` only)",
                fields::shown(&raw_name),
                cx.project
            ),
        );
    }
    out.service = cx.project.clone();
    cx.top_volumes = root.get("volumes").cloned();
    cx.top_networks = root.get("networks").cloned();

    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        match key {
            "version" | "name" | "services" | "volumes" | "networks" => {}
            _ if key.starts_with("x-") => {}
            "secrets" | "configs" => cx.warn(
                k,
                key,
                format!("top-level `{key}` is not imported (mcp has no {key}); services that use them are reported"),
            ),
            "include" => cx.error(
                v,
                key,
                "`include` is not followed: import each included file on its own",
            ),
            _ => {
                let hint = crate::spec::diag::suggest(key, TOP_KEYS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                cx.error(k, key, format!("unknown top-level key `{}`{hint}", fields::shown(key)));
            }
        }
    }
    super::compose_top::check_top_level(&mut cx);

    let Some(services) = root.get("services") else {
        cx.error(&root, "services", "no `services:`: nothing to import");
        out.findings = cx.findings;
        return out;
    };
    let Some(services) = services.as_map() else {
        cx.error(
            services,
            "services",
            format!("`services` must be a mapping, found {}", services.kind()),
        );
        out.findings = cx.findings;
        return out;
    };
    // Names first: depends_on may point forward.
    for (k, _) in services {
        if let Some(name) = k.as_str() {
            let comp = component_name(name);
            if comp != name {
                cx.warn(
                    k,
                    &format!("services.{name}"),
                    format!(
                        "compose service `{}` becomes component `{comp}`",
                        fields::shown(name)
                    ),
                );
            }
            if cx.names.values().any(|c| c == &comp) {
                cx.error(
                    k,
                    &format!("services.{name}"),
                    format!("two compose services map to component `{comp}`"),
                );
            }
            cx.names.insert(name.to_string(), comp);
        }
    }
    for (k, svc) in services {
        let name = k.as_str().unwrap_or_default().to_string();
        let before = cx.findings.len();
        match super::compose_service::service(&mut cx, &name, k, svc) {
            super::compose_service::Outcome::Component(c) => out.components.push(*c),
            super::compose_service::Outcome::Omitted(why) => out.omitted.push((name, why)),
            super::compose_service::Outcome::Skipped => out.skipped.push(name),
        }
        debug_assert!(cx.findings.len() >= before);
    }
    // A dependency on a service that is not written cannot be kept.
    let written: Vec<String> = out.components.iter().map(|c| c.name.clone()).collect();
    let project = cx.project.clone();
    for c in &mut out.components {
        c.requires
            .retain(|r| written.iter().any(|w| *r == format!("{project}/{w}")));
    }
    warn_service_hostnames(&mut cx, &out.components);
    if out.components.is_empty() && !cx.findings.iter().any(|f| f.severity == Severity::Error) {
        cx.error(&root, "services", "no service to import");
    }
    out.findings = cx.findings;
    out.findings.sort_by_key(|f| (f.line, f.column));
    out
}

/// Interpolates every scalar value (not keys), as compose does before anything else.
fn interpolate_tree(cx: &mut Cx<'_>, mut node: Node, key: &str) -> Node {
    match &mut node.value {
        Value::Scalar { text, .. } => {
            if text.contains('$') {
                for name in interp::unset_bare(text, cx.input.vars) {
                    cx.findings.push(Finding {
                        line: node.line,
                        column: node.col,
                        severity: Severity::Warning,
                        key: key.to_string(),
                        message: format!("variable {name} is not set: it becomes an empty string"),
                    });
                }
                match interp::interpolate(text, cx.input.vars) {
                    Ok(s) => *text = s,
                    Err(e) => {
                        // Compose refuses the file; with --force the value is empty.
                        text.clear();
                        cx.findings.push(Finding {
                            line: node.line,
                            column: node.col,
                            severity: Severity::Error,
                            key: key.to_string(),
                            message: e,
                        });
                    }
                }
            }
            node
        }
        Value::Seq(items) => {
            let items = std::mem::take(items);
            node.value = Value::Seq(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| interpolate_tree(cx, n, &format!("{key}[{i}]")))
                    .collect(),
            );
            node
        }
        Value::Map(entries) => {
            let entries = std::mem::take(entries);
            node.value = Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let path = match (key, k.as_str()) {
                            ("", Some(s)) => s.to_string(),
                            (_, Some(s)) => format!("{key}.{s}"),
                            _ => key.to_string(),
                        };
                        (k, interpolate_tree(cx, v, &path))
                    })
                    .collect(),
            );
            node
        }
    }
}

/// Compose gives each container its service name as a network alias; mcp's containers
/// answer to `<service>-<component>` only. A value that names a sibling as a host is
/// reported, so the user can point it at the new name.
fn warn_service_hostnames(cx: &mut Cx<'_>, components: &[Component]) {
    let names: Vec<(String, String)> = cx
        .names
        .iter()
        .filter(|(_, comp)| components.iter().any(|c| &c.name == *comp))
        .map(|(n, c)| (n.clone(), c.clone()))
        .collect();
    for c in components {
        // A whole value counts as a host name only under a key that says so.
        let values = c
            .env
            .iter()
            .map(|(k, v)| (v, ["HOST", "ADDR", "SERVER"].iter().any(|h| k.contains(h))))
            .chain(c.cmd.iter().flatten().map(|w| (w, false)));
        let mut hits: Vec<&str> = Vec::new();
        for (v, whole) in values {
            for (compose_name, _) in &names {
                let named = names_host(v, compose_name) || (whole && v == compose_name);
                if named && !hits.contains(&compose_name.as_str()) {
                    hits.push(compose_name);
                }
            }
        }
        for host in hits {
            let comp = &cx.names[host];
            let node = Node {
                line: c.at.0,
                col: c.at.1,
                value: Value::Seq(Vec::new()),
            };
            let message = format!(
                "a value names host `{host}`: under mcp that container is `{}-{comp}` (no `{host}` alias); change the value",
                cx.project
            );
            let own = cx
                .names
                .iter()
                .find(|(_, comp)| **comp == c.name)
                .map_or(c.name.clone(), |(n, _)| n.clone());
            cx.warn(&node, &format!("services.{own}"), message);
        }
    }
}

/// `host` appears as a host name in `value`: `host:5432`, `//host/`, `user@host`.
fn names_host(value: &str, host: &str) -> bool {
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    value.match_indices(host).any(|(i, _)| {
        let before = value[..i].chars().next_back();
        let after = value[i + host.len()..].chars().next();
        before.is_none_or(|c| !is_part(c) && c != '$')
            && after.is_none_or(|c| !is_part(c))
            && (before.is_some_and(|c| matches!(c, '/' | '@')) || after.is_some_and(|c| c == ':'))
    })
}

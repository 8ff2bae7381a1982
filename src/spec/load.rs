//! Loads every service file of a directory, validates each and then the set
//! as a whole. Nothing is returned unless every file is valid.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::diag::{Diagnostic, InvalidSpecs};
use super::model::{PortSpec, ServiceSpec};
use super::parse::{FileReader, ParsedService};

/// Larger files are refused before parsing: no real service needs them.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Loads and validates `dir`. Invalid input yields an [`InvalidSpecs`] error;
/// an unreadable directory yields an I/O error with context.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<ServiceSpec>> {
    let files = service_files(dir)?;
    let mut diagnostics = Vec::new();
    let mut parsed = Vec::new();
    let mut broken = BTreeSet::new();
    for file in &files {
        // A file with errors still takes part in the cross-file checks (with the
        // components that could be read), so that every problem is reported at once.
        let (p, d) = read_file(dir, file);
        if !d.is_empty() {
            broken.insert(super::requires::stem(file));
            broken.extend(p.as_ref().map(|p| p.spec.name.clone()));
        }
        parsed.extend(p);
        diagnostics.extend(d);
    }
    diagnostics.extend(cross_file_checks(&parsed));
    diagnostics.extend(super::requires::check(&parsed, &broken));
    if diagnostics.is_empty() {
        Ok(parsed.into_iter().map(|p| p.spec).collect())
    } else {
        diagnostics.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
        diagnostics.dedup();
        Err(InvalidSpecs(diagnostics).into())
    }
}

/// The `*.toml` files of the directory, sorted; hidden files are skipped.
fn service_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "services directory {} does not exist (create it, or point --services / MCP_SERVICES at one)",
                dir.display()
            )
        }
        Err(e) => {
            return Err(e).with_context(|| format!("reading services directory {}", dir.display()));
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.with_context(|| format!("reading services directory {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".toml") {
            continue;
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// Reads one file: what could be parsed, and every diagnostic found in it.
fn read_file(dir: &Path, file: &Path) -> (Option<ParsedService>, Vec<Diagnostic>) {
    match read_source(dir, file) {
        Ok(source) => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut reader = FileReader::new(file, &source);
            let parsed = reader.read_service(&stem);
            (parsed, reader.diagnostics)
        }
        Err(d) => (None, d),
    }
}

/// The file's text, after the checks that come before parsing: a regular file
/// inside the services directory, not too large, valid UTF-8.
fn read_source(dir: &Path, file: &Path) -> Result<String, Vec<Diagnostic>> {
    let at_start = |message: String, hint: &str| {
        vec![Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            col: 1,
            message,
            hint: Some(hint.to_string()),
        }]
    };
    let meta = fs::symlink_metadata(file).map_err(|e| {
        at_start(
            format!("cannot read file: {e}"),
            "check the file's permissions",
        )
    })?;
    if meta.file_type().is_symlink() {
        let target = fs::canonicalize(file).map_err(|e| {
            let to = fs::read_link(file)
                .map(|t| format!(" to {}", t.display()))
                .unwrap_or_default();
            at_start(
                format!("broken symlink{to}: {e}"),
                "remove the link or restore its target",
            )
        })?;
        let root = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !target.starts_with(&root) {
            return Err(at_start(
                format!(
                    "symlink points outside the services directory, to {}",
                    target.display()
                ),
                "copy the file into the services directory instead of linking to it",
            ));
        }
    }
    let meta = fs::metadata(file).map_err(|e| {
        at_start(
            format!("cannot read file: {e}"),
            "check the file's permissions",
        )
    })?;
    if meta.is_dir() {
        return Err(at_start(
            "this is a directory, not a service file".into(),
            "move or rename it: every *.toml entry of the services directory must be a service file",
        ));
    }
    if !meta.is_file() {
        return Err(at_start(
            "not a regular file".into(),
            "remove it from the services directory",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(at_start(
            format!(
                "file is {} bytes, over the limit of {MAX_FILE_BYTES}",
                meta.len()
            ),
            "a service file should be a few kilobytes; split or trim it",
        ));
    }
    let bytes = fs::read(file).map_err(|e| {
        at_start(
            format!("cannot read file: {e}"),
            "check the file's permissions",
        )
    })?;
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let (line, col) = super::diag::line_col(&text, valid);
            return Err(vec![Diagnostic {
                file: file.to_path_buf(),
                line,
                col,
                message: "file is not valid UTF-8".into(),
                hint: Some("save the file as UTF-8".into()),
            }]);
        }
    };
    Ok(source)
}

/// Checks that need every service at once: duplicate names and host port clashes.
pub(super) fn cross_file_checks(parsed: &[ParsedService]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut names: BTreeMap<&str, &Path> = BTreeMap::new();
    for p in parsed {
        if let Some(first) = names.insert(&p.spec.name, &p.spec.file) {
            out.push(Diagnostic {
                file: p.spec.file.clone(),
                line: 1,
                col: 1,
                message: format!(
                    "duplicate service `{}`, also defined in {}",
                    p.spec.name,
                    first.display()
                ),
                hint: Some("each service must be defined in exactly one file".into()),
            });
        }
    }
    // (port, owner, file, line, col) of every publication seen so far.
    let mut published: Vec<(&PortSpec, String, &Path, usize, usize)> = Vec::new();
    for p in parsed {
        for (ci, c) in p.spec.components.iter().enumerate() {
            for (pi, port) in c.ports.iter().enumerate() {
                let owner = format!("{}/{}", p.spec.name, c.name);
                let (line, col) = p.port_positions.get(&(ci, pi)).copied().unwrap_or((1, 1));
                if let Some((q, other, other_file, l, c)) =
                    published.iter().find(|(q, ..)| ports_clash(q, port))
                {
                    let other = if *other == owner {
                        "the same component".to_string()
                    } else {
                        other.clone()
                    };
                    out.push(Diagnostic {
                        file: p.spec.file.clone(),
                        line,
                        col,
                        message: format!(
                            "host port {} of {owner} is already published by {other} (`{q}` at {}:{l}:{c})",
                            port.host_port,
                            other_file.display()
                        ),
                        hint: Some(
                            "publish each host port once; a port without an IP (or with 0.0.0.0 or ::) takes every address".into(),
                        ),
                    });
                }
                published.push((port, owner, &p.spec.file, line, col));
            }
        }
    }
    out
}

/// Two publications clash when protocol and port match and their addresses
/// overlap (an unspecified or wildcard address overlaps every address).
fn ports_clash(a: &PortSpec, b: &PortSpec) -> bool {
    let wildcard = |ip: &Option<String>| ip.as_deref().is_none_or(|s| s == "0.0.0.0" || s == "::");
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (wildcard(&a.host_ip) || wildcard(&b.host_ip) || a.host_ip == b.host_ip)
}

//! Writes an imported compose project as an mcp service file, keys in the README's
//! order so the file reads like a hand-written one.

use std::fmt::Write;

use super::compose::{Component, Imported};

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", parts.join(", "))
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        q(k)
    }
}

/// The service file's text; `origin` names the compose file in the header comment.
pub fn render(imported: &Imported, origin: &str) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail: the `let _` below drop infallible results.
    let _ = writeln!(out, "# Imported by `mcp import compose` from {origin}");
    let _ = writeln!(out, "comment = {}", q(&format!("imported from {origin}")));
    for c in &imported.components {
        out.push('\n');
        component(&mut out, c);
    }
    out
}

fn component(out: &mut String, c: &Component) {
    let _ = writeln!(out, "[[components]]");
    let _ = writeln!(out, "name = {}", q(&c.name));
    let _ = writeln!(out, "image = {}", q(&c.image));
    if let Some(n) = &c.network {
        let _ = writeln!(out, "network = {}", q(n));
    }
    if let Some(u) = &c.user {
        let _ = writeln!(out, "user = {}", q(u));
    }
    let _ = writeln!(out, "restart = {}", q(&c.restart));
    if !c.requires.is_empty() {
        let _ = writeln!(out, "requires = {}", list(&c.requires));
    }
    if !c.ports.is_empty() {
        let _ = writeln!(out, "ports = {}", list(&c.ports));
    }
    if !c.volumes.is_empty() {
        let _ = writeln!(out, "volumes = {}", list(&c.volumes));
    }
    if let Some(cmd) = &c.cmd {
        let _ = writeln!(out, "cmd = {}", list(cmd));
    }
    if let Some(m) = c.memory_mb {
        let _ = writeln!(out, "memory_mb = {m}");
    }
    if let Some(n) = c.vcpus {
        let _ = writeln!(out, "vcpus = {n}");
    }
    if let Some(s) = &c.stop_signal {
        let _ = writeln!(out, "stop_signal = {}", q(s));
    }
    if let Some(t) = &c.stop_timeout {
        let _ = writeln!(out, "stop_timeout = {}", q(t));
    }
    if !c.env.is_empty() {
        let _ = writeln!(out, "\n[components.env]");
        for (k, v) in &c.env {
            let _ = writeln!(out, "{} = {}", key(k), q(v));
        }
    }
    if let Some(h) = &c.health {
        let _ = writeln!(out, "\n[components.health]");
        let _ = writeln!(out, "cmd = {}", list(&h.cmd));
        if let Some(i) = &h.interval {
            let _ = writeln!(out, "interval = {}", q(i));
        }
        let _ = writeln!(out, "timeout = {}", q(&h.timeout));
    }
}

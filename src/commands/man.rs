//! `mcp man [COMMAND]`: print man pages generated from the CLI definition,
//! with the sections clap does not know about (exit status, environment,
//! files).

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::cli::Cli;
use crate::exit::UsageError;

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success, or nothing to do."),
    ("1", "An operation failed (the error says which and why)."),
    ("2", "Usage error."),
    (
        "3",
        "status --check found drift, or sync --dry-run has pending changes.",
    ),
    (
        "65",
        "Invalid service definitions, or a compose file that import compose cannot map without --force; nothing was changed.",
    ),
    (
        "75",
        "Another mcp holds the lock and did not release it within --lock-wait.",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("MCP_CONFIG", "Configuration file, as --config."),
    ("MCP_SERVICES", "Services directory, as --services."),
    ("MCP_DB", "Registry file, as --db."),
    ("MCP_STATE_DIR", "State directory, as --state-dir."),
    ("MCP_LOCK_WAIT", "Lock wait, as --lock-wait (default 2m)."),
    (
        "NO_COLOR",
        "When set and not empty, output carries no colour.",
    ),
    (
        "XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_STATE_HOME",
        "Base directories for a non-root user.",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "/etc/mcp/mcp.toml",
        "Configuration file as root (else $XDG_CONFIG_HOME/mcp/mcp.toml). Keys: services, db, state_dir, lock_wait (default 2m); [podman] path, timeout (limit of each podman call, default 2m), pull_timeout (limit of a pull, default 15m), skopeo (path of skopeo for mcp update, default: on PATH); [unikernel] ops, qemu, accel (auto|kvm|tcg), cpu.",
    ),
    (
        "/etc/mcp/services/*.toml",
        "Service definitions as root (else $XDG_CONFIG_HOME/mcp/services), one per service.",
    ),
    (
        "/var/lib/mcp/registry.db",
        "SQLite registry, mode 0600 (else $XDG_DATA_HOME/mcp/registry.db).",
    ),
    (
        "/var/lib/mcp/mcp.lock",
        "Lock file of mutating commands, in the state directory (else $XDG_STATE_HOME/mcp).",
    ),
];

/// The keys of a `[[components]]` table; README.md has the full example.
const COMPONENT_KEYS: &[(&str, &str)] = &[
    (
        "name, image",
        "Required: component name and image reference.",
    ),
    (
        "runtime, network, user, restart, ports, volumes, cmd, env, memory_mb, vcpus",
        "What runs; changing any of them recreates the instance.",
    ),
    (
        "requires",
        "List of services (\"db\") or components (\"cache/redis\") started and healthy first and stopped after; an unknown target or a cycle is an error (65).",
    ),
    (
        "rollout",
        "\"start-first\" or \"stop-first\"; default stop-first when a volume is mounted read-write, else start-first.",
    ),
    (
        "stop_signal",
        "Signal podman stops the container with (e.g. \"SIGINT\"); default the image's STOPSIGNAL, else SIGTERM. Containers only.",
    ),
    (
        "stop_timeout",
        "Grace before SIGKILL, whole seconds up to 1h (default \"10s\"); for a VM, the wait after the ACPI powerdown.",
    ),
    (
        "[components.health] tcp, http, cmd",
        "One probe: a host port that accepts, an http:// URL answering 2xx/3xx, or an argv list run in the container with podman exec, healthy on exit 0.",
    ),
    (
        "[components.health] timeout, interval",
        "How long the gate waits (default 30s) and the pause between attempts (default 1s for cmd, 250ms for tcp and http).",
    ),
    (
        "[[components.routes]] name, port, mode, hostname",
        "Routes recorded for a front proxy.",
    ),
];

/// Names of the pages: `mcp` and one `mcp-<command>` per subcommand.
pub fn page_names() -> Vec<String> {
    let cmd = Cli::command();
    std::iter::once("mcp".to_string())
        .chain(
            cmd.get_subcommands()
                .filter(|c| c.get_name() != "help")
                .map(|c| format!("mcp-{}", c.get_name())),
        )
        .collect()
}

/// Renders the page of `mcp` (None) or of one subcommand.
pub fn render(command: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let mut root = Cli::command();
    root.build();
    // clap's `help` subcommand has no page of its own: listing it would
    // point readers at a `mcp-help(1)` that does not exist.
    root = root.mut_subcommand("help", |h| h.hide(true));
    let (cmd, main_page) = match command {
        None => (root, true),
        Some(name) => {
            let sub = root
                .find_subcommand(name)
                .ok_or_else(|| {
                    UsageError(format!(
                        "no man page for `{name}`; commands: {}",
                        page_names().join(", ")
                    ))
                })?
                .clone();
            (sub.name(format!("mcp-{name}")), false)
        }
    };
    let man = Man::new(cmd.clone())
        .date("2026")
        .source(format!("mcp {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    // A command's own subcommands (`mcp export kube`) have no pages of their
    // own: clap's list would name `mcp-export-kube(1)`; they are documented
    // on this page below instead.
    if cmd.has_subcommands() && main_page {
        man.render_subcommands_section(&mut buf)?;
    }
    let mut roff = Roff::default();
    if !main_page {
        // `mcp import compose`, `mcp export kube`: their options belong on this page.
        nested_options(&mut roff, &cmd);
    }
    section(&mut roff, "EXIT STATUS", EXIT_STATUS);
    if main_page {
        section(&mut roff, "ENVIRONMENT", ENVIRONMENT);
        section(&mut roff, "FILES", FILES);
        section(&mut roff, "SERVICE FILE KEYS", COMPONENT_KEYS);
    }
    roff.to_writer(&mut buf)?;
    // Subcommands carry no version of their own (clap_mangen would panic).
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    Ok(buf)
}

/// One section per nested subcommand with its usage and arguments.
fn nested_options(roff: &mut Roff, cmd: &clap::Command) {
    for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
        let title = format!("{} {}", cmd.get_name().replace('-', " "), sub.get_name());
        roff.control("SH", [title.to_uppercase().as_str()]);
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
            roff.control("PP", []);
        }
        let mut sub = sub.clone();
        let usage = sub.render_usage().to_string();
        roff.text([roman(usage.trim_start_matches("Usage: ").to_string())]);
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && a.get_id() != "help")
        {
            let value = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map_or_else(|| arg.get_id().as_str().to_uppercase(), |n| n.to_string());
            let term = match arg.get_long() {
                Some(long) if arg.get_action().takes_values() => format!("--{long} <{value}>"),
                Some(long) => format!("--{long}"),
                None => format!("<{value}>"),
            };
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            roff.control("TP", []);
            roff.text([bold(term)]);
            roff.text([roman(help)]);
        }
    }
}

fn section(roff: &mut Roff, title: &str, items: &[(&str, &str)]) {
    roff.control("SH", [title]);
    for (term, text) in items {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
}

pub fn run(command: Option<&str>) -> anyhow::Result<u8> {
    std::io::stdout().write_all(&render(command)?)?;
    Ok(crate::exit::SUCCESS)
}

//! Where things live and which tools to use: built-in defaults (root or XDG),
//! then the config file, then `MCP_*` environment variables, then flags.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// How long a mutating command waits for another mcp by default: long
/// enough to ride out a deploy, short enough that cron runs do not pile up.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(120);

pub use crate::model::{Accel, VmSettings as UnikernelSection};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    services: Option<PathBuf>,
    db: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    lock_wait: Option<String>,
    #[serde(default)]
    podman: PodmanSection,
    #[serde(default)]
    unikernel: UnikernelSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodmanSection {
    path: Option<PathBuf>,
    timeout: Option<String>,
    pull_timeout: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub services_dir: PathBuf,
    pub db: PathBuf,
    pub state_dir: PathBuf,
    pub lock_wait: Duration,
    /// Configured podman path; `None` means look it up on PATH when needed.
    pub podman: Option<PathBuf>,
    pub podman_timeouts: crate::model::Timeouts,
    pub unikernel: UnikernelSection,
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

struct Defaults {
    config: PathBuf,
    services: PathBuf,
    db: PathBuf,
    state: PathBuf,
}

fn is_root() -> bool {
    // /proc/self belongs to the process's effective user.
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
            home.join(fallback)
        }
    }
}

fn defaults() -> Defaults {
    if is_root() {
        Defaults {
            config: "/etc/mcp/mcp.toml".into(),
            services: "/etc/mcp/services".into(),
            db: "/var/lib/mcp/registry.db".into(),
            state: "/var/lib/mcp".into(),
        }
    } else {
        let config = xdg("XDG_CONFIG_HOME", ".config").join("mcp");
        let data = xdg("XDG_DATA_HOME", ".local/share").join("mcp");
        Defaults {
            config: config.join("mcp.toml"),
            services: config.join("services"),
            db: data.join("registry.db"),
            state: xdg("XDG_STATE_HOME", ".local/state").join("mcp"),
        }
    }
}

impl Config {
    /// Resolves the configuration. An explicitly named config file must exist;
    /// the default one may be absent (mcp runs on a fresh machine).
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<Self> {
        let defaults = defaults();
        let file = match &args.config {
            Some(path) => read_file_config(path)?,
            None if defaults.config.exists() => read_file_config(&defaults.config)?,
            None => FileConfig::default(),
        };
        let lock_wait_text = args.lock_wait.clone().or(file.lock_wait);
        let lock_wait = match lock_wait_text {
            Some(t) => {
                crate::duration::parse(&t).map_err(|e| anyhow::anyhow!("invalid lock wait: {e}"))?
            }
            None => DEFAULT_LOCK_WAIT,
        };
        Ok(Config {
            services_dir: args
                .services
                .clone()
                .or(file.services)
                .unwrap_or(defaults.services),
            db: args.db.clone().or(file.db).unwrap_or(defaults.db),
            state_dir: args
                .state_dir
                .clone()
                .or(file.state_dir)
                .unwrap_or(defaults.state),
            lock_wait,
            podman_timeouts: podman_timeouts(&file.podman)?,
            podman: file.podman.path,
            unikernel: file.unikernel,
            json: args.json,
            quiet: args.quiet,
            verbose: args.verbose,
        })
    }
}

fn podman_timeouts(section: &PodmanSection) -> anyhow::Result<crate::model::Timeouts> {
    let mut t = crate::model::Timeouts::default();
    let parse = |text: &Option<String>, key: &str| -> anyhow::Result<Option<Duration>> {
        text.as_deref()
            .map(|v| {
                crate::duration::parse(v)
                    .map_err(|e| anyhow::anyhow!("invalid [podman] {key} in the config file: {e}"))
            })
            .transpose()
    };
    if let Some(d) = parse(&section.timeout, "timeout")? {
        t.call = d;
    }
    if let Some(d) = parse(&section.pull_timeout, "pull_timeout")? {
        t.pull = d;
    }
    Ok(t)
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: invalid config file: {}",
            path.display(),
            e.to_string().trim()
        )
    })
}

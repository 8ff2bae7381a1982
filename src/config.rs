//! Where things live and which tools to use: built-in defaults (root or XDG),
//! then the config file, then `MCP_*` environment variables, then flags.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::cli::GlobalArgs;
use crate::exit::UsageError;

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
    lock_wait: Option<Spanned<String>>,
    #[serde(default)]
    podman: PodmanSection,
    #[serde(default)]
    unikernel: UnikernelSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodmanSection {
    path: Option<PathBuf>,
    /// skopeo, which `mcp update` uses to ask registries for digests.
    skopeo: Option<PathBuf>,
    timeout: Option<Spanned<String>>,
    pull_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub services_dir: PathBuf,
    pub db: PathBuf,
    pub state_dir: PathBuf,
    pub lock_wait: Duration,
    /// Configured podman path; `None` means look it up on PATH when needed.
    pub podman: Option<PathBuf>,
    /// Configured skopeo path (for `mcp update`); `None`: PATH.
    pub skopeo: Option<PathBuf>,
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
        let (file, source) = match &args.config {
            Some(path) => (read_file_config(path)?, Some(path.clone())),
            None if defaults.config.exists() => (
                read_file_config(&defaults.config)?,
                Some(defaults.config.clone()),
            ),
            None => (FileConfig::default(), None),
        };
        let setting = Setting {
            file: source.as_deref(),
        };
        // The flag (or MCP_LOCK_WAIT) was checked by clap; only the file's
        // value can still be wrong here.
        let lock_wait = match (&args.lock_wait, &file.lock_wait) {
            (Some(t), _) => crate::duration::parse(t)
                .map_err(|e| UsageError(format!("invalid --lock-wait: {e}")))?,
            (None, Some(t)) => setting.duration(t, "lock_wait", Duration::ZERO)?,
            (None, None) => DEFAULT_LOCK_WAIT,
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
            podman_timeouts: podman_timeouts(&file.podman, &setting)?,
            skopeo: file.podman.skopeo,
            podman: file.podman.path,
            unikernel: file.unikernel,
            json: args.json,
            quiet: args.quiet,
            verbose: args.verbose,
        })
    }
}

/// The least a podman timeout can be: every podman call, even `podman ps`,
/// takes a good part of a second, so less would make every call fail.
pub const MIN_PODMAN_TIMEOUT: Duration = Duration::from_secs(1);

fn podman_timeouts(
    section: &PodmanSection,
    setting: &Setting,
) -> anyhow::Result<crate::model::Timeouts> {
    let mut t = crate::model::Timeouts::default();
    if let Some(v) = &section.timeout {
        t.call = setting.duration(v, "[podman] timeout", MIN_PODMAN_TIMEOUT)?;
    }
    if let Some(v) = &section.pull_timeout {
        t.pull = setting.duration(v, "[podman] pull_timeout", MIN_PODMAN_TIMEOUT)?;
    }
    Ok(t)
}

/// Reads values of the config file, naming file, line and key in errors:
/// a setting that cannot work is refused here rather than making every
/// later podman call fail.
struct Setting<'a> {
    file: Option<&'a Path>,
}

impl Setting<'_> {
    fn duration(
        &self,
        value: &Spanned<String>,
        key: &str,
        least: Duration,
    ) -> anyhow::Result<Duration> {
        let text = value.get_ref();
        let why = match crate::duration::parse(text) {
            Ok(d) if d >= least => return Ok(d),
            Ok(_) => format!(
                "{key} = \"{text}\" is too short: use at least {}s",
                least.as_secs()
            ),
            Err(e) => format!("invalid {key}: {e}"),
        };
        Err(UsageError(self.located(value.span().start, &why)).into())
    }

    /// `FILE:LINE: what` (the line of byte `offset` of the file).
    fn located(&self, offset: usize, what: &str) -> String {
        let Some(file) = self.file else {
            return what.to_string();
        };
        let line = fs::read_to_string(file)
            .ok()
            .map(|text| line_of(&text, offset));
        match line {
            Some(line) => format!("{}:{line}: {what}", file.display()),
            None => format!("{}: {what}", file.display()),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "reading config file {}: {e} (fix --config / MCP_CONFIG)",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        // toml's message names the line and column and quotes the line.
        UsageError(format!(
            "{}: invalid config file: {}",
            path.display(),
            e.to_string().trim()
        ))
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mcp.toml");
        fs::write(&file, text).unwrap();
        Config::resolve(&GlobalArgs {
            config: Some(file),
            ..GlobalArgs::default()
        })
    }

    fn usage_message(err: anyhow::Error) -> String {
        assert_eq!(crate::exit::code_for(&err), crate::exit::USAGE, "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn zero_podman_timeouts_are_refused_with_their_line() {
        let err = resolve_with("# podman\n[podman]\ntimeout = \"0s\"\n").unwrap_err();
        let msg = usage_message(err);
        assert!(
            msg.contains("mcp.toml:3: [podman] timeout = \"0s\""),
            "{msg}"
        );
        let err = resolve_with("[podman]\npull_timeout = \"500ms\"\n").unwrap_err();
        assert!(usage_message(err).contains(":2: [podman] pull_timeout"));
        let err = resolve_with("lock_wait = \"soon\"\n").unwrap_err();
        assert!(usage_message(err).contains(":1: invalid lock_wait"));
    }

    #[test]
    fn sensible_values_are_taken() {
        let c =
            resolve_with("lock_wait = \"0s\"\n[podman]\ntimeout = \"1s\"\npull_timeout = \"1h\"\n")
                .unwrap();
        assert_eq!(c.lock_wait, Duration::ZERO);
        assert_eq!(c.podman_timeouts.call, Duration::from_secs(1));
        assert_eq!(c.podman_timeouts.pull, Duration::from_secs(3600));
    }

    #[test]
    fn toml_errors_are_usage_errors_with_the_line() {
        let err = resolve_with("services = \"/srv\"\n[podman\n").unwrap_err();
        let msg = usage_message(err);
        assert!(msg.contains("line 2"), "{msg}");
    }
}

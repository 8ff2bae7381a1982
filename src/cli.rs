//! The whole command line, defined once with clap derive. It also feeds the
//! generated completions/ and man/ pages, so help texts here are user docs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0   success, or nothing to do
  1   an operation failed
  2   usage error
  3   `status --check` found drift, `sync --dry-run` has pending changes,
      or `update --dry-run` found images whose tag moved
  65  invalid service definitions, or a compose file import cannot map
  75  another mcp holds the lock (after --lock-wait)";

/// Run the services of one Linux host (podman containers and Nanos unikernel
/// VMs) from TOML service files and a local SQLite registry, without a daemon.
#[derive(Debug, Parser)]
#[command(name = "mcp", version, about, long_about = None, after_long_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Configuration file [default: /etc/mcp/mcp.toml as root, else $XDG_CONFIG_HOME/mcp/mcp.toml]
    #[arg(long, global = true, env = "MCP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory of service definitions, one <service>.toml each
    #[arg(long, global = true, env = "MCP_SERVICES", value_name = "DIR")]
    pub services: Option<PathBuf>,

    /// SQLite registry file
    #[arg(long, global = true, env = "MCP_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// State directory (VM state, lock file)
    #[arg(long, global = true, env = "MCP_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only changes and errors (for cron)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show each external command as it runs
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// How long a mutating command waits for another mcp's lock, e.g. 30s, 2m
    #[arg(long, global = true, value_name = "DURATION", env = "MCP_LOCK_WAIT", value_parser = lock_wait)]
    pub lock_wait: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the registry and the runtime in line with the service files (for cron)
    Sync(SyncArgs),
    /// Roll out now: pull, then replace each component behind a health gate
    Deploy(DeployArgs),
    /// Show desired against observed state and any drift
    Status(StatusArgs),
    /// Roll out components whose image tag now points at a new digest (for cron)
    Update(UpdateArgs),
    /// Print a component's logs
    Logs(LogsArgs),
    /// Record untracked containers in the registry as `ignore`
    Adopt(AdoptArgs),
    /// Stop components now and mark them desired `stopped`
    Stop(ControlArgs),
    /// Start components now and mark them desired `running`
    Start(ControlArgs),
    /// Stop and start components now
    Restart(ControlArgs),
    /// Show what mcp did, newest first
    History(HistoryArgs),
    /// Check the service files and report every error; changes nothing
    Validate,
    /// Write service files from another tool's format (a compose file)
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print the service files in another tool's format (Kubernetes YAML)
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        shell: Shell,
    },
    /// Print the man page (of mcp, or of one command)
    Man {
        /// A subcommand whose page to print
        command: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Limit the sync to these services
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
    /// Print the plan with its causes and change nothing; exit 3 when something would change
    #[arg(long)]
    pub dry_run: bool,
    /// Remove services whose file is gone (otherwise they are only reported)
    #[arg(long)]
    pub prune: bool,
    /// Run up to N independent actions at once [default: twice the CPUs, at most 8]
    #[arg(short = 'j', long, value_name = "N", value_parser = jobs)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Services or single components to roll out
    #[arg(value_name = "SERVICE[/COMPONENT]")]
    pub targets: Vec<String>,
    /// Deploy every service
    #[arg(long, conflicts_with = "targets")]
    pub all: bool,
    /// Deploy directly on this host (the only mode; accepted for compatibility)
    #[arg(long)]
    pub direct: bool,
    /// When to pull the image before replacing
    #[arg(long, value_enum, default_value_t = PullPolicy::Always)]
    pub pull: PullPolicy,
    /// Run up to N independent rollouts at once [default: twice the CPUs, at most 8]
    #[arg(short = 'j', long, value_name = "N", value_parser = jobs)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Services or single components to check [default: every active one]
    #[arg(value_name = "SERVICE[/COMPONENT]")]
    pub targets: Vec<String>,
    /// List the components whose tag moved, with old and new digest, and change nothing; exit 3 when any moved
    #[arg(long)]
    pub dry_run: bool,
    /// Ask up to N registries and run up to N rollouts at once [default: 8 lookups; rollouts: twice the CPUs, at most 8]
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub use crate::model::PullPolicy;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Limit the report to these services
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
    /// Exit 3 when anything has drifted (or, with --health, is unhealthy)
    #[arg(long)]
    pub check: bool,
    /// Run each component's health check once and show the result
    #[arg(long)]
    pub health: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The component whose logs to print
    #[arg(value_name = "SERVICE/COMPONENT")]
    pub target: String,
    /// Keep following the log
    #[arg(short, long)]
    pub follow: bool,
    /// Print only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Print only lines since T: a duration ago (10m), an RFC 3339 time
    /// (2026-11-26T10:00:00Z) or @UNIX seconds; for a VM, from the boot that was running at T
    #[arg(long, value_name = "T", value_parser = crate::since::arg)]
    pub since: Option<i64>,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Containers to adopt, by name
    pub containers: Vec<String>,
    /// Adopt every untracked container
    #[arg(long, conflicts_with = "containers")]
    pub all: bool,
    /// Also write a service definition for each adopted service
    #[arg(long)]
    pub write_spec: bool,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// Services or single components
    #[arg(value_name = "SERVICE[/COMPONENT]", required = true)]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this service's events
    #[arg(value_name = "SERVICE")]
    pub service: Option<String>,
    /// Show at most N events
    #[arg(short = 'n', long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Turn a compose file into one service file: each compose service a component
    Compose(ImportComposeArgs),
}

#[derive(Debug, Args)]
pub struct ImportComposeArgs {
    /// The compose file (compose-spec format); `.env` beside it supplies variables
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The service name [default: the file's `name:`, else its directory's name]
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Where to write <project>.toml [default: the services directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the service file and the findings; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write despite errors, leaving out what cannot be mapped; replace an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print Kubernetes YAML (a Pod per service, env in a Secret) for `podman kube play` or a cluster
    Kube(ExportKubeArgs),
}

#[derive(Debug, Args)]
pub struct ExportKubeArgs {
    /// Services to export [default: all]
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
    /// A Deployment (one replica) per service instead of a bare Pod
    #[arg(long)]
    pub deployment: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The most parallel actions `-j` takes: far beyond what one host's podman
/// and disks do at once, low enough that a typo (`-j 1000`) is caught.
pub const MAX_JOBS: usize = 64;

/// `-j N`: 0 would run nothing at all, so it is a usage error, not a run.
fn jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "-j takes a number of parallel actions from 1 to {MAX_JOBS}"
        )),
    }
}

/// `--lock-wait`: checked when read, so a typo is a usage error (exit 2)
/// before anything else happens.
fn lock_wait(text: &str) -> Result<String, String> {
    crate::duration::parse(text).map(|_| text.to_string())
}

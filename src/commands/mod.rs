//! One file per subcommand: load, plan, apply, print.

mod adopt;
mod adopt_spec;
mod completions;
mod control;
mod deploy;
mod export;
mod history;
mod import;
mod logs;
pub mod man;
mod names;
mod status;
mod status_health;
mod sync;
mod update;
mod update_print;
mod validate;
mod world;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::output::Output;

/// What every command gets: the resolved configuration and the output mode.
pub struct Ctx {
    pub config: Config,
    pub out: Output,
    /// Set once the state lock is held: where external commands are recorded.
    pub children: std::sync::OnceLock<crate::runtime::children::Children>,
}

impl Ctx {
    /// Takes the state lock for a mutating command (see [`crate::lock`]).
    pub fn lock(&self, command: &str) -> anyhow::Result<crate::lock::StateLock> {
        let lock = crate::lock::acquire(&self.config.state_dir, command, self.config.lock_wait)?;
        let _ = self.children.set(lock.children.clone());
        Ok(lock)
    }
}

/// Runs one command; returns the exit code for a completed run.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    // Commands that need no configuration run before any is read.
    match &cli.command {
        Command::Completions { shell } => return completions::run(*shell),
        Command::Man { command } => return man::run(command.as_deref()),
        _ => {}
    }
    let config = Config::resolve(&cli.global)?;
    let out = Output::new(config.json, config.quiet, config.verbose);
    let ctx = Ctx {
        config,
        out,
        children: Default::default(),
    };
    match cli.command {
        Command::Validate => validate::run(&ctx),
        Command::Sync(args) => sync::run(&ctx, &args),
        Command::Deploy(args) => deploy::run(&ctx, &args),
        Command::Status(args) => status::run(&ctx, &args),
        Command::Update(args) => update::run(&ctx, &args),
        Command::Logs(args) => logs::run(&ctx, &args),
        Command::Adopt(args) => adopt::run(&ctx, &args),
        Command::Stop(args) => control::run(&ctx, &args.targets, control::Verb::Stop),
        Command::Start(args) => control::run(&ctx, &args.targets, control::Verb::Start),
        Command::Restart(args) => control::run(&ctx, &args.targets, control::Verb::Restart),
        Command::History(args) => history::run(&ctx, &args),
        Command::Import(crate::cli::ImportCommand::Compose(args)) => import::run(&ctx, &args),
        Command::Export(crate::cli::ExportCommand::Kube(args)) => export::run(&ctx, &args),
        Command::Completions { .. } | Command::Man { .. } => unreachable!("handled above"),
    }
}

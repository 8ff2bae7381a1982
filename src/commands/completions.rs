//! `mcp completions SHELL`: print a completion script generated from the CLI.

use clap::CommandFactory;
use clap_complete::{Shell as Target, generate};

use crate::cli::{Cli, Shell};

pub fn script(shell: Shell) -> Vec<u8> {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
    };
    let mut buf = Vec::new();
    generate(target, &mut Cli::command(), "mcp", &mut buf);
    buf
}

pub fn run(shell: Shell) -> anyhow::Result<u8> {
    use std::io::Write;
    std::io::stdout().write_all(&script(shell))?;
    Ok(crate::exit::SUCCESS)
}

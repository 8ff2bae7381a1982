use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mcp::cli::Cli::parse();
    match mcp::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("{}", mcp::exit::render(&err));
            ExitCode::from(mcp::exit::code_for(&err))
        }
    }
}

//! `mcp history [SERVICE]`: what mcp did, newest first. Read-only, no lock.

use super::Ctx;
use crate::cli::HistoryArgs;
use crate::exit;
use crate::registry::Registry;

pub fn run(ctx: &Ctx, args: &HistoryArgs) -> anyhow::Result<u8> {
    // Read-only: a missing registry is reported, never created.
    let registry = Registry::open_existing(&ctx.config.db)?;
    let events = match &registry {
        Some(r) => r.events(args.service.as_deref(), args.limit)?,
        None => Vec::new(),
    };
    if ctx.out.json {
        ctx.out
            .print_json(&serde_json::json!({ "events": events }))?;
        return Ok(exit::SUCCESS);
    }
    if events.is_empty() {
        if !ctx.out.quiet {
            match registry {
                Some(_) => ctx.out.line("no events"),
                None => ctx.out.line(&format!(
                    "no events: there is no registry yet at {} (mcp sync creates it)",
                    ctx.config.db.display()
                )),
            }
        }
        return Ok(exit::SUCCESS);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.command.clone(),
                match &e.component {
                    Some(c) => format!("{}/{c}", e.service),
                    None => e.service.clone(),
                },
                e.action.clone(),
                e.detail.clone(),
                e.outcome.to_string(),
            ]
        })
        .collect();
    ctx.out.line(&ctx.out.table(
        &[
            "TIME",
            "COMMAND",
            "COMPONENT",
            "ACTION",
            "DETAIL",
            "OUTCOME",
        ],
        &rows,
    ));
    Ok(exit::SUCCESS)
}

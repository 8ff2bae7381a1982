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
    if let Some(service) = &args.service
        && events.is_empty()
    {
        let rows = match &registry {
            Some(r) => r.components()?,
            None => Vec::new(),
        };
        super::names::check_known(
            std::slice::from_ref(service),
            &ctx.config.services_dir,
            rows.iter().map(|r| r.service.as_str()),
        )?;
    }
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
    // The evidence of failed rollouts: the failed instance is gone, so this
    // is the only record of why it failed.
    for e in &events {
        let Some(ev) = &e.evidence else { continue };
        let status = ev
            .exit_code
            .map_or("had not exited".to_string(), |c| format!("exited with {c}"));
        ctx.out.line(&format!(
            "\n{} {}/{}: {} {status}; its last {} log line{}:",
            e.at,
            e.service,
            e.component.as_deref().unwrap_or("-"),
            ev.instance,
            ev.log.len(),
            if ev.log.len() == 1 { "" } else { "s" }
        ));
        for line in &ev.log {
            // A container's output may hold terminal escapes: show them inert.
            let line: String = line
                .chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = if c.is_control() && c != '\t' {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    escaped
                })
                .collect();
            ctx.out.line(&format!("  | {line}"));
        }
    }
    Ok(exit::SUCCESS)
}

//! How `mcp update` reports: a table of what moved (with both digests),
//! notes on what was skipped, `--json` for scripts, and nothing at all
//! under `-q` when nothing moved and nothing failed (for cron mail).

use serde_json::json;

use super::Ctx;
use super::update::{Check, Status};

pub fn print(ctx: &Ctx, dry_run: bool, checks: &[Check]) -> anyhow::Result<()> {
    if ctx.out.json {
        return ctx.out.print_json(&json!({
            "dry_run": dry_run,
            "moved": checks.iter().any(|c| matches!(c.status, Status::Moved | Status::Updated)),
            "components": checks,
        }));
    }
    let digest = |d: &Option<String>| d.clone().unwrap_or_else(|| "-".into());
    let changed: Vec<&Check> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Moved | Status::Updated))
        .collect();
    // Failures with a rollout attempt belong in the table; lookup failures
    // have no new digest and go to stderr with the error only.
    let failed_rollouts: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status == Status::Failed && c.registry_digest.is_some())
        .collect();
    if !changed.is_empty() || !failed_rollouts.is_empty() {
        let rows: Vec<Vec<String>> = changed
            .iter()
            .chain(&failed_rollouts)
            .map(|c| {
                let mut row = vec![
                    c.name(),
                    c.image.clone(),
                    digest(&c.deployed_digest),
                    digest(&c.registry_digest),
                ];
                if !dry_run {
                    row.push(match c.status {
                        Status::Updated => "updated".into(),
                        _ => format!("FAILED: {}", c.note.as_deref().unwrap_or("")),
                    });
                }
                row
            })
            .collect();
        let headers: &[&str] = if dry_run {
            &["COMPONENT", "IMAGE", "DEPLOYED", "REGISTRY (WOULD UPDATE)"]
        } else {
            &["COMPONENT", "IMAGE", "FROM", "TO", "OUTCOME"]
        };
        ctx.out.line(&ctx.out.table(headers, &rows));
    }
    if ctx.out.quiet {
        return Ok(());
    }
    for c in checks.iter().filter(|c| c.status == Status::Skipped) {
        ctx.out.line(&format!(
            "{}: skipped: {}",
            c.name(),
            c.note.as_deref().unwrap_or("")
        ));
    }
    if changed.is_empty() && failed_rollouts.is_empty() {
        let current = checks
            .iter()
            .filter(|c| c.status == Status::Current)
            .count();
        ctx.out.line(&format!(
            "no image updates ({current} component{} current)",
            if current == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

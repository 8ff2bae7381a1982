//! `mcp validate`: check every service file; change nothing.

use serde_json::json;

use super::Ctx;
use crate::spec;

pub fn run(ctx: &Ctx) -> anyhow::Result<u8> {
    let dir = &ctx.config.services_dir;
    match spec::load_dir(dir) {
        Ok(specs) => {
            let components: usize = specs.iter().map(|s| s.components.len()).sum();
            if ctx.out.json {
                ctx.out.print_json(&json!({
                    "valid": true,
                    "services": specs.iter().map(|s| &s.name).collect::<Vec<_>>(),
                    "errors": [],
                }))?;
            } else if !ctx.out.quiet {
                ctx.out.line(&format!(
                    "{}: {} service{}, {components} component{}: valid",
                    dir.display(),
                    specs.len(),
                    if specs.len() == 1 { "" } else { "s" },
                    if components == 1 { "" } else { "s" },
                ));
            }
            Ok(crate::exit::SUCCESS)
        }
        Err(err) => {
            let invalid = err.downcast_ref::<spec::InvalidSpecs>();
            if let (true, Some(invalid)) = (ctx.out.json, invalid) {
                let errors: Vec<_> = invalid
                    .0
                    .iter()
                    .map(|d| {
                        json!({
                            "file": d.file, "line": d.line, "column": d.col,
                            "message": d.message, "hint": d.hint,
                        })
                    })
                    .collect();
                ctx.out
                    .print_json(&json!({ "valid": false, "services": [], "errors": errors }))?;
            }
            Err(err)
        }
    }
}

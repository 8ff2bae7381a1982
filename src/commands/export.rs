//! `mcp export kube [SERVICE...]`: the service files as Kubernetes YAML on stdout;
//! what does not carry over (unikernels, ...) is listed on stderr.

use super::Ctx;
use crate::bridge::{kube, kube_yaml};
use crate::cli::ExportKubeArgs;
use crate::exit;
use crate::spec;

pub fn run(ctx: &Ctx, args: &ExportKubeArgs) -> anyhow::Result<u8> {
    let specs = spec::load_dir(&ctx.config.services_dir)?;
    let chosen: Vec<spec::ServiceSpec> = if args.names.is_empty() {
        specs
    } else {
        let mut chosen = Vec::new();
        for name in &args.names {
            match specs.iter().find(|s| &s.name == name) {
                Some(s) => chosen.push(s.clone()),
                None => {
                    return Err(exit::UsageError(format!(
                        "no service `{name}` in {}",
                        ctx.config.services_dir.display()
                    ))
                    .into());
                }
            }
        }
        chosen
    };
    let export = kube::export(&chosen, args.deployment);
    if ctx.out.json {
        let docs: Vec<_> = export.documents.iter().map(kube_yaml::Y::to_json).collect();
        ctx.out
            .print_json(&serde_json::json!({ "documents": docs, "notes": export.notes }))?;
        return Ok(if docs.is_empty() {
            exit::FAILED
        } else {
            exit::SUCCESS
        });
    }
    for note in &export.notes {
        eprintln!("mcp: {note}");
    }
    if export.documents.is_empty() {
        eprintln!("mcp: nothing to export");
        return Ok(exit::FAILED);
    }
    print!("{}", kube_yaml::print_documents(&export.documents));
    Ok(exit::SUCCESS)
}

//! `mcp logs SERVICE/COMPONENT`: stream the runtime's logs of a component.

use super::{Ctx, world};
use crate::cli::LogsArgs;
use crate::exit::UsageError;
use crate::registry::Registry;
use crate::runtime::{LogOptions, Runtime};

pub fn run(ctx: &Ctx, args: &LogsArgs) -> anyhow::Result<u8> {
    let (service, component) = match world::parse_target(&args.target) {
        (s, Some(c)) if !s.is_empty() && !c.is_empty() => (s, c),
        _ => {
            return Err(UsageError(format!(
                "`{}` is not SERVICE/COMPONENT (e.g. web/api)",
                args.target
            ))
            .into());
        }
    };
    // Read-only: a missing registry is reported, never created.
    let Some(registry) = Registry::open_existing(&ctx.config.db)? else {
        anyhow::bail!(
            "there is no registry yet at {}, so no component has logs (run mcp sync first)",
            ctx.config.db.display()
        );
    };
    let Some(row) = registry.component(&service, &component)? else {
        return Err(UsageError(format!(
            "unknown component {service}/{component}: it is not in the registry (run mcp sync, or see mcp status)"
        ))
        .into());
    };
    let runtimes = world::Runtimes::open(ctx, &format!("{service}/{component}"))?;
    let runtime = runtimes.dispatch();
    let opts = LogOptions {
        follow: args.follow,
        tail: args.tail,
        since: args.since,
        json_component: ctx.out.json.then(|| format!("{service}/{component}")),
    };
    let code = runtime.logs(&row.instance(), &opts, &mut std::io::stdout().lock())?;
    // The tool's own message is already on stderr; its exit code is not
    // mcp's to pass on (podman's 125 would read as something else).
    if code != 0 {
        anyhow::bail!("reading the logs of {service}/{component} failed (exit status {code})");
    }
    Ok(crate::exit::SUCCESS)
}

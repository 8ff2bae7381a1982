//! `mcp logs SERVICE/COMPONENT`: stream the runtime's logs of a component.

use super::{Ctx, world};
use crate::cli::LogsArgs;
use crate::exit::UsageError;
use crate::registry::Registry;
use crate::runtime::{LogOptions, Runtime};
use crate::spec::instance_name;

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
    if let Some(since) = &args.since
        && !since_ok(since)
    {
        return Err(UsageError(format!(
            "invalid --since `{since}`: give a duration (10m, 1h30m), unix seconds (@1700000000) or a date (2026-01-31 or 2026-01-31T12:00:00Z)"
        ))
        .into());
    }
    let registry = Registry::open(&ctx.config.db)?;
    if registry.component(&service, &component)?.is_none() {
        return Err(UsageError(format!(
            "unknown component {service}/{component}: it is not in the registry (run mcp sync, or see mcp status)"
        ))
        .into());
    }
    let runtimes = world::Runtimes::open(ctx, &format!("{service}/{component}"))?;
    let runtime = runtimes.dispatch();
    let opts = LogOptions {
        follow: args.follow,
        tail: args.tail,
        since: args.since.clone(),
    };
    let code = runtime.logs(
        &instance_name(&service, &component),
        &opts,
        &mut std::io::stdout().lock(),
    )?;
    // The tool's own message is already on stderr; its exit code is not
    // mcp's to pass on (podman's 125 would read as something else).
    if code != 0 {
        anyhow::bail!("reading the logs of {service}/{component} failed (exit status {code})");
    }
    Ok(crate::exit::SUCCESS)
}

/// Whether `--since` is something both runtimes understand: what a VM's log
/// reader parses, or a date that podman parses.
fn since_ok(text: &str) -> bool {
    let b = text.as_bytes();
    let date = b.len() >= 10
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && b[4] == b'-'
        && b[7] == b'-';
    date || crate::runtime::vmlogs::parse_since(text).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_accepts_durations_times_and_dates_only() {
        for ok in [
            "10m",
            "1h30m",
            "@1700000000",
            "1700000000",
            "2026-01-31",
            "2026-01-31T12:00:00Z",
        ] {
            assert!(super::since_ok(ok), "{ok}");
        }
        for bad in [
            "garbage",
            "",
            "10 parsecs",
            "2026/01/31",
            "99999999999999999999999s",
        ] {
            assert!(!super::since_ok(bad), "{bad}");
        }
    }
}

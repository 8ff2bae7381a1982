//! Service names on the command line must name something: a service file,
//! a registry row or an instance. A typo is a usage error (exit 2) naming
//! the word, never an empty report that a script would read as "all fine".

use std::path::Path;

use crate::exit::UsageError;

/// Fails with a usage error for the first of `names` that is neither in
/// `known` nor has a `<name>.toml` in `services_dir`.
pub fn check_known<'a>(
    names: &[String],
    services_dir: &Path,
    known: impl Iterator<Item = &'a str> + Clone,
) -> anyhow::Result<()> {
    for name in names {
        let declared = services_dir.join(format!("{name}.toml")).is_file();
        if !declared && !known.clone().any(|k| k == name) {
            return Err(UsageError(format!(
                "unknown service `{name}`: no {name}.toml in {} and nothing of it in the registry or the runtime (see mcp status)",
                services_dir.display()
            ))
            .into());
        }
    }
    Ok(())
}

//! Exit codes (documented in the man page) and the errors that map to them.

use std::fmt;

use crate::spec::InvalidSpecs;

pub const SUCCESS: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
/// `status --check` found drift, or `sync --dry-run` has pending changes.
pub const PENDING: u8 = 3;
/// Invalid service definitions (EX_DATAERR).
pub const INVALID_SPECS: u8 = 65;
/// Another mcp holds the lock (EX_TEMPFAIL).
pub const LOCKED: u8 = 75;

/// A usage error found after argument parsing (e.g. an unknown service name).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Another mcp process holds the state lock.
#[derive(Debug)]
pub struct LockHeld(pub String);

impl fmt::Display for LockHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LockHeld {}

pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<InvalidSpecs>() {
            return INVALID_SPECS;
        }
        if cause.is::<LockHeld>() {
            return LOCKED;
        }
        if cause.is::<UsageError>() {
            return USAGE;
        }
    }
    FAILED
}

/// How an error is shown: spec diagnostics stand alone (they already name
/// file, line and column); anything else gets the usual `mcp: error:` prefix.
pub fn render(err: &anyhow::Error) -> String {
    match err.downcast_ref::<InvalidSpecs>() {
        Some(specs) => specs.to_string(),
        None => format!("mcp: error: {err:#}"),
    }
}

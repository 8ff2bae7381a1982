//! Service definitions: the TOML model, loading a directory, validation with
//! positions, and the canonical hash of what the runtime sees.

pub mod diag;
pub mod fields;
#[doc(hidden)]
pub mod fuzz_check;
#[cfg(test)]
mod fuzz_regressions;
pub mod hash;
pub mod load;
pub mod model;
pub mod parse;
pub mod requires;

pub use diag::InvalidSpecs;
pub use load::load_dir;
pub use model::*;

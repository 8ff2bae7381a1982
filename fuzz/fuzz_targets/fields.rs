//! Arbitrary strings through every field check: see mcp::spec::fuzz_check::field_value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcp::spec::fuzz_check::fields_input(data);
});

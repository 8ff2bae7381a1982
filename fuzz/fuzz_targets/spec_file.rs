//! Arbitrary bytes as a service file: see mcp::spec::fuzz_check::spec_source.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcp::spec::fuzz_check::spec_file(data);
});

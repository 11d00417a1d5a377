//! Any text as a contract file: loading never panics; a bad contract is a load error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shopflow_core::contract::Contract;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Contract::from_toml(text, "fuzz.toml");
    }
});

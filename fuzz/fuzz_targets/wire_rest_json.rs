#![no_main]
//! Request parsing for the rest-json protocol (Lambda).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_wire::fuzz_parse("lambda", data));

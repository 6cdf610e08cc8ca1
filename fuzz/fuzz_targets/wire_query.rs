#![no_main]
//! Request parsing for the query protocol (IAM).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_wire::fuzz_parse("iam", data));

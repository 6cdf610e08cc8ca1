#![no_main]
//! IAM policy documents.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_policy::fuzz_parse(data));

#![no_main]
//! Request parsing for the json protocol (KMS).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_wire::fuzz_parse("kms", data));

#![no_main]
//! Request parsing for the rest-xml protocol (S3).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_wire::fuzz_parse("s3", data));

#![no_main]
//! SigV4 Authorization header, presigned query and aws-chunked parsers.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_sigv4::fuzz_parse(data));

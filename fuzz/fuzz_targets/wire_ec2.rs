#![no_main]
//! Request parsing for the ec2 protocol.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_wire::fuzz_parse("ec2", data));

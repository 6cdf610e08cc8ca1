#![no_main]
//! CloudFormation templates (YAML and JSON loaders, validation).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironsage_cfn_template::fuzz_parse(data));

#![no_main]
//! The store's journal decoder (what start-up replays after a crash): any
//! bytes decode without panicking, and never claim more than they hold.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (_records, left) = ironsage_store::journal_records(data);
    assert!(left <= data.len());
});

#![no_main]
//! Browser-upload forms (multipart/form-data): the fields' parser and the
//! streamed file part never panic, and the file never includes the
//! delimiter that ends it.
use std::io::Read;

use ironsage_wire::form;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = form::boundary(s);
    }
    let boundary = "b0und";
    if let Ok(Some(head)) = form::parse_head(data, boundary) {
        let rest = &data[head.body_start.min(data.len())..];
        let mut file = Vec::new();
        let mut r = form::PartReader::new(rest, boundary);
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => file.extend_from_slice(&buf[..n]),
            }
        }
        assert!(file.len() <= rest.len());
        assert!(!file.windows(9).any(|w| w == b"\r\n--b0und"));
    }
});

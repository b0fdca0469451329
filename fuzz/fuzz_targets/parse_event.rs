//! Arbitrary bytes through the event parser and the line reader: neither may panic, and an
//! error always names a line inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openwaba_replay::event::parse_event;
use openwaba_replay::{for_each_event, ReplayError};

fuzz_target!(|data: &[u8]| {
    // One line.
    if let Err(e) = parse_event(1, data) {
        assert_eq!(e.line, 1);
    }
    // A whole log, read through `Read` from a byte slice.
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let mut seen = 0u64;
    match for_each_event(data, |ev| {
        seen += 1;
        assert!(ev.line >= 1 && ev.line <= lines);
        Ok(())
    }) {
        Ok(n) => assert_eq!(n, seen),
        Err(ReplayError::Log(e)) => assert!(e.line >= 1 && e.line <= lines),
        Err(ReplayError::OutOfOrder { line, .. }) => assert!(line >= 2 && line <= lines),
        Err(e) => panic!("unexpected error reading from memory: {e}"),
    }
});

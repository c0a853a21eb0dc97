//! The RecordIO decoder, fed the stream in pieces of arbitrary sizes (as
//! the network delivers it): it never panics, never takes a record over
//! its limit, and what it returns
//! came from the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos::recordio::Decoder;

/// Small, so that a length prefix alone cannot make the decoder reserve
/// more than the fuzzer's memory limit allows.
const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(split).max(1);
    let mut decoder = Decoder::with_max_record_len(LIMIT);
    let mut records = Vec::new();
    'stream: for chunk in stream.chunks(piece) {
        decoder.feed(chunk);
        loop {
            match decoder.next_record() {
                Ok(Some(record)) => {
                    assert!(record.len() <= LIMIT);
                    records.push(record);
                }
                Ok(None) => break,
                Err(_) => break 'stream,
            }
        }
    }
    let _ = decoder.finish();
    // Every byte of a record came from the stream.
    let taken: usize = records.iter().map(|r| r.len()).sum();
    assert!(taken <= stream.len());
});

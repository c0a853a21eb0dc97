//! A scheduler event as the master sends it in JSON (unknown fields and
//! enum values included): decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos::{
    codec::{ContentType, decode, to_json},
    v1::scheduler::Event,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = decode::<Event>(data, ContentType::Json) {
        let _ = to_json(&event);
    }
});

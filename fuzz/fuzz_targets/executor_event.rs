//! An executor event as the agent sends it in protobuf: decoding never
//! panics, and what decodes can be written as Mesos' JSON and read back.
//! (The seeds in corpus/executor_event/ are the builders of
//! `mesos::testing::executor`, encoded, and an event of an unknown type.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos::{
    codec::{ContentType, decode, to_json},
    v1::executor::Event,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = decode::<Event>(data, ContentType::Protobuf) {
        let json = to_json(&event);
        let _ = decode::<Event>(json.as_bytes(), ContentType::Json);
    }
});

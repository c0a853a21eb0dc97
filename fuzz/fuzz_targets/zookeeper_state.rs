//! The contents of the framework's ZooKeeper nodes (task records, the
//! framework ID, the instance count), which anyone with access to
//! ZooKeeper can change: decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mesos::fuzzing::decode_state_node(data);
});

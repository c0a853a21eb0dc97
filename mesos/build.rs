//! Compiles our subset of Mesos' protobuf definitions at build time.
//!
//! `protox` parses the `.proto` files in pure Rust, so no system `protoc` is
//! needed, and `prost-build` turns them into Rust types. The encoded
//! descriptor set is kept as well: `src/json.rs` uses it to speak Mesos' JSON
//! mapping of the same messages.

use std::{env, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &["mesos/v1/mesos.proto", "mesos/v1/scheduler/scheduler.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("mesos_descriptor_set.bin"),
        descriptors.encode_to_vec(),
    )?;
    prost_build::Config::new()
        // `impl prost::Name` gives each message its full protobuf name, which
        // is how the JSON codec finds the message's descriptor.
        .enable_type_names()
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}

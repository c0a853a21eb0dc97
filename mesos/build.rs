//! Hands the Rust code of our protobuf definitions to the compiler.
//!
//! That code is generated from `proto/` ahead of time and kept in
//! `generated/`: the messages as Rust types (by `prost-build`) and the
//! encoded descriptor set, which `src/codec.rs` uses to speak Mesos' JSON
//! mapping of the same messages. Generating it here, at build time, would
//! make every framework's first build compile a protobuf compiler (`protox`
//! and `prost-build`, about 40 crates, a fifth of the build) to produce the
//! same files each time. `tests/generated_code.rs` generates them again and
//! fails if they are stale; after changing a `.proto` file, run
//!
//! ```text
//! REGENERATE_PROTOS=1 cargo test -p mesos --test generated_code
//! ```
//!
//! The code includes the files from `OUT_DIR`, where a build script's
//! output belongs, so this script copies them there.

use std::{env, path::PathBuf};

const GENERATED: &[&str] = &[
    "mesos.v1.rs",
    "mesos.v1.scheduler.rs",
    "mesos.v1.executor.rs",
    "mesos_descriptor_set.bin",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for file in GENERATED {
        println!("cargo:rerun-if-changed=generated/{file}");
        std::fs::copy(format!("generated/{file}"), out_dir.join(file))?;
    }
    Ok(())
}

//! The generated protobuf code in `generated/` is what `proto/` gives.
//!
//! `protox` parses the `.proto` files in pure Rust, so no system `protoc` is
//! needed, and `prost-build` turns them into Rust types. The encoded
//! descriptor set is kept as well: `src/codec.rs` uses it to speak Mesos'
//! JSON mapping of the same messages. `build.rs` says why this runs here and
//! not at every build. After changing a `.proto` file:
//!
//! ```text
//! REGENERATE_PROTOS=1 cargo test -p mesos --test generated_code
//! ```

use std::path::Path;

use prost::Message;

const PROTOS: &[&str] = &[
    "mesos/v1/mesos.proto",
    "mesos/v1/scheduler/scheduler.proto",
    "mesos/v1/executor/executor.proto",
];

const GENERATED: &[&str] = &[
    "mesos.v1.rs",
    "mesos.v1.scheduler.rs",
    "mesos.v1.executor.rs",
    "mesos_descriptor_set.bin",
];

/// Generates the code from `proto/` into `out`.
fn generate(out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let descriptors =
        protox::compile(PROTOS, [root.join("proto")]).expect("the .proto files parse");
    std::fs::write(
        out.join("mesos_descriptor_set.bin"),
        descriptors.encode_to_vec(),
    )
    .unwrap();
    prost_build::Config::new()
        // `impl prost::Name` gives each message its full protobuf name, which
        // is how the JSON codec finds the message's descriptor.
        .enable_type_names()
        .bytes(["."])
        // prost keeps optional sub-messages inline, so a `Resource` would
        // carry a whole `DiskInfo` (680 bytes) even when, as for cpus and
        // mem, it has none: 952 bytes per resource, in every offer and
        // every task. Boxed, a resource is a third of that. The same for a
        // task's rarely set parts: 2,400 bytes a task, 800 boxed
        // (BENCHMARKS.md).
        .boxed(".mesos.v1.Resource.disk")
        .boxed(".mesos.v1.TaskInfo.executor")
        .boxed(".mesos.v1.TaskInfo.health_check")
        .boxed(".mesos.v1.TaskInfo.check")
        .boxed(".mesos.v1.TaskInfo.discovery")
        .out_dir(out)
        .compile_fds(descriptors)
        .expect("prost-build generates the code");
}

#[test]
fn the_generated_code_is_what_the_proto_files_give() {
    let fresh = tempfile::tempdir().unwrap();
    generate(fresh.path());
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    let regenerate = std::env::var_os("REGENERATE_PROTOS").is_some();
    for file in GENERATED {
        let generated = std::fs::read(fresh.path().join(file)).unwrap();
        if regenerate {
            std::fs::write(kept.join(file), &generated).unwrap();
            continue;
        }
        let current = std::fs::read(kept.join(file)).unwrap_or_default();
        assert!(
            generated == current,
            "generated/{file} is stale: run REGENERATE_PROTOS=1 cargo test -p mesos --test generated_code"
        );
    }
}

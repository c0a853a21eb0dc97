//! The values of the flags the library parses (`--master`, `--zk`):
//! never a panic, and what parses prints as something that parses again
//! to the same. A password (`zk://user:password@…`) prints as `***`, so
//! with one only the printed forms must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos::{MasterSpec, state::ZkUrl};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(master) = text.parse::<MasterSpec>() {
        let again: MasterSpec = master
            .to_string()
            .parse()
            .unwrap_or_else(|e| panic!("{master} (from {text:?}) does not parse again: {e}"));
        assert_eq!(again.to_string(), master.to_string(), "from {text:?}");
        if !master.to_string().contains(":***@") {
            assert_eq!(again, master, "from {text:?}");
        }
    }
    if let Ok(url) = text.parse::<ZkUrl>() {
        let again: ZkUrl = url
            .to_string()
            .parse()
            .unwrap_or_else(|e| panic!("{url} (from {text:?}) does not parse again: {e}"));
        assert_eq!(again.to_string(), url.to_string(), "from {text:?}");
        if !url.to_string().contains(":***@") {
            assert_eq!(again, url, "from {text:?}");
        }
    }
});

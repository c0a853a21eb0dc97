//! Entry points for the fuzz targets (`fuzz/` at the top of the kit) into
//! decoders that are private to their modules. Only with the `fuzzing`
//! feature, which nothing but the fuzz crate turns on.

use crate::state::TaskRecord;

/// Decodes `data` as the contents of one of the framework's ZooKeeper
/// nodes, as [`StateStore::load`](crate::state::StateStore::load) does:
/// what another program (or an older version) left there is untrusted.
pub fn decode_state_node(data: &[u8]) {
    let _ = TaskRecord::from_json(data);
    let _ = crate::state::parse_framework_id(data);
    let _ = crate::state::parse_instances(data);
}

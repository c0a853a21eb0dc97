//! The framework's state as it is in ZooKeeper, read with a plain client:
//! a test checks what was stored without trusting the library that stored
//! it.

use std::collections::BTreeMap;

use zookeeper_client as zk;

/// The framework's state nodes (see [`crate::state`]), as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub framework_id: Option<String>,
    pub instances: Option<String>,
    /// Task ID → (state, agent ID), from each task's node.
    pub tasks: BTreeMap<String, (String, Option<String>)>,
}

/// Reads the state under `root` (e.g. `/hello-mesos`).
pub async fn read_stored(client: &zk::Client, root: &str) -> Stored {
    let text = |data: Vec<u8>| String::from_utf8(data).expect("UTF-8 text");
    let mut tasks = BTreeMap::new();
    let tasks_node = format!("{root}/state/tasks");
    let children = match client.list_children(&tasks_node).await {
        Ok(children) => children,
        Err(zk::Error::NoNode) => Vec::new(),
        Err(error) => panic!("listing {tasks_node}: {error}"),
    };
    for id in children {
        let node = format!("{tasks_node}/{id}");
        let Some(data) = read_node(client, &node).await else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_slice(&data).expect("a task node is JSON");
        let state = json["state"].as_str().expect("a state").to_string();
        let agent_id = json["agent_id"].as_str().map(str::to_string);
        tasks.insert(id, (state, agent_id));
    }
    Stored {
        framework_id: read_node(client, &format!("{root}/state/framework_id"))
            .await
            .map(text),
        instances: read_node(client, &format!("{root}/state/instances"))
            .await
            .map(text),
        tasks,
    }
}

/// A node's data, or `None` if it does not exist.
pub async fn read_node(client: &zk::Client, node: &str) -> Option<Vec<u8>> {
    match client.get_data(node).await {
        Ok((data, _)) => Some(data),
        Err(zk::Error::NoNode) => None,
        Err(error) => panic!("reading {node}: {error}"),
    }
}

/// Creates `node` with `data`, and the nodes above it if missing.
pub async fn create_node(client: &zk::Client, node: &str, data: &[u8]) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let parent = &node[..node.rfind('/').expect("an absolute path")];
    client
        .mkdir(parent, &options)
        .await
        .expect("creating parents");
    client
        .create(node, data, &options)
        .await
        .unwrap_or_else(|e| panic!("creating {node}: {e}"));
}

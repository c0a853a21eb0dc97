//! ZooKeeper addresses: `zk://host1:2181,host2:2181/path`.
//!
//! A framework meets ZooKeeper twice: to find the leading master
//! (`--master zk://10.10.4.2:2181/mesos`) and to keep its own state
//! (`--zk zk://10.10.4.2:2181/hello-mesos`). Both name an *ensemble* (the
//! servers, any of which will do, since they replicate each other) and a
//! path in its tree, so both are parsed here.

use std::{fmt, str::FromStr};

use crate::master::split_host_port;

/// Where a framework keeps its state: `zk://host1:2181,host2:2181/hello-mesos`.
///
/// A `zk://` `--master` has the same form, its path being where the masters
/// register; for a framework's state the path is the framework's own root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host1:2181,host2:2181`, as the ZooKeeper client takes it.
    pub servers: String,
    /// The framework's root node, such as `/hello-mesos`.
    pub path: String,
}

/// A `--zk` value that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid ZooKeeper URL {input:?}: {reason} (expected e.g. zk://10.10.4.2:2181/hello-mesos)"
)]
pub struct InvalidZkUrl {
    pub input: String,
    pub reason: String,
}

impl FromStr for ZkUrl {
    type Err = InvalidZkUrl;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| InvalidZkUrl {
            input: input.to_string(),
            reason,
        };
        let rest = input
            .trim()
            .strip_prefix("zk://")
            .ok_or_else(|| invalid("it must start with zk://".into()))?;
        let (servers, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("no path after the servers".into()))?;
        if servers.is_empty() {
            return Err(invalid("no ZooKeeper servers".into()));
        }
        if servers.contains('@') {
            return Err(invalid(
                "ZooKeeper credentials in the URL are not supported".into(),
            ));
        }
        for server in servers.split(',') {
            split_host_port(server).map_err(|e| invalid(format!("server {server:?}: {e}")))?;
        }
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Err(invalid("no path after the servers".into()));
        }
        for segment in path.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(invalid(format!("{segment:?} is not a node name")));
            }
            if segment.chars().any(char::is_control) {
                return Err(invalid("control characters in the path".into()));
            }
            // Found by the fuzz target `flags`: in `zk://h/a //` the space
            // was kept, and `zk://h/a ` (as printed) reads back as `/a`.
            if segment.trim() != segment {
                return Err(invalid(format!(
                    "{segment:?}: spaces around a node name (a typo?)"
                )));
            }
        }
        if path.split('/').next() == Some("zookeeper") {
            return Err(invalid("/zookeeper belongs to ZooKeeper itself".into()));
        }
        Ok(ZkUrl {
            servers: servers.to_string(),
            path: format!("/{path}"),
        })
    }
}

impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zk://{}{}", self.servers, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_prints_back_as_itself() {
        for input in ["zk://h:2181/a", "zk://h:1,g:2/a/b c/d"] {
            let url: ZkUrl = input.parse().unwrap();
            assert_eq!(url.to_string(), input);
        }
    }

    #[test]
    fn spaces_around_a_node_name_are_refused() {
        for input in ["zk://5/5 //", "zk://h/ a", "zk://h/a /b"] {
            let error = input.parse::<ZkUrl>().unwrap_err();
            assert!(error.reason.contains("spaces around"), "{input}: {error}");
        }
    }
}

//! ZooKeeper addresses: `zk://host1:2181,host2:2181/path`.
//!
//! A framework meets ZooKeeper twice: to find the leading master
//! (`--master zk://10.10.4.2:2181/mesos`) and to keep its own state
//! (`--zk zk://10.10.4.2:2181/hello-mesos`). Both name an *ensemble* (the
//! servers, any of which will do, since they replicate each other) and a
//! path in its tree, so both are parsed here.
//!
//! # Credentials: `zk://user:password@host:2181/path`
//!
//! As in Mesos (`include/mesos/zookeeper/url.hpp`), what comes before the
//! last `@` of the servers part is a `digest` credential, `user:password`,
//! that the session authenticates with. Mesos then creates its nodes
//! *world-readable*: `EVERYONE_READ_CREATOR_ALL` (`src/zookeeper/group.cpp`),
//! because anyone may need to find the leading master. A framework's nodes
//! hold its framework ID, its tasks and its election, which nobody else
//! needs: **ours are stricter on purpose**, creator-all only
//! (`node_acls`). A client without the credentials can neither read nor
//! change them. (Nodes that existed before keep the ACLs they were made
//! with: ZooKeeper never changes them on its own.)
//!
//! The password is a secret: `Display` and `Debug` of these types show
//! `user:***`, so a URL in a log line or an error hides it.

use std::{fmt, str::FromStr, time::Duration};

use zookeeper_client as zk;

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
    /// The `digest` credential of a `zk://user:password@…` URL.
    pub digest: Option<ZkDigest>,
}

/// A ZooKeeper `digest` credential, `user:password`. Never printed whole.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkDigest {
    user: String,
    password: String,
}

impl ZkDigest {
    /// `user:password`, as a `zk://` URL carries it. ZooKeeper's digest
    /// provider splits at the first `:`; without one, or with an empty
    /// user, authentication could never succeed, so it is refused here.
    pub fn parse(credentials: &str) -> Result<ZkDigest, String> {
        match credentials.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(ZkDigest {
                user: user.to_string(),
                password: password.to_string(),
            }),
            _ => Err("the credentials before '@' must be user:password".into()),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// What the session sends to authenticate.
    fn auth(&self) -> Vec<u8> {
        format!("{}:{}", self.user, self.password).into_bytes()
    }
}

impl fmt::Display for ZkDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:***", self.user)
    }
}

impl fmt::Debug for ZkDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZkDigest({self})")
    }
}

/// Why none of `servers` (`host:port,…`) takes a connection, as the
/// operating system says it ("127.0.0.1:2181: Connection refused (os error
/// 111)"), or `None` if one does. The ZooKeeper client says only that it
/// gave up ("timeout", "no available hosts"); a plain TCP connection names
/// a cause a person can act on.
pub(crate) async fn unreachable_because(servers: &str) -> Option<String> {
    let mut causes = Vec::new();
    for server in servers.split(',') {
        let address = match server.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() => server.to_string(),
            _ => format!("{server}:2181"), // ZooKeeper's client port
        };
        let connecting = tokio::net::TcpStream::connect(address.as_str());
        match tokio::time::timeout(Duration::from_secs(2), connecting).await {
            Ok(Ok(_)) => return None,
            Ok(Err(error)) => causes.push(format!("{address}: {error}")),
            Err(_) => causes.push(format!("{address}: no answer within 2 s")),
        }
    }
    Some(causes.join("; "))
}

/// A ZooKeeper connector that authenticates with `digest` if given. The
/// client sends the credential again on every reconnection.
pub(crate) fn connector(digest: Option<&ZkDigest>) -> zk::Connector {
    let connector = zk::Client::connector();
    match digest {
        Some(digest) => connector.with_auth("digest", &digest.auth()),
        None => connector,
    }
}

/// The ACLs of the nodes a framework creates: everything for whoever
/// authenticated as we did ("auth" ids), nothing for anyone else, when we
/// have credentials; open to all otherwise (ZooKeeper's default, Mesos'
/// `ZOO_OPEN_ACL_UNSAFE`). Stricter than Mesos' `EVERYONE_READ_CREATOR_ALL`
/// on purpose (module docs).
pub(crate) fn node_acls(digest: Option<&ZkDigest>) -> zk::Acls<'static> {
    match digest {
        Some(_) => zk::Acls::creator_all(),
        None => zk::Acls::anyone_all(),
    }
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
            input: redacted(input),
            reason,
        };
        let rest = input
            .trim()
            .strip_prefix("zk://")
            .ok_or_else(|| invalid("it must start with zk://".into()))?;
        let (servers, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("no path after the servers".into()))?;
        // Mesos takes the credentials to be all before the last '@'.
        let (digest, servers) = match servers.rsplit_once('@') {
            Some((credentials, servers)) => (
                Some(ZkDigest::parse(credentials).map_err(invalid)?),
                servers,
            ),
            None => (None, servers),
        };
        if servers.is_empty() {
            return Err(invalid("no ZooKeeper servers".into()));
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
            digest,
        })
    }
}

impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.digest {
            Some(digest) => write!(f, "zk://{digest}@{}{}", self.servers, self.path),
            None => write!(f, "zk://{}{}", self.servers, self.path),
        }
    }
}

/// `input` with the password of a `scheme://user:password@…` hidden, for
/// error messages.
pub(crate) fn redacted(input: &str) -> String {
    let Some((scheme, rest)) = input.trim().split_once("://") else {
        return input.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, servers)) => {
            // Without a ':' it may all be a password.
            match credentials.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{servers}{path}"),
                None => format!("{scheme}://***@{servers}{path}"),
            }
        }
        None => input.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_as_mesos_reads_them() {
        let url: ZkUrl = "zk://fw:s3cr@t@zk1:2181,zk2:2181/hello-mesos"
            .parse()
            .unwrap();
        assert_eq!(url.servers, "zk1:2181,zk2:2181");
        assert_eq!(url.path, "/hello-mesos");
        let digest = url.digest.as_ref().unwrap();
        assert_eq!(digest.user(), "fw");
        // All before the last '@' is the credential (url.hpp).
        assert_eq!(digest.auth(), b"fw:s3cr@t");
        assert_eq!(url.to_string(), "zk://fw:***@zk1:2181,zk2:2181/hello-mesos");
        assert!(!format!("{url:?}").contains("s3cr"));

        let plain: ZkUrl = "zk://zk1:2181/hello-mesos".parse().unwrap();
        assert_eq!(plain.digest, None);
        assert_eq!(plain.to_string(), "zk://zk1:2181/hello-mesos");
    }

    #[test]
    fn errors_hide_the_password() {
        for input in [
            "zk://fw:s3cret@/hello-mesos",
            "zk://fw:s3cret@zk1:2181",
            "zk://fw:s3cret@zk1:x/hello-mesos",
            "zk://s3cret@zk1:2181/hello-mesos",
        ] {
            let error = input.parse::<ZkUrl>().unwrap_err().to_string();
            assert!(!error.contains("s3cret"), "{input}: {error}");
        }
        let error = "zk://:s3cret@zk1:2181/x".parse::<ZkUrl>().unwrap_err();
        assert!(error.reason.contains("user:password"), "{error}");
    }

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

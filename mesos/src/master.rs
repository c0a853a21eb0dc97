//! How a framework names the Mesos master it should talk to.
//!
//! A production Mesos cluster runs several masters for availability; only
//! one of them, elected through ZooKeeper, leads at a time. So a framework
//! is usually not given an address but a way to *find* the leader:
//!
//! | `--master`                          | meaning                                        |
//! |-------------------------------------|------------------------------------------------|
//! | `http://10.10.4.2:5050`, `https://…` | one master; redirects lead to the leader      |
//! | `10.10.4.2:5050`, `10.10.4.2`        | the same, over http, port 5050 by default      |
//! | `zk://host1:2181,host2:2181/mesos`   | ask ZooKeeper who leads, and follow changes    |
//! | `local`                              | a simulated master inside this process         |
//!
//! These are the forms Mesos' own tools accept.

use std::{fmt, str::FromStr};

use crate::zookeeper::{InvalidZkUrl, ZkDigest, ZkUrl, redacted};

/// Why an `https` master is refused by a build without the crate's `tls`
/// feature.
pub(crate) const TLS_DISABLED: &str = "https needs TLS, which this program was built without: enable the `tls` feature of the `mesos` crate";

/// The default port of a Mesos master.
pub const DEFAULT_MASTER_PORT: u16 = 5050;

/// A `--master` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSpec {
    /// A master at a known address.
    Addr(MasterAddr),
    /// Masters that elect their leader in ZooKeeper.
    ZooKeeper {
        /// `host1:2181,host2:2181`, as the ZooKeeper client takes it.
        servers: String,
        /// The znode under which the masters register, e.g. `/mesos`.
        path: String,
        /// `zk://user:password@…`: the session authenticates with it.
        digest: Option<ZkDigest>,
    },
    /// A simulated master in this process (Mesos' own "local").
    Local,
}

/// Whether a master is spoken to in plain HTTP or over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

/// The address of one master: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MasterAddr {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

/// A `--master` value that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid master {input:?}: {reason} (expected e.g. http://10.10.4.2:5050, 10.10.4.2:5050, zk://10.10.4.2:2181/mesos or local)"
)]
pub struct InvalidMaster {
    pub input: String,
    pub reason: String,
}

impl MasterAddr {
    pub fn new(scheme: Scheme, host: impl Into<String>, port: u16) -> Self {
        MasterAddr {
            scheme,
            host: host.into(),
            port,
        }
    }

    /// `host:port`, as written in an HTTP `Host` header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port) // an IPv6 literal
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The scheduler API endpoint of this master.
    pub fn scheduler_url(&self) -> String {
        format!("{self}/api/v1/scheduler")
    }

    /// Parses `scheme://host:port[/path]` or `host[:port][/path]`. A missing
    /// scheme means `default_scheme`, a missing port 5050; a path is ignored.
    pub fn parse_with_default_scheme(input: &str, default_scheme: Scheme) -> Result<Self, String> {
        let (scheme, rest) = match input.split_once("://") {
            Some(("http", rest)) => (Scheme::Http, rest),
            Some(("https", rest)) => (Scheme::Https, rest),
            Some((other, _)) => return Err(format!("unsupported scheme {other:?}")),
            None => (default_scheme, input),
        };
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() {
            return Err("no host".into());
        }
        if authority.contains('@') {
            return Err("credentials belong in --credential, not in the URL".into());
        }
        let (host, port) = split_host_port(authority)?;
        Ok(MasterAddr::new(scheme, host, port))
    }
}

/// Splits `host:port`, `[v6]:port` or a bare host.
///
/// The host must be a name, an IPv4 address or a bracketed IPv6 address:
/// anything else would be written back (in a URL, a `Host` header) as
/// something that means another host, or no host at all. (The fuzz target
/// `flags` found `https::1]:5050` taken as the host `https::1]`.)
pub(crate) fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in IPv6 address")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{host:?} in brackets is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{after:?} after the IPv6 address"))?,
            ),
        };
        (host, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.contains(':') {
            return Err("an IPv6 address goes in brackets: [::1]:5050".into());
        }
        if let Some(bad) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        {
            return Err(format!("{bad:?} cannot be in a host name"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        None => DEFAULT_MASTER_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port {port:?}"))?,
    };
    Ok((host.to_string(), port))
}

impl fmt::Display for MasterAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}", self.authority())
    }
}

impl FromStr for MasterSpec {
    type Err = InvalidMaster;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| InvalidMaster {
            input: redacted(input),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("empty".into()));
        }
        if trimmed == "local" {
            return Ok(MasterSpec::Local);
        }
        if trimmed.starts_with("zk://") {
            let url: ZkUrl = trimmed
                .parse()
                .map_err(|e: InvalidZkUrl| invalid(e.reason))?;
            return Ok(MasterSpec::ZooKeeper {
                servers: url.servers,
                path: url.path,
                digest: url.digest,
            });
        }
        let addr = MasterAddr::parse_with_default_scheme(trimmed, Scheme::Http).map_err(invalid)?;
        // Refused here, as a bad flag, rather than at every connection.
        if addr.scheme == Scheme::Https && !cfg!(feature = "tls") {
            return Err(invalid(TLS_DISABLED.into()));
        }
        Ok(MasterSpec::Addr(addr))
    }
}

impl fmt::Display for MasterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterSpec::Addr(addr) => addr.fmt(f),
            MasterSpec::ZooKeeper {
                servers,
                path,
                digest: None,
            } => write!(f, "zk://{servers}{path}"),
            // `user:***`: the password stays out of logs.
            MasterSpec::ZooKeeper {
                servers,
                path,
                digest: Some(digest),
            } => write!(f, "zk://{digest}@{servers}{path}"),
            MasterSpec::Local => f.write_str("local"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(scheme: Scheme, host: &str, port: u16) -> MasterSpec {
        MasterSpec::Addr(MasterAddr::new(scheme, host, port))
    }

    #[test]
    fn parses_every_form() {
        let cases = [
            (
                "http://10.10.4.2:5050",
                addr(Scheme::Http, "10.10.4.2", 5050),
            ),
            (
                "https://master.example:443/",
                addr(Scheme::Https, "master.example", 443),
            ),
            ("10.10.4.2:5051", addr(Scheme::Http, "10.10.4.2", 5051)),
            ("10.10.4.2", addr(Scheme::Http, "10.10.4.2", 5050)),
            ("[::1]:5050", addr(Scheme::Http, "::1", 5050)),
            ("local", MasterSpec::Local),
            (
                "zk://10.10.4.2:2181,10.10.4.3:2181/mesos",
                MasterSpec::ZooKeeper {
                    servers: "10.10.4.2:2181,10.10.4.3:2181".into(),
                    path: "/mesos".into(),
                    digest: None,
                },
            ),
            (
                "zk://zk:2181/a/b/",
                MasterSpec::ZooKeeper {
                    servers: "zk:2181".into(),
                    path: "/a/b".into(),
                    digest: None,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<MasterSpec>(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn rejects_bad_masters_with_a_reason() {
        for input in [
            "",
            "ftp://host",
            "http://",
            "host:notaport",
            "host:0",
            "host:70000",
            "zk://host:2181",
            "zk://host:2181/",
            "zk:///mesos",
            // Found by the fuzz target `flags`: hosts that do not print
            // back as themselves.
            "https::1]:5050",
            "[::1]x",
            "[not-v6]:5050",
            "::1:5050",
            "host name:5050",
            "http://h?x:5050",
        ] {
            let err = input.parse::<MasterSpec>().unwrap_err();
            assert_eq!(err.input, input);
            assert!(!err.reason.is_empty());
        }
        // The password is not repeated in the error.
        let err = "http://user:pw@host:5050"
            .parse::<MasterSpec>()
            .unwrap_err();
        assert_eq!(err.input, "http://user:***@host:5050");
        let err = "zk://secret@host:2181/mesos"
            .parse::<MasterSpec>()
            .unwrap_err();
        assert_eq!(err.input, "zk://***@host:2181/mesos");
    }

    #[test]
    fn zookeeper_credentials_as_mesos_reads_them() {
        let spec: MasterSpec = "zk://u:p@host:2181/mesos".parse().unwrap();
        let MasterSpec::ZooKeeper { digest, .. } = &spec else {
            panic!("{spec:?}");
        };
        assert_eq!(digest.as_ref().unwrap().user(), "u");
        assert_eq!(spec.to_string(), "zk://u:***@host:2181/mesos");
        assert!(!format!("{spec:?}").contains(":p@"));
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "http://h:5050",
            "https://[::1]:5050",
            "zk://a:1,b:2/mesos",
            "local",
        ] {
            let spec: MasterSpec = input.parse().unwrap();
            assert_eq!(spec.to_string(), input);
            assert_eq!(spec.to_string().parse::<MasterSpec>().unwrap(), spec);
        }
    }
}

//! The test kit's ZooKeeper server keeps its port while it is stopped, so
//! that a restart brings it back where its clients look for it, however
//! many other tests start servers and masters meanwhile.

#![cfg(target_os = "linux")]

use std::net::{Ipv4Addr, TcpListener};

use mesos::testing::{ZooKeeperServer, claim_port, four_letter_word};

/// The first port of the kernel's range for `bind(…:0)`.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_stopped_server_keeps_its_port_for_its_restart() {
    let mut server = ZooKeeperServer::start();
    let port = server.port();
    server.stop();

    // No `bind(…:0)` (a test master, `free_port`) can be given it...
    assert!(
        port < ephemeral_start(),
        "port {port} is in the range the kernel hands out"
    );
    // ...nor another test's ZooKeeper, in this process or another: the
    // port is claimed.
    assert!(claim_port(port).is_none(), "port {port} is not claimed");
    // Meanwhile it is really stopped: the port is free.
    drop(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port is free"));
    let other = ZooKeeperServer::start();
    assert_ne!(other.port(), port);

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(four_letter_word(port, "ruok").unwrap(), "imok");
    drop(server);
    // Once the server is gone, the port is anyone's again.
    assert!(claim_port(port).is_some(), "port {port} is still claimed");
}

#!/usr/bin/env bash
#
# Provisioning of the master VM (10.10.4.2). Runs as root after
# provision-common.sh, which already installed Mesos and wrote /etc/mesos/zk.
#
#   - ZooKeeper (AVENTER's package): Mesos keeps the leading master's address
#     there, and your framework reads it to find the master
#   - mesos-master, configured in /etc/default/mesos-master
#   - the Rust toolchain (rustup) for the vagrant user: you build and run
#     your framework here, from /vagrant (this repository)
#
# Idempotent: running `vagrant provision` again rewrites the same files and
# restarts a service only when its configuration changed.
#
# Settings (passed by the Vagrantfile as environment variables):
#   NODE_IP     this VM's address on the private network (10.10.4.2)
#   MASTER_IP   the same, as the other VMs know it

set -euo pipefail

# --- Versions: change them here, then `vagrant provision master` ------------

# AVENTER's ZooKeeper build for Ubuntu 24.04, and the series to fall back to.
ZOOKEEPER_VERSION="3.9.4-0.1"
ZOOKEEPER_SERIES="3.9."
# ZooKeeper is a Java program; 3.9 runs on Java 11 or newer.
JAVA_PACKAGE="openjdk-17-jre-headless"
# The Rust toolchain for building the frameworks: "stable", or a version
# such as "1.85.0" (the workspace's rust-version is the minimum).
RUST_TOOLCHAIN="${RUST_TOOLCHAIN:-stable}"
RUSTUP_INIT_URL="https://sh.rustup.rs"

# --- Settings from the Vagrantfile ------------------------------------------

NODE_IP="${NODE_IP:?NODE_IP must be set (the Vagrantfile sets it)}"
MASTER_IP="${MASTER_IP:-$NODE_IP}"
WORKSHOP_USER="${WORKSHOP_USER:-vagrant}"

MESOS_WORK_DIR=/var/lib/mesos/master
MESOS_LOG_DIR=/var/log/mesos

export DEBIAN_FRONTEND=noninteractive

log() { printf '==> [%s] %s\n' "$(hostname)" "$*"; }

# write_file PATH MODE: write stdin to PATH (whole file) if it differs.
# Succeeds (status 0) when the file changed, fails (1) when it was already so.
write_file() {
    local path=$1 mode=$2 tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        return 1
    fi
    install -D -m "$mode" "$tmp" "$path"
    rm -f "$tmp"
    log "wrote $path"
    return 0
}

unit_exists() {
    [[ -n "$(systemctl list-unit-files --no-legend "$1.service" 2>/dev/null)" ]]
}

# start_service UNIT CHANGED: enable UNIT at boot and make sure it runs;
# restart it when its configuration CHANGED (1) so the change takes effect.
start_service() {
    local unit=$1 changed=$2
    systemctl enable --now "$unit"
    if [[ "$changed" == 1 ]]; then
        log "configuration of $unit changed: restarting it"
        systemctl restart "$unit"
    fi
}

# Services that belong on the agents only: stopped, and not started at boot.
disable_service() {
    local unit=$1
    if unit_exists "$unit"; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
}

# Same as in provision-common.sh: keep packages from starting their services
# with default settings while they are installed.
without_service_autostart() {
    local status=0 policy=/usr/sbin/policy-rc.d
    if [[ -e "$policy" ]]; then
        "$@"
        return
    fi
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    "$@" || status=$?
    rm -f "$policy"
    return "$status"
}

# pick_version PACKAGE PINNED SERIES: see provision-common.sh.
pick_version() {
    local package=$1 pinned=$2 series=$3 available newest
    available=$(apt-cache madison "$package" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
    if grep -qxF -- "$pinned" <<<"$available"; then
        echo "$pinned"
        return
    fi
    newest=$(awk -v s="$series" 'index($0, s) == 1 {print; exit}' <<<"$available")
    if [[ -z "$newest" ]]; then
        echo "error: no ${package} ${series}x in the apt repositories (offered: ${available:-nothing})" >&2
        exit 1
    fi
    echo "warning: ${package}=${pinned} is gone from the repository; using ${newest}" >&2
    echo "$newest"
}

# --- ZooKeeper ------------------------------------------------------------------

install_zookeeper() {
    local version installed
    apt-get install -y -q "$JAVA_PACKAGE"
    version=$(pick_version zookeeper "$ZOOKEEPER_VERSION" "$ZOOKEEPER_SERIES")
    installed=$(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || true)
    if [[ "$installed" != "$version" ]]; then
        log "installing zookeeper $version"
        without_service_autostart \
            apt-get install -y -q --allow-change-held-packages "zookeeper=${version}"
    fi
    apt-mark hold zookeeper >/dev/null
}

zoo_cfg_path() {
    local candidate
    for candidate in /etc/zookeeper/conf/zoo.cfg /opt/zookeeper/conf/zoo.cfg; do
        if [[ -f "$candidate" ]]; then
            echo "$candidate"
            return
        fi
    done
    candidate=$(dpkg -L zookeeper 2>/dev/null | grep '/zoo\.cfg$' | head -n 1 || true)
    if [[ -z "$candidate" ]]; then
        echo "error: cannot find the zookeeper package's zoo.cfg" >&2
        exit 1
    fi
    echo "$candidate"
}

# set_property FILE KEY VALUE: KEY=VALUE in a Java properties file, replacing
# an existing KEY line or adding one (never a second one).
set_property() {
    local file=$1 key=$2 value=$3
    if grep -q "^${key}=" "$file"; then
        sed -i "s|^${key}=.*|${key}=${value}|" "$file"
    else
        printf '%s=%s\n' "$key" "$value" >>"$file"
    fi
}

# We keep the package's zoo.cfg (its data directory and timeouts) and only
# set what the workshop relies on.
configure_zookeeper() {
    local cfg before data_dir
    cfg=$(zoo_cfg_path)
    before=$(md5sum <"$cfg")

    # The port clients (Mesos, your framework) connect to.
    set_property "$cfg" clientPort 2181
    # Since ZooKeeper 3.5 the "four letter word" commands are off by default.
    # bin/diagnose-vagrant-setup.sh sends `ruok` and expects `imok`; `stat`
    # and `mntr` are handy to look at the server by hand:
    #   echo stat | nc 10.10.4.2 2181
    set_property "$cfg" 4lw.commands.whitelist "ruok,stat,srvr,mntr,conf"
    # The AdminServer (a web console on port 8080) is not needed here.
    set_property "$cfg" admin.enableServer false
    # Without server.N lines ZooKeeper runs standalone: one server, which is
    # all a workshop cluster needs (a production cluster runs 3 or 5).
    if ! grep -q '^dataDir=' "$cfg"; then
        set_property "$cfg" dataDir /var/lib/zookeeper
    fi
    data_dir=$(sed -n 's/^dataDir=//p' "$cfg" | tail -n 1)
    mkdir -p "$data_dir"
    if id zookeeper >/dev/null 2>&1; then
        chown zookeeper: "$data_dir"
    fi

    if [[ "$(md5sum <"$cfg")" != "$before" ]]; then
        log "updated $cfg"
        zookeeper_changed=1
    fi
}

# --- mesos-master ---------------------------------------------------------------
# The package's service reads its settings from /etc/default/mesos-master:
# every MESOS_<FLAG> variable is the flag --<flag> of `mesos-master --help`.

configure_mesos_master() {
    local webui_line=""
    # Where the package keeps the web UI; the master serves it on port 5050.
    if [[ -d /usr/share/mesos/webui ]]; then
        webui_line="MESOS_WEBUI_DIR=/usr/share/mesos/webui"
    fi

    mkdir -p "$MESOS_WORK_DIR" "$MESOS_LOG_DIR"
    if write_file /etc/default/mesos-master 0644 <<EOF; then master_changed=1; fi
# Written by vagrant/provision-master.sh: edit that script, not this file.

# The address the master listens on. 0.0.0.0 (all interfaces) rather than
# only ${NODE_IP}, because the forwarded port (http://localhost:5050 on your
# machine) arrives on the VM's NAT interface, not on the private network.
MESOS_IP=0.0.0.0
# The address the master tells everyone else to use: it is published in
# ZooKeeper and shown in the web UI. Without it the master might pick the NAT
# address 10.0.2.15, which every VM has and no other VM can reach.
MESOS_ADVERTISE_IP=${NODE_IP}
# The name the web UI uses in its links; an IP address works from your
# machine without any DNS.
MESOS_HOSTNAME=${NODE_IP}
MESOS_HOSTNAME_LOOKUP=false
MESOS_PORT=5050

# ZooKeeper, for leader election and so that agents and frameworks can find
# the leading master (the file holds zk://${MASTER_IP}:2181/mesos).
MESOS_ZK=file:///etc/mesos/zk
# How many masters must agree on the replicated registry: more than half of
# the masters. We run a single master, so 1.
MESOS_QUORUM=1

# The master's replicated log (registry of agents and frameworks).
MESOS_WORK_DIR=${MESOS_WORK_DIR}
# Log files, also readable from the web UI ("LOG" link).
MESOS_LOG_DIR=${MESOS_LOG_DIR}
# A name shown at the top of the web UI.
MESOS_CLUSTER=workshop
${webui_line}
EOF
    remove_conflicting_flag_files mesos-master /etc/default/mesos-master
}

# The package's start script also turns files such as /etc/mesos-master/ip
# into command-line flags, and a command-line flag beats the environment: a
# leftover file would silently override what we set above. Remove the files
# for the flags we set.
remove_conflicting_flag_files() {
    local role=$1 defaults=$2 var flag
    [[ -d "/etc/${role}" ]] || return 0
    while IFS='=' read -r var _; do
        [[ "$var" == MESOS_* ]] || continue
        flag=${var#MESOS_}
        flag=${flag,,}
        if [[ -e "/etc/${role}/${flag}" ]]; then
            log "removing /etc/${role}/${flag} (set in ${defaults} instead)"
            rm -f "/etc/${role}/${flag}"
            master_changed=1
        fi
    done <"$defaults"
}

# --- Rust --------------------------------------------------------------------------

install_rust() {
    local home rustup
    # A C toolchain (the `ring` crate compiles C), git, and pkg-config.
    apt-get install -y -q build-essential pkg-config git curl
    home=$(getent passwd "$WORKSHOP_USER" | cut -d: -f6)
    rustup="${home}/.cargo/bin/rustup"
    if [[ ! -x "$rustup" ]]; then
        log "installing rustup and Rust ${RUST_TOOLCHAIN} for ${WORKSHOP_USER}"
        # rustup-init also adds ~/.cargo/bin to the user's PATH (~/.profile).
        sudo -u "$WORKSHOP_USER" -H bash -c \
            "curl --proto '=https' --tlsv1.2 -sSf '${RUSTUP_INIT_URL}' |
             sh -s -- -y --profile minimal --default-toolchain '${RUST_TOOLCHAIN}' \
                       --component rustfmt --component clippy"
    else
        log "rustup already installed: making sure Rust ${RUST_TOOLCHAIN} is there"
        sudo -u "$WORKSHOP_USER" -H "$rustup" toolchain install "$RUST_TOOLCHAIN" \
            --profile minimal --component rustfmt --component clippy
        sudo -u "$WORKSHOP_USER" -H "$rustup" default "$RUST_TOOLCHAIN"
    fi
}

main() {
    zookeeper_changed=0
    master_changed=0
    log "master provisioning for ${NODE_IP}"

    install_zookeeper
    configure_zookeeper
    start_service zookeeper "$zookeeper_changed"

    configure_mesos_master
    # The master VM runs no agent: tasks go to agent1, agent2, ...
    disable_service mesos-agent
    disable_service mesos-slave
    start_service mesos-master "$master_changed"

    install_rust

    log "master provisioning done: http://${NODE_IP}:5050 (or http://localhost:5050)"
}

main "$@"

#!/usr/bin/env bash
#
# Provisioning shared by every VM of the workshop cluster (master and agents).
# Vagrant runs it as root, before provision-master.sh / provision-agent.sh.
#
#   - /etc/hosts: every VM can reach the others as master, agent1, agent2, ...
#   - AVENTER's apt repository (Mesosphere's repositories are gone; the
#     Apache Mesos download page points to AVENTER's packages)
#   - the aventer-mesos package, pinned to a Mesos 1.11.x build
#   - /etc/mesos/zk: where the Mesos daemons find ZooKeeper
#
# It is idempotent: `vagrant provision` may run it again at any time. Files
# are written whole (never appended to blindly), and installs are skipped
# when the wanted version is already there.
#
# Settings (passed by the Vagrantfile as environment variables):
#   NODE_IP        this VM's address on the private network
#   MASTER_IP      the master's address (ZooKeeper runs there)
#   CLUSTER_HOSTS  "10.10.4.2=master,10.10.4.10=agent1,..." for /etc/hosts

set -euo pipefail

# --- Versions: change them here, then `vagrant provision` -------------------

# AVENTER builds Mesos per Ubuntu release; the repository path and the
# package versions name the release ("noble" = Ubuntu 24.04, our box).
UBUNTU_CODENAME="noble"
AVENTER_REPO_URL="https://rpm.aventer.biz/Ubuntu/${UBUNTU_CODENAME}"
AVENTER_KEY_URL="https://www.aventer.biz/assets/support_aventer.asc"
# The exact build we test with, and the series to fall back to (the newest
# 1.11.x on offer) should AVENTER have replaced that build.
MESOS_VERSION="1.11.0-0.7.1.ubuntu2404"
MESOS_SERIES="1.11."

# --- Settings from the Vagrantfile ------------------------------------------

NODE_IP="${NODE_IP:?NODE_IP must be set (the Vagrantfile sets it)}"
MASTER_IP="${MASTER_IP:?MASTER_IP must be set (the Vagrantfile sets it)}"
CLUSTER_HOSTS="${CLUSTER_HOSTS:-${MASTER_IP}=master}"

KEYRING=/etc/apt/keyrings/aventer.asc
SOURCES_LIST=/etc/apt/sources.list.d/aventer-mesos.list

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

# --- /etc/hosts ----------------------------------------------------------------
# Mesos itself is configured with IP addresses only (see the /etc/default
# files), so this is a convenience for you: `curl http://master:5050/...`.
# Our entries live between two marker lines that we replace as a whole.

configure_hosts() {
    local begin="# BEGIN mesos-workshop (managed by Vagrant provisioning)"
    local end="# END mesos-workshop"
    local entry ip name
    local -a entries
    IFS=',' read -r -a entries <<<"$CLUSTER_HOSTS"
    {
        # Everything but our old block, then our new block.
        awk -v b="$begin" -v e="$end" '$0 == b {skip = 1; next} $0 == e {skip = 0; next} !skip' /etc/hosts
        echo "$begin"
        for entry in "${entries[@]}"; do
            ip=${entry%%=*}
            name=${entry#*=}
            printf '%s\t%s\n' "$ip" "$name"
        done
        echo "$end"
    } | write_file /etc/hosts 0644 || true
}

# --- AVENTER's apt repository -------------------------------------------------
# The signing key goes to /etc/apt/keyrings and the repository line names it
# with signed-by=, so this key is trusted for this repository only (the old
# `apt-key add` trusted it for every repository and is deprecated).

configure_aventer_repository() {
    local tmp
    apt-get update -q
    apt-get install -y -q ca-certificates curl

    # Fetched on every run: the key has an expiry date, and AVENTER renews it.
    tmp=$(mktemp)
    curl -fsSL --retry 3 -o "$tmp" "$AVENTER_KEY_URL"
    if ! grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$tmp"; then
        rm -f "$tmp"
        echo "error: $AVENTER_KEY_URL did not return a PGP public key" >&2
        exit 1
    fi
    write_file "$KEYRING" 0644 <"$tmp" || true
    rm -f "$tmp"

    echo "deb [signed-by=${KEYRING}] ${AVENTER_REPO_URL} ${UBUNTU_CODENAME} main" |
        write_file "$SOURCES_LIST" 0644 || true
    apt-get update -q
}

# pick_version PACKAGE PINNED SERIES: print PINNED if the repositories offer
# it, else the newest offered version starting with SERIES (with a warning).
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

# Install PACKAGE=VERSION unless it is already installed, then hold it so
# that an `apt-get upgrade` inside the VM cannot move the cluster to another
# Mesos release in the middle of the workshop.
install_pinned() {
    local package=$1 version=$2 installed
    installed=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)
    if [[ "$installed" == "$version" ]]; then
        log "$package $version already installed"
    else
        log "installing $package $version"
        without_service_autostart \
            apt-get install -y -q --allow-change-held-packages "${package}=${version}"
    fi
    apt-mark hold "$package" >/dev/null
}

# Debian packages start their services as soon as they are installed, with
# the package's default settings (an agent would then register with the
# wrong address, and remember it). policy-rc.d answering 101 ("action not
# allowed") stops that; the role scripts start the services once they are
# configured.
without_service_autostart() {
    local status=0 policy=/usr/sbin/policy-rc.d
    if [[ -e "$policy" ]]; then
        # Someone else's policy is in place: leave it alone.
        "$@"
        return
    fi
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    "$@" || status=$?
    rm -f "$policy"
    return "$status"
}

install_mesos() {
    local version
    version=$(pick_version aventer-mesos "$MESOS_VERSION" "$MESOS_SERIES")
    install_pinned aventer-mesos "$version"
    # Libraries the Mesos binaries load that the package does not pull in
    # (AVENTER's own mesos-mini image adds libunwind8 the same way).
    apt-get install -y -q libunwind8 libsasl2-modules python3
}

# --- Where is ZooKeeper? ------------------------------------------------------
# Both daemons read this file: the master to elect a leader and publish its
# address, the agents to find the current leader (MESOS_ZK / MESOS_MASTER =
# file:///etc/mesos/zk in /etc/default/mesos-*). "/mesos" is the znode under
# which Mesos keeps its data.

configure_zk() {
    echo "zk://${MASTER_IP}:2181/mesos" | write_file /etc/mesos/zk 0644 || true
}

main() {
    log "common provisioning for ${NODE_IP}"
    configure_hosts
    configure_aventer_repository
    install_mesos
    configure_zk
    log "common provisioning done"
}

main "$@"

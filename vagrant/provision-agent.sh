#!/usr/bin/env bash
#
# Provisioning of an agent VM (10.10.4.10, 10.10.4.11, ...). Runs as root
# after provision-common.sh, which already installed Mesos and wrote
# /etc/mesos/zk.
#
#   - Docker, so that tasks can run in Docker containers
#   - mesos-agent, configured in /etc/default/mesos-agent, with both the
#     Mesos containerizer (plain commands) and the Docker containerizer
#
# Idempotent: running `vagrant provision` again rewrites the same files and
# restarts a service only when its configuration changed.
#
# Settings (passed by the Vagrantfile as environment variables):
#   NODE_IP     this VM's address on the private network
#   MASTER_IP   the master's address (ZooKeeper runs there)

set -euo pipefail

# --- Versions -------------------------------------------------------------------

# Docker from Ubuntu's own archive: no extra repository needed.
DOCKER_PACKAGE="docker.io"

# --- Settings from the Vagrantfile ------------------------------------------

NODE_IP="${NODE_IP:?NODE_IP must be set (the Vagrantfile sets it)}"
MASTER_IP="${MASTER_IP:?MASTER_IP must be set (the Vagrantfile sets it)}"
WORKSHOP_USER="${WORKSHOP_USER:-vagrant}"

MESOS_WORK_DIR=/var/lib/mesos/agent
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

# Services that belong on the master only: stopped, and not started at boot.
disable_service() {
    local unit=$1
    if unit_exists "$unit"; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
}

# --- Docker ----------------------------------------------------------------------

install_docker() {
    apt-get install -y -q "$DOCKER_PACKAGE"
    systemctl enable --now docker
    # So that you can run `docker ps` on the agent without sudo, to look at
    # the containers your tasks run in.
    if id "$WORKSHOP_USER" >/dev/null 2>&1; then
        usermod -aG docker "$WORKSHOP_USER"
    fi
}

# --- mesos-agent ----------------------------------------------------------------
# The package's service reads its settings from /etc/default/mesos-agent:
# every MESOS_<FLAG> variable is the flag --<flag> of `mesos-agent --help`.

configure_mesos_agent() {
    mkdir -p "$MESOS_WORK_DIR" "$MESOS_LOG_DIR"
    if write_file /etc/default/mesos-agent 0644 <<EOF; then agent_changed=1; fi
# Written by vagrant/provision-agent.sh: edit that script, not this file.

# The address the agent listens on (port 5051), and the address it gives the
# master. Every VirtualBox VM also has the NAT address 10.0.2.15, which no
# other VM can reach: naming the private-network address explicitly keeps
# Mesos from picking that one.
MESOS_IP=${NODE_IP}
MESOS_ADVERTISE_IP=${NODE_IP}
# The name the master and the web UI use for this agent (sandbox links in
# the web UI point here); an IP address needs no DNS.
MESOS_HOSTNAME=${NODE_IP}
MESOS_HOSTNAME_LOOKUP=false
MESOS_PORT=5051

# How to find the leading master: through ZooKeeper (the file holds
# zk://${MASTER_IP}:2181/mesos), so the agent follows a new leader by itself.
MESOS_MASTER=file:///etc/mesos/zk

# Sandboxes of tasks and executors, and the agent's checkpoints.
MESOS_WORK_DIR=${MESOS_WORK_DIR}
# Log files, also readable from the web UI.
MESOS_LOG_DIR=${MESOS_LOG_DIR}

# "mesos" runs plain commands (and can unpack Docker images itself); "docker"
# hands tasks that ask for a Docker container to the local Docker daemon.
MESOS_CONTAINERIZERS=mesos,docker
# What the Mesos containerizer isolates: its own filesystem per container,
# and Docker image support (AVENTER's mesos-mini uses the same setup).
MESOS_ISOLATION=filesystem/linux,docker/runtime
MESOS_IMAGE_PROVIDERS=docker
MESOS_LAUNCHER=linux
# Ubuntu 22.04 and newer only have cgroups v2; AVENTER's Mesos build needs to
# be told. Executors stay in the agent's cgroup rather than systemd's.
MESOS_ENABLE_CGROUPSV2=true
MESOS_SYSTEMD_ENABLE_SUPPORT=false
MESOS_DOCKER_SOCKET=/var/run/docker.sock
# Pulling a Docker image for the first time can take minutes; the default
# (1 minute) would kill the executor while it is still downloading.
MESOS_EXECUTOR_REGISTRATION_TIMEOUT=5mins
EOF
    remove_conflicting_flag_files mesos-agent /etc/default/mesos-agent

    # Start the agent only after Docker (the Docker containerizer needs the
    # daemon), and retry if it stops.
    if write_file /etc/systemd/system/mesos-agent.service.d/10-workshop.conf 0644 <<'EOF'; then
# Written by vagrant/provision-agent.sh.
[Unit]
Wants=docker.service
After=docker.service network-online.target

[Service]
Restart=on-failure
RestartSec=5s
EOF
        systemctl daemon-reload
        agent_changed=1
    fi
}

# The package's start script also turns files such as /etc/mesos-agent/ip
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
            agent_changed=1
        fi
    done <"$defaults"
}

# An agent remembers who it was (its ID, address and resources) in its work
# directory and refuses to start if that no longer matches its flags. After a
# configuration change we let it start as a new agent instead: tasks on the
# old one are gone anyway once it restarts with new settings.
forget_agent_identity() {
    if [[ -L "${MESOS_WORK_DIR}/meta/slaves/latest" ]]; then
        log "agent configuration changed: it will register as a new agent"
        rm -f "${MESOS_WORK_DIR}/meta/slaves/latest"
    fi
}

start_agent() {
    if [[ "$agent_changed" == 1 ]]; then
        systemctl stop mesos-agent || true
        forget_agent_identity
    fi
    systemctl enable --now mesos-agent
}

main() {
    agent_changed=0
    log "agent provisioning for ${NODE_IP}"

    install_docker

    # Only the master runs ZooKeeper and mesos-master. (The packages may
    # have installed their services here too.)
    disable_service zookeeper
    disable_service mesos-master

    configure_mesos_agent
    start_agent

    log "agent provisioning done: http://${NODE_IP}:5051/state"
}

main "$@"

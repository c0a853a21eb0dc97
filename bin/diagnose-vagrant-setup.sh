#!/usr/bin/env bash
#
# Checks that the workshop's Mesos cluster is up and reachable from this
# machine. Run it from anywhere after `vagrant up`:
#
#   bin/diagnose-vagrant-setup.sh
#
# or, for the room on this machine without VMs (`bin/room start`):
#
#   MASTER_IP=127.0.0.1 bin/diagnose-vagrant-setup.sh
#
# Each check prints one line starting with "Success: " or "Failure: "; a
# failure is followed by a line starting with "  Hint: " that says how to fix
# it. The exit status is 0 when every check succeeded, 1 otherwise.
#
# Settings (environment variables):
#   MASTER_IP     the master's address              (default 10.10.4.2)
#   MASTER_PORT   the master's HTTP port            (default 5050)
#   ZK            ZooKeeper, host:port              (default $MASTER_IP:2181)
#   AGENT_COUNT   how many agents should be up      (default 2)
#   SKIP_VAGRANT  1: skip the checks that run vagrant (for a cluster that
#                 was not made by this repository's Vagrantfile); the
#                 default when MASTER_IP is a loopback address (bin/room)
#
# Needs bash (3.2 or newer: macOS' own is fine), curl and python3 (for the
# JSON); nc is used when present.

set -uo pipefail

MASTER_IP="${MASTER_IP:-10.10.4.2}"
MASTER_PORT="${MASTER_PORT:-5050}"
ZK="${ZK:-${MASTER_IP}:2181}"
AGENT_COUNT="${AGENT_COUNT:-2}"
# A master on this machine is bin/room's: no VMs to ask, and the hints
# say how to start or look at the room instead.
case "$MASTER_IP" in
127.* | localhost) ON_THIS_MACHINE=1 ;;
*) ON_THIS_MACHINE= ;;
esac
SKIP_VAGRANT="${SKIP_VAGRANT:-$ON_THIS_MACHINE}"
ROOM_HINT="is the room running? bin/room status says what runs, bin/room start starts it; the logs are in target/room/"

# Seconds before a network request gives up: a dead host fails fast.
TIMEOUT=5
# `vagrant ssh` is slow to start; give it more time.
VAGRANT_TIMEOUT=60

MASTER_URL="http://${MASTER_IP}:${MASTER_PORT}"

# vagrant commands must run where the Vagrantfile is: the repository root.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VAGRANT_CWD="${VAGRANT_CWD:-$REPO_ROOT}"

FAILURES=0
WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT
# The master's /master/state, fetched once by check_master_http.
STATE_FILE="$WORK_DIR/master-state.json"

success() {
    echo "Success: $*"
}

# failure MESSAGE HINT
failure() {
    echo "Failure: $1"
    echo "  Hint: $2"
    FAILURES=$((FAILURES + 1))
}

# vm_or_room HINT: HINT for the VMs, or bin/room's for a room on this machine.
vm_or_room() {
    if [[ -n "$ON_THIS_MACHINE" ]]; then
        echo "$ROOM_HINT"
    else
        echo "$1"
    fi
}

skipping_vagrant() {
    [[ "$SKIP_VAGRANT" == 1 || "$SKIP_VAGRANT" == true || "$SKIP_VAGRANT" == yes ]]
}

print_settings() {
    echo "Settings:"
    echo "  MASTER_IP=$MASTER_IP"
    echo "  MASTER_PORT=$MASTER_PORT"
    echo "  ZK=$ZK"
    echo "  AGENT_COUNT=$AGENT_COUNT"
    if skipping_vagrant; then
        echo "  SKIP_VAGRANT=$SKIP_VAGRANT (the checks that run vagrant are skipped)"
    else
        echo "  SKIP_VAGRANT=${SKIP_VAGRANT:-<unset>} (vagrant runs in $VAGRANT_CWD)"
    fi
    echo
}

# The checks need curl and python3; without them, say so and stop.
require_tools() {
    local tool missing=0
    for tool in curl python3; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            failure "$tool is not installed" \
                "install it (Debian/Ubuntu: sudo apt-get install $tool; macOS: brew install $tool) and run this script again"
            missing=1
        fi
    done
    if [[ "$missing" == 1 ]]; then
        exit 1
    fi
    if ! [[ "$AGENT_COUNT" =~ ^[0-9]+$ ]]; then
        failure "AGENT_COUNT=$AGENT_COUNT is not a number" \
            "set AGENT_COUNT to the number of agents you started (MESOS_AGENTS for vagrant, default 2)"
        exit 1
    fi
}

# json_get FILE PYTHON_EXPRESSION: evaluate the expression with `s` bound to
# the parsed JSON of FILE and print the result (lists: one item a line).
json_get() {
    python3 - "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    s = json.load(f)
result = eval(sys.argv[2], {"s": s})
if isinstance(result, (list, tuple)):
    for item in result:
        print(item)
elif result is not None:
    print(result)
PY
}

# http_status URL [OUTPUT_FILE]: print the HTTP status code of a GET of URL
# ("000" when nothing answered), saving the body to OUTPUT_FILE.
http_status() {
    local url=$1 output=${2:-/dev/null}
    curl -s -o "$output" -w '%{http_code}' \
        --connect-timeout "$TIMEOUT" --max-time "$TIMEOUT" "$url" 2>/dev/null ||
        true
}

# with_timeout SECONDS COMMAND...: run COMMAND, killing it (and whatever it
# started) after SECONDS. Exits 124 on a time-out, like GNU timeout, which
# macOS lacks: there we use Homebrew's gtimeout, or a few lines of perl.
with_timeout() {
    local seconds=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout "$seconds" "$@"
    elif command -v gtimeout >/dev/null 2>&1; then
        gtimeout "$seconds" "$@"
    elif command -v perl >/dev/null 2>&1; then
        # The command runs in a process group of its own, all of which is
        # killed on time-out (as GNU timeout does).
        # shellcheck disable=SC2016
        perl -e '
            my $seconds = shift @ARGV;
            my $pid = fork() // exit 125;
            if ($pid == 0) { setpgrp(0, 0); exec @ARGV or exit 127; }
            $SIG{ALRM} = sub { kill "TERM", -$pid; sleep 1; kill "KILL", -$pid; exit 124; };
            alarm $seconds;
            waitpid($pid, 0);
            exit(($? & 127) ? 128 + ($? & 127) : $? >> 8);
        ' "$seconds" "$@"
    else
        "$@"
    fi
}

# run_in_vm VM COMMAND: run COMMAND in VM through `vagrant ssh`.
run_in_vm() {
    with_timeout "$VAGRANT_TIMEOUT" vagrant ssh "$1" -c "$2" </dev/null 2>/dev/null
}

# ---------------------------------------------------------------------------
# 1. Vagrant and a provider to run the VMs.

check_vagrant_installed() {
    local version
    if version=$(vagrant --version 2>/dev/null); then
        success "vagrant is installed ($version)"
    else
        failure "vagrant is not installed" \
            "install Vagrant from https://developer.hashicorp.com/vagrant/install (or your package manager) and make sure 'vagrant' is on your PATH"
    fi
}

check_provider_installed() {
    local found=()
    command -v VBoxManage >/dev/null 2>&1 && found+=("VirtualBox")
    command -v virsh >/dev/null 2>&1 && found+=("libvirt")
    command -v vmrun >/dev/null 2>&1 && found+=("VMware")
    command -v prlctl >/dev/null 2>&1 && found+=("Parallels")
    if ((${#found[@]} > 0)); then
        success "a Vagrant provider is installed (${found[*]})"
    else
        failure "no Vagrant provider found (looked for VBoxManage, virsh, vmrun, prlctl)" \
            "install VirtualBox from https://www.virtualbox.org/ (or libvirt plus 'vagrant plugin install vagrant-libvirt')"
    fi
}

# ---------------------------------------------------------------------------
# 2. The master VM has the address everything else expects.

check_master_vm_ip() {
    local addresses
    if ! addresses=$(run_in_vm master "hostname -I"); then
        failure "could not run 'hostname -I' in the master VM with 'vagrant ssh master'" \
            "start the VMs with 'vagrant up' in $VAGRANT_CWD ('vagrant status' shows which are running)"
        return
    fi
    addresses=$(echo "$addresses" | tr -d '\r')
    if [[ " $addresses " == *" $MASTER_IP "* ]]; then
        success "the master VM has the address $MASTER_IP"
    else
        failure "the master VM's addresses are '$(echo "$addresses" | xargs)', without $MASTER_IP" \
            "VirtualBox 6.1.28+ only allows host-only networks in 192.168.56.0/21: add the line '* 10.0.0.0/8' to /etc/vbox/networks.conf, then 'vagrant reload master'"
    fi
}

# ---------------------------------------------------------------------------
# 3. ZooKeeper answers.

# zk_send HOST PORT WORD: send a four-letter word to ZooKeeper, print the reply.
zk_send() {
    local host=$1 port=$2 word=$3
    if command -v nc >/dev/null 2>&1; then
        printf '%s' "$word" | with_timeout "$TIMEOUT" nc "$host" "$port" 2>/dev/null
    else
        # bash's own TCP client: /dev/tcp/HOST/PORT. The inner script gets
        # host, port and word as $1..$3, hence the single quotes.
        # shellcheck disable=SC2016
        with_timeout "$TIMEOUT" bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "%s" "$3" >&3
            exec cat <&3
        ' zk_send "$host" "$port" "$word" 2>/dev/null
    fi
}

check_zookeeper() {
    local hostport host port reply status
    # Accept "host:port", "zk://host:port/mesos" and "h1:p,h2:p" (first one).
    hostport=${ZK#zk://}
    hostport=${hostport%%/*}
    hostport=${hostport%%,*}
    host=${hostport%:*}
    port=${hostport##*:}
    if [[ "$host" == "$hostport" ]]; then
        port=2181
    fi

    reply=$(zk_send "$host" "$port" ruok)
    status=$?
    if [[ "$reply" == imok ]]; then
        success "ZooKeeper at $host:$port answers 'ruok' with 'imok'"
    elif [[ -n "$reply" ]]; then
        failure "ZooKeeper at $host:$port answered 'ruok' with '$(printf '%s' "$reply" | head -c 200 | tr '\n' ' ' | sed 's/ *$//')'" \
            "ZooKeeper 3.5+ only answers four-letter words it allows: add '4lw.commands.whitelist=ruok,stat,srvr,mntr' to zoo.cfg (vagrant provision master does) and restart it: vagrant ssh master -c 'sudo systemctl restart zookeeper'"
    elif ((status == 124)); then
        failure "ZooKeeper at $host:$port did not answer 'ruok' within ${TIMEOUT}s" \
            "$(vm_or_room "nothing answers at $host: start the VMs with 'vagrant up' and check that this machine reaches $host (ping $host)")"
    else
        failure "ZooKeeper at $host:$port did not answer 'ruok' (connection refused or closed without a reply)" \
            "$(vm_or_room "is ZooKeeper running? vagrant ssh master -c 'sudo systemctl status zookeeper'") (for a ZooKeeper of your own: ZooKeeper 3.5+ needs '4lw.commands.whitelist=ruok,stat,srvr,mntr' in zoo.cfg to answer 'ruok')"
    fi
}

# ---------------------------------------------------------------------------
# 4. The master's HTTP API answers.

check_master_http() {
    local status
    status=$(http_status "$MASTER_URL/master/state" "$STATE_FILE")
    if [[ "$status" == 200 ]]; then
        success "the master answers GET $MASTER_URL/master/state with 200"
    elif [[ "$status" == 000 ]]; then
        rm -f "$STATE_FILE"
        failure "nothing answers GET $MASTER_URL/master/state (connection refused, or no answer within ${TIMEOUT}s)" \
            "$(vm_or_room "is mesos-master running? vagrant ssh master -c 'sudo systemctl status mesos-master; sudo journalctl -u mesos-master -n 50'. If it runs, this machine cannot reach $MASTER_IP: see the master VM's address check")"
    else
        rm -f "$STATE_FILE"
        failure "the master answers GET $MASTER_URL/master/state with HTTP $status" \
            "307 means this master is not the leader, 503 that it is still starting: wait a little and run this again; otherwise read its log: vagrant ssh master -c 'sudo journalctl -u mesos-master -n 50'"
    fi
}

# The checks below read the state fetched above.
have_state() {
    [[ -s "$STATE_FILE" ]] && json_get "$STATE_FILE" '1' >/dev/null 2>&1
}

no_state_failure() {
    failure "$1: the master's state is not available" \
        "fix the check of $MASTER_URL/master/state above first"
}

# ---------------------------------------------------------------------------
# 5. A master leads (it was elected through ZooKeeper).

check_master_leader() {
    local leader version
    if ! have_state; then
        no_state_failure "cannot tell whether a master leads"
        return
    fi
    leader=$(json_get "$STATE_FILE" 's.get("leader") or ""')
    version=$(json_get "$STATE_FILE" 's.get("version") or "unknown"')
    if [[ -n "$leader" ]]; then
        success "mesos-master is active: the leader is $leader (Mesos $version)"
    else
        failure "mesos-master has no leader" \
            "the master elects a leader through ZooKeeper: fix the ZooKeeper check first, then check /etc/mesos/zk and MESOS_QUORUM=1 in the master VM ('vagrant provision master' rewrites them)"
    fi
}

# ---------------------------------------------------------------------------
# 6. All the agents registered.

check_agent_count() {
    local count
    if ! have_state; then
        no_state_failure "cannot count the agents"
        return
    fi
    count=$(json_get "$STATE_FILE" \
        'int(s["activated_slaves"]) if "activated_slaves" in s else len([a for a in s.get("slaves", []) if a.get("active", True)])')
    if ! [[ "$count" =~ ^[0-9]+$ ]]; then
        failure "cannot count the agents: the master's state has neither 'activated_slaves' nor 'slaves'" \
            "is $MASTER_URL really a Mesos master? Open $MASTER_URL in a browser"
    elif [[ "$count" == "$AGENT_COUNT" ]]; then
        success "$count agent(s) registered with the master, as expected"
    elif ((count < AGENT_COUNT)); then
        failure "$count agent(s) registered with the master, expected $AGENT_COUNT" \
            "start the missing agents ('vagrant status'; 'vagrant up agent1'), then read an agent's log: vagrant ssh agent1 -c 'sudo journalctl -u mesos-agent -n 50'. Ran vagrant with MESOS_AGENTS=N? Run this with AGENT_COUNT=N"
    else
        failure "$count agent(s) registered with the master, expected $AGENT_COUNT" \
            "more agents than expected: if you started them with MESOS_AGENTS=$count, run this with AGENT_COUNT=$count"
    fi
}

# ---------------------------------------------------------------------------
# 7. Every registered agent answers on its own HTTP endpoint.

check_agents_http() {
    local url status failed=() total=0
    if ! have_state; then
        no_state_failure "cannot list the agents"
        return
    fi
    # An agent's pid "slave(1)@10.10.4.10:5051" gives its state endpoint
    # http://10.10.4.10:5051/slave(1)/state.
    while IFS= read -r url; do
        [[ -n "$url" ]] || continue
        total=$((total + 1))
        status=$(http_status "$url")
        if [[ "$status" != 200 ]]; then
            failed+=("$url (HTTP $status)")
        fi
    done < <(json_get "$STATE_FILE" \
        '["http://%s/%s/state" % (a["pid"].split("@", 1)[1], a["pid"].split("@", 1)[0]) for a in s.get("slaves", []) if "@" in a.get("pid", "")]')
    if ((total == 0)); then
        failure "no registered agent to check" \
            "no agent registered with the master: see the agent count check above"
    elif ((${#failed[@]} == 0)); then
        success "all $total registered agent(s) answer GET <agent>/state with 200"
    else
        failure "${#failed[@]} of $total agent(s) did not answer with 200: ${failed[*]}" \
            "the master gave these addresses: they must be the agents' private-network addresses (10.10.4.x) reachable from here; check MESOS_IP/MESOS_ADVERTISE_IP in /etc/default/mesos-agent and 'sudo systemctl status mesos-agent' in that VM"
    fi
}

# ---------------------------------------------------------------------------
# 8. Every agent VM reaches the master.

check_agents_reach_master() {
    local i vm failed=()
    if ((AGENT_COUNT == 0)); then
        success "no agent VM to check (AGENT_COUNT=0)"
        return
    fi
    for ((i = 1; i <= AGENT_COUNT; i++)); do
        vm="agent$i"
        if ! run_in_vm "$vm" "curl -sf --max-time $TIMEOUT -o /dev/null http://$MASTER_IP:$MASTER_PORT/master/state" >/dev/null; then
            failed+=("$vm")
        fi
    done
    if ((${#failed[@]} == 0)); then
        success "all $AGENT_COUNT agent VM(s) reach the master at http://$MASTER_IP:$MASTER_PORT"
    else
        failure "these agent VMs cannot reach the master at http://$MASTER_IP:$MASTER_PORT: ${failed[*]}" \
            "are they running ('vagrant status')? If so, the private network is broken: 'vagrant reload ${failed[0]}' and check 'ip addr' in the VM"
    fi
}

main() {
    print_settings
    require_tools

    if ! skipping_vagrant; then
        check_vagrant_installed
        check_provider_installed
        check_master_vm_ip
    fi
    check_zookeeper
    check_master_http
    check_master_leader
    check_agent_count
    check_agents_http
    if ! skipping_vagrant; then
        check_agents_reach_master
    fi

    echo
    if ((FAILURES > 0)); then
        echo "$FAILURES check(s) failed."
        exit 1
    fi
    echo "All checks passed."
}

main "$@"

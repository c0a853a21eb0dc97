#!/usr/bin/env bash
#
# Static checks of the Vagrant setup, runnable without VirtualBox:
#
#   - `vagrant validate --ignore-provider` accepts the Vagrantfile (with the
#     default settings and with non-default MESOS_AGENTS/memory/cpus), and
#     rejects a bad MESOS_AGENTS value;
#   - `shellcheck` finds nothing in the shell scripts under bin/ and vagrant/.
#
# Exits non-zero on any problem. Installs Debian's `vagrant` and `shellcheck`
# packages with apt-get when they are missing and we run as root; otherwise
# says what to install. Nothing here starts a VM or downloads a box.

set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT" || exit 1

# Keep vagrant from phoning home (version check) while validating.
export VAGRANT_CHECKPOINT_DISABLE=1
export VAGRANT_BOX_UPDATE_CHECK_DISABLE=1
# ...and from leaving a .vagrant/ directory in the repository.
VAGRANT_DOTFILE_PATH="$(mktemp -d)"
export VAGRANT_DOTFILE_PATH
trap 'rm -rf "$VAGRANT_DOTFILE_PATH"' EXIT

PROBLEMS=0

problem() {
    echo "FAIL: $*" >&2
    PROBLEMS=$((PROBLEMS + 1))
}

ensure_tools() {
    local missing=() tool
    for tool in vagrant shellcheck; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) && return 0

    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing ${missing[*]}; install it first," >&2
        echo "  e.g. 'sudo apt-get install ${missing[*]}' (Debian/Ubuntu)," >&2
        echo "  or see https://developer.hashicorp.com/vagrant/install and https://www.shellcheck.net/" >&2
        exit 2
    fi
    echo "Installing ${missing[*]} with apt-get..."
    if ! apt-get update -q >/dev/null ||
        ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; then
        echo "error: 'apt-get install ${missing[*]}' failed" >&2
        exit 2
    fi
    for tool in "${missing[@]}"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "error: $tool is still missing after apt-get install" >&2
            exit 2
        fi
    done
}

# validate DESCRIPTION [VAR=VALUE...]: vagrant validate with those settings.
validate() {
    local description=$1 output
    shift
    if output=$(env "$@" vagrant validate --ignore-provider 2>&1); then
        echo "ok: vagrant validate ($description)"
    else
        problem "vagrant validate ($description):"
        echo "$output" >&2
    fi
}

check_vagrantfile() {
    validate "defaults"
    validate "MESOS_AGENTS=3 MESOS_VM_MEMORY=4096 MESOS_VM_CPUS=4" \
        MESOS_AGENTS=3 MESOS_VM_MEMORY=4096 MESOS_VM_CPUS=4
    validate "MESOS_AGENTS=0" MESOS_AGENTS=0

    # A typo must stop vagrant with a clear message, not start 0 agents.
    local output
    if output=$(env MESOS_AGENTS=two vagrant validate --ignore-provider 2>&1); then
        problem "vagrant validate accepted MESOS_AGENTS=two"
    elif ! grep -q 'MESOS_AGENTS' <<<"$output"; then
        problem "vagrant validate rejected MESOS_AGENTS=two without naming it:"
        echo "$output" >&2
    else
        echo "ok: vagrant validate rejects MESOS_AGENTS=two"
    fi
}

# Every shell script under bin/ and vagrant/: *.sh files, and files whose
# first line is a sh/bash shebang.
shell_scripts() {
    local file
    find bin vagrant -type f 2>/dev/null | sort | while IFS= read -r file; do
        if [[ "$file" == *.sh ]] || head -n 1 "$file" | grep -Eq '^#!.*[/ ](ba)?sh([[:space:]]|$)'; then
            echo "$file"
        fi
    done
}

check_shell_scripts() {
    local scripts=()
    mapfile -t scripts < <(shell_scripts)
    if ((${#scripts[@]} == 0)); then
        problem "no shell scripts found under bin/ and vagrant/"
        return
    fi
    if shellcheck -x "${scripts[@]}"; then
        echo "ok: shellcheck (${scripts[*]})"
    else
        problem "shellcheck found problems (above)"
    fi
}

main() {
    ensure_tools
    echo "vagrant: $(vagrant --version 2>/dev/null); shellcheck: $(shellcheck --version | sed -n 's/^version: //p')"
    check_vagrantfile
    check_shell_scripts
    if ((PROBLEMS > 0)); then
        echo "$PROBLEMS problem(s) found." >&2
        exit 1
    fi
    echo "All checks passed."
}

main "$@"

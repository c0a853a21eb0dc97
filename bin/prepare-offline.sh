#!/usr/bin/env bash
# Prepares this checkout for a workshop room without internet.
#
# Run it once while online (the night before). Afterwards builds need no
# network: every crate the workspace (the library, the steps and what the
# template generates) depends on is copied into vendor/, and Cargo is told to
# take crates from there. It also installs cargo-generate and downloads the
# Vagrant box, the two other things the room would otherwise fetch.
#
#   bin/prepare-offline.sh                     everything
#   bin/prepare-offline.sh --no-box            skip the Vagrant box
#   bin/prepare-offline.sh --vendor-dir DIR --config FILE
#                                              vendor elsewhere (for tests)
#   bin/prepare-offline.sh --dry-run           say what it would do, do nothing
#
# To go back to online builds, delete .cargo/config.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

vendor_dir=vendor
config=.cargo/config.toml
box=true
dry_run=false
while [ $# -gt 0 ]; do
  case "$1" in
    --vendor-dir) vendor_dir=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --no-box) box=false; shift ;;
    --dry-run) dry_run=true; shift ;;
    *) echo "usage: $0 [--no-box] [--vendor-dir DIR] [--config FILE] [--dry-run]" >&2; exit 2 ;;
  esac
done

log() { printf '==> %s\n' "$*"; }

# Runs a command, or with --dry-run prints it.
run() {
  if $dry_run; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}

log "copying every crate the workspace needs into $vendor_dir"
if $dry_run; then
  run cargo vendor --locked --versioned-dirs "$vendor_dir"
  echo "+ write $config"
else
  mkdir -p "$(dirname "$config")"
  # cargo vendor prints the configuration that points Cargo at the copies.
  # --locked: exactly the versions in Cargo.lock, which the generated crates
  # also use when generated inside this checkout (they join its workspace).
  # Optional dependencies (the library's `tls` feature) are copied too.
  # Its progress (a line per crate) goes to a log, shown only if it fails.
  if ! cargo vendor --locked --versioned-dirs "$vendor_dir" >"$config.new" 2>"$config.log"; then
    cat "$config.log" >&2
    exit 1
  fi
  rm -f "$config.log"
  {
    echo "# Written by bin/prepare-offline.sh: build from the crates in $vendor_dir."
    echo "# Delete this file to build from crates.io again."
    cat "$config.new"
    printf '\n[net]\noffline = true\n'
  } >"$config"
  rm -f "$config.new"
fi

if cargo generate --version >/dev/null 2>&1; then
  log "cargo-generate is installed"
else
  log "installing cargo-generate (about 5 minutes)"
  run cargo install cargo-generate --version 0.26.0 --locked --ignore-rust-version --quiet
fi

if $box; then
  box_name=$(sed -n 's/^BOX *= *ENV.fetch("MESOS_BOX", *"\([^"]*\)").*/\1/p' Vagrantfile)
  if [ -z "$box_name" ]; then
    echo "cannot find the box's name (BOX = ENV.fetch(\"MESOS_BOX\", ...)) in the Vagrantfile" >&2
    exit 1
  elif ! command -v vagrant >/dev/null; then
    echo "vagrant is not installed: install it, then run this again to download the box" >&2
    exit 1
  elif vagrant box list 2>/dev/null | grep -q "^${box_name} "; then
    log "the Vagrant box ${box_name} is already here"
  else
    log "downloading the Vagrant box ${box_name}"
    run vagrant box add "$box_name" --provider virtualbox
  fi
fi

$dry_run || log "done: builds in this checkout now work offline"

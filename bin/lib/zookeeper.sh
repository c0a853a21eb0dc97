# shellcheck shell=bash
# A ZooKeeper server for the scripts that need one (bin/room, bin/go-ha):
# Debian's `zookeeper` package ships the server's jar but starts no server
# and puts its scripts off PATH, so we start the jar ourselves. Sourced,
# not run.

ZOOKEEPER_JAR=${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}

# Whether something answers `imok` to ZooKeeper's `ruok` at host:port.
zookeeper_answers() {
  (
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf ruok >&3
    read -r -t 2 answer <&3 || true
    [ "$answer" = imok ]
  ) 2>/dev/null
}

# Whether anything listens on 127.0.0.1:port.
port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The first port from $1 on (at most 100 tried) where nothing listens.
free_port_from() {
  local port
  for port in $(seq "$1" $(($1 + 99))); do
    port_taken "$port" || {
      echo "$port"
      return 0
    }
  done
  return 1
}

# start_zookeeper PORT DATA_DIR LOG_FILE: starts a standalone server on
# 127.0.0.1:PORT in the background (its pid in $zookeeper_pid) and waits
# until it answers `ruok`. `ruok`, `stat`, `srvr` and `mntr` are allowed:
# ZooKeeper 3.5+ answers only the four-letter words it is told to, and
# bin/diagnose-vagrant-setup.sh asks `ruok`. Fails with a message on
# stderr when it cannot.
start_zookeeper() {
  local port=$1 data_dir=$2 log_file=$3
  [ -f "$ZOOKEEPER_JAR" ] || {
    echo "no ZooKeeper: install it (sudo apt-get install -y zookeeper default-jre-headless)" >&2
    return 1
  }
  mkdir -p "$data_dir"
  # setsid: a server of its own, which a Ctrl-C in this terminal does not
  # reach; whoever started it stops it.
  setsid java -Dzookeeper.admin.enableServer=false \
    -Dzookeeper.4lw.commands.whitelist=ruok,stat,srvr,mntr \
    -cp "$ZOOKEEPER_JAR" org.apache.zookeeper.server.ZooKeeperServerMain \
    "$port" "$data_dir" >"$log_file" 2>&1 </dev/null &
  zookeeper_pid=$!
  for _ in $(seq 150); do
    zookeeper_answers 127.0.0.1 "$port" && return 0
    kill -0 "$zookeeper_pid" 2>/dev/null || break
    sleep 0.2
  done
  kill "$zookeeper_pid" 2>/dev/null || true
  echo "ZooKeeper did not start on 127.0.0.1:$port; the end of $log_file:" >&2
  tail -n 5 "$log_file" >&2
  return 1
}

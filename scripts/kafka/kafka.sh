#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for
# end-to-end tests and CI, run from the jars published on Maven Central.
#
#   kafka.sh install        fetch the broker classpath into $GCUPSERT_KAFKA_HOME/libs
#   kafka.sh start [DIR]    start a broker whose files live in DIR (default: a new
#                           temporary dir); prints the bootstrap address host:port
#   kafka.sh stop [DIR]     stop the broker of DIR (SIGTERM, then SIGKILL)
#   kafka.sh status [DIR]   print "running <bootstrap>" (exit 0) or "stopped" (exit 3)
#   kafka.sh bootstrap [DIR] print the bootstrap address of DIR
#
# DIR holds server.properties, log4j2.properties, broker.log, kafka.out, kafka.pid,
# bootstrap, port, controller.port, cluster.id and data/. Starting an existing DIR
# reuses its data, cluster id and ports, so a stop+start keeps topics and offsets
# and the same bootstrap address.
# When DIR is omitted, stop/status/bootstrap use $GCUPSERT_KAFKA_DIR, else the DIR
# of the last start (recorded in $GCUPSERT_KAFKA_HOME/current).
#
# Environment:
#   GCUPSERT_KAFKA_HOME           cache root (default ~/.cache/gcupsert/kafka)
#   GCUPSERT_KAFKA_DIR            default DIR for stop/status/bootstrap
#   GCUPSERT_KAFKA_START_TIMEOUT  seconds to wait for the broker (default 90)
#   KAFKA_HEAP_OPTS               JVM heap flags (default -Xms128m -Xmx512m)
#   KAFKA_JVM_OPTS                other JVM flags (default: serial GC, small metaspace)
#   JAVA_HOME                     optional; java on PATH otherwise
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/pom.xml"
KHOME="${GCUPSERT_KAFKA_HOME:-${HOME:-/root}/.cache/gcupsert/kafka}"
LIBS="$KHOME/libs"
STAMP="$LIBS/.complete"
START_TIMEOUT="${GCUPSERT_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT=20

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java >/dev/null 2>&1 || die "java not found (install a JDK 17+ or set JAVA_HOME)"
    command -v java
  fi
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

installed() { [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; }

cmd_install() {
  if installed; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (apt-get install -y maven)"
  mkdir -p "$KHOME"
  # Serialise concurrent installs sharing one cache.
  exec 9>"$KHOME/.install.lock"
  flock 9
  if installed; then
    exec 9>&-
    return 0
  fi
  local tmp="$KHOME/libs.tmp.$$"
  rm -rf "$tmp"
  log "fetching the Kafka broker classpath into $LIBS"
  if ! mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$KHOME/install.log" 2>&1; then
    cat "$KHOME/install.log" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed"
  fi
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "kafka_2.13 jar missing after copy"; }
  pom_hash >"$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  exec 9>&-
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# free_ports N: prints N distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
  local n="$1"
  if command -v python3 >/dev/null 2>&1 && python3 - "$n" <<'PY' 2>/dev/null; then
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
    return 0
  fi
  local got=() p
  while ((${#got[@]} < n)); do
    p=$((20000 + RANDOM % 40000))
    [[ " ${got[*]} " == *" $p "* ]] && continue
    port_in_use "$p" && continue
    got+=("$p")
  done
  printf '%s\n' "${got[@]}"
}

port_in_use() {
  local p="$1"
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . && return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$st" != Z ]]
}

# wait_ports_free SECONDS PORT...: waits until no listener holds any PORT.
wait_ports_free() {
  local deadline=$((SECONDS + $1)) p busy
  shift
  while :; do
    busy=
    for p in "$@"; do
      port_in_use "$p" && busy=1
    done
    [[ -z "$busy" ]] && return 0
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# random_cluster_id: a base64url UUID as StorageTool expects, not starting with '-'.
random_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  printf '%s\n' "$id"
}

resolve_dir() {
  local d="${1:-${GCUPSERT_KAFKA_DIR:-}}"
  if [[ -z "$d" && -f "$KHOME/current" ]]; then
    d="$(cat "$KHOME/current")"
  fi
  [[ -n "$d" ]] || die "no broker dir given (argument, GCUPSERT_KAFKA_DIR, or a previous start)"
  [[ -d "$d" ]] || die "no such dir: $d"
  (cd "$d" && pwd)
}

# pid_of DIR: prints the broker pid if it is alive and is this DIR's broker.
pid_of() {
  local dir="$1" pid
  [[ -f "$dir/kafka.pid" ]] || return 1
  pid="$(cat "$dir/kafka.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against pid reuse: the process must be the broker of this DIR.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/server.properties" || return 1
  printf '%s\n' "$pid"
}

write_configs() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a SIGKILL the old registration blocks the restart until the session expires.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
EOF
  cat >"$dir/log4j2.properties" <<EOF
status = warn
name = gcupsert-kafka
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/broker.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
}

log_tail() {
  local dir="$1"
  log "---- last lines of $dir/broker.log ----"
  tail -n 40 "$dir/broker.log" >&2 2>/dev/null || true
  if [[ -s "$dir/kafka.out" ]]; then
    log "---- last lines of $dir/kafka.out ----"
    tail -n 20 "$dir/kafka.out" >&2 || true
  fi
}

cmd_start() {
  local dir="${1:-}"
  cmd_install
  local java
  java="$(java_bin)"
  if [[ -z "$dir" ]]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/gcupsert-kafka.XXXXXX")"
  else
    mkdir -p "$dir"
  fi
  dir="$(cd "$dir" && pwd)"

  local pid
  if pid="$(pid_of "$dir")"; then
    log "broker already running (pid $pid) in $dir"
    cat "$dir/bootstrap"
    return 0
  fi

  local port cport
  if [[ -f "$dir/port" && -f "$dir/controller.port" ]]; then
    port="$(cat "$dir/port")"
    cport="$(cat "$dir/controller.port")"
    # A broker that just exited may hold its sockets for a moment.
    wait_ports_free 10 "$port" "$cport" \
      || die "port $port or $cport of $dir is taken by another process"
  else
    local ports
    mapfile -t ports < <(free_ports 2)
    port="${ports[0]}"
    cport="${ports[1]}"
    echo "$port" >"$dir/port"
    echo "$cport" >"$dir/controller.port"
  fi
  local bootstrap="127.0.0.1:$port"
  echo "$bootstrap" >"$dir/bootstrap"
  write_configs "$dir" "$port" "$cport"

  local cp="$LIBS/*"
  local log4j="-Dlog4j2.configurationFile=$dir/log4j2.properties"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    [[ -f "$dir/cluster.id" ]] || random_cluster_id >"$dir/cluster.id"
    if ! "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$log4j" -cp "$cp" \
        kafka.tools.StorageTool format --config "$dir/server.properties" \
        --cluster-id="$(cat "$dir/cluster.id")" --ignore-formatted \
        >"$dir/format.out" 2>&1; then
      cat "$dir/format.out" >&2
      die "storage format failed"
    fi
  fi

  local heap="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
  local jvm="${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:MaxMetaspaceSize=256m -Djava.awt.headless=true}"
  local start_lines=0
  [[ -f "$dir/broker.log" ]] && start_lines="$(wc -l <"$dir/broker.log")"
  local t0=$SECONDS
  # shellcheck disable=SC2086  # heap and jvm are word lists
  setsid "$java" $heap $jvm "$log4j" -cp "$cp" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/kafka.pid"
  mkdir -p "$KHOME"
  echo "$dir" >"$KHOME/current"

  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! alive "$pid"; then
      log_tail "$dir"
      rm -f "$dir/kafka.pid"
      die "broker exited during startup (dir $dir)"
    fi
    if tail -n "+$((start_lines + 1))" "$dir/broker.log" 2>/dev/null \
        | grep -q 'Kafka Server started' && port_open "$port"; then
      if ! command -v kcat >/dev/null 2>&1 \
          || kcat -L -b "$bootstrap" -m 5 2>/dev/null | grep -q '1 brokers'; then
        break
      fi
    fi
    if ((SECONDS >= deadline)); then
      log_tail "$dir"
      log "broker not ready after ${START_TIMEOUT}s; stopping it"
      cmd_stop "$dir" || true
      exit 1
    fi
    sleep 0.3
  done
  log "broker ready in $((SECONDS - t0))s (pid $pid, dir $dir)"
  echo "$bootstrap"
}

cmd_stop() {
  local dir pid
  dir="$(resolve_dir "${1:-}")"
  if ! pid="$(pid_of "$dir")"; then
    rm -f "$dir/kafka.pid"
    log "no broker running in $dir"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    log "broker (pid $pid) still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$dir/kafka.pid"
  # The main thread can be a zombie while other threads still close sockets.
  wait_ports_free 10 "$(cat "$dir/port")" "$(cat "$dir/controller.port")" \
    || log "ports of $dir still busy after stop"
  log "broker stopped (dir $dir)"
}

cmd_status() {
  local dir pid
  dir="$(resolve_dir "${1:-}")"
  if pid="$(pid_of "$dir")"; then
    echo "running $(cat "$dir/bootstrap") pid=$pid dir=$dir"
    return 0
  fi
  echo "stopped dir=$dir"
  return 3
}

cmd_bootstrap() {
  local dir
  dir="$(resolve_dir "${1:-}")"
  cat "$dir/bootstrap"
}

usage() {
  sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local sub="${1:-}"
  shift || true
  case "$sub" in
    install) cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    bootstrap) cmd_bootstrap "$@" ;;
    -h | --help | help | "") usage ;;
    *) log "unknown subcommand: $sub"; usage ;;
  esac
}

main "$@"

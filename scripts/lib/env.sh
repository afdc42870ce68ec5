# shellcheck shell=bash
# Sourced, never executed: `. scripts/lib/env.sh`. Safe under `set -euo pipefail`; changes no
# shell options.
#
# Sets ROOT (the repo root, from this file's path), puts Node 24 first on PATH (scripts/lib/node.sh),
# sets CFD_CACHE (built binaries, Maven jars), loads $ROOT/.env with common/env-file.js (dotenv
# semantics; the environment wins; an empty value means unset) and exports a default for every
# setting the stack and the services share (ports, URLs, TEMPORAL_NAMESPACE).
#
# Before applying defaults it records which connection settings the user chose, as EXTERNAL_*=1|0:
#   DATABASE_URL  -> EXTERNAL_POSTGRES    REDIS_URL        -> EXTERNAL_REDIS
#   KAFKA_BROKERS -> EXTERNAL_KAFKA       TEMPORAL_ADDRESS -> EXTERNAL_TEMPORAL
#   SMTP_URL      -> EXTERNAL_SMTP        TEMPORAL_BIN     -> EXTERNAL_TEMPORAL_BIN
# ("chose" = set in the environment or in .env.) scripts/stack.sh provisions nothing for an
# external service; it only waits until it answers. Setting an EXTERNAL_* yourself overrides this.
#
# Nesting: everything this file sets is listed in CFD_ENV_SET and its checkout in CFD_ENV_ROOT.
# A script sourcing it again for the same checkout keeps those values (so exported defaults never
# look user-set); one for another checkout first drops them, so that checkout's .env and defaults
# apply rather than ours.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT

if [[ -n "${CFD_ENV_ROOT:-}" && "$CFD_ENV_ROOT" != "$ROOT" ]]; then
  for _cfd_v in ${CFD_ENV_SET:-}; do unset "$_cfd_v"; done
  unset _cfd_v
  CFD_ENV_SET=""
fi
CFD_ENV_ROOT="$ROOT"
CFD_ENV_SET="${CFD_ENV_SET:-}"
export CFD_ENV_ROOT CFD_ENV_SET

# cfd_env_set <name> <value>: sets and exports a variable that the user did not set, and records it.
cfd_env_set() {
  printf -v "$1" '%s' "$2"
  export "${1?}"
  [[ " $CFD_ENV_SET " == *" $1 "* ]] || CFD_ENV_SET="${CFD_ENV_SET:+$CFD_ENV_SET }$1"
}

# cfd_env_default <name> <value>: cfd_env_set unless the variable is set and non-empty.
cfd_env_default() {
  if [[ -z "${!1:-}" ]]; then cfd_env_set "$1" "$2"; else export "${1?}"; fi
}

# Node 24 first on PATH (scripts/lib/node.sh): the .env parser below and every command after it
# run on it.
# shellcheck source=scripts/lib/node.sh
. "$ROOT/scripts/lib/node.sh"
cfd_use_node || { echo "[env     ] cannot provide Node ${CFD_NODE_VERSION}; see scripts/lib/node.sh" >&2; exit 1; }

# .env is parsed by the project's one loader (common/env-file.js, dotenv semantics: inline
# `# comments`, quotes), the same code the TypeScript processes use. It prints the pairs the file
# adds (not already in the environment, not empty) NUL-separated, so nothing is evaluated here.
cfd_load_dotenv() {
  local file="$1" key val pairs
  [[ -f "$file" ]] || return 0
  pairs="$(mktemp)"
  if ! node "$ROOT/common/env-file.js" --nul "$file" >"$pairs"; then
    rm -f "$pairs"; echo "[env     ] could not read $file" >&2; exit 1
  fi
  # .env values count as the user's choice (see EXTERNAL_* below).
  while IFS= read -r -d '' key && IFS= read -r -d '' val; do
    cfd_env_set "$key" "$val"
  done <"$pairs"
  rm -f "$pairs"
}
cfd_load_dotenv "$ROOT/.env"

# EXTERNAL_<svc>: 1 when the user chose <var>, else 0; an EXTERNAL_* already set wins.
cfd_mark_external() {
  local flag="$1" var="$2"
  if [[ -n "${!flag:-}" ]]; then
    export "${flag?}"
  elif [[ -n "${!var:-}" ]]; then
    cfd_env_set "$flag" 1
  else
    cfd_env_set "$flag" 0
  fi
}
cfd_mark_external EXTERNAL_POSTGRES DATABASE_URL
cfd_mark_external EXTERNAL_REDIS REDIS_URL
cfd_mark_external EXTERNAL_KAFKA KAFKA_BROKERS
cfd_mark_external EXTERNAL_TEMPORAL TEMPORAL_ADDRESS
cfd_mark_external EXTERNAL_SMTP SMTP_URL
cfd_mark_external EXTERNAL_TEMPORAL_BIN TEMPORAL_BIN

cfd_env_default CFD_CACHE "$HOME/.cache/cfd-auth"
# Data, logs and pid files of scripts/stack.sh; another directory (with other ports) runs a second,
# private stack from the same checkout (npm run chaos does).
cfd_env_default CFD_DATA_DIR "$ROOT/.data"

# The scripts run the local stack: development secrets are only allowed with NODE_ENV set explicitly.
cfd_env_default NODE_ENV development
cfd_env_default POSTGRES_PORT 5432
cfd_env_default REDIS_PORT 6379
cfd_env_default KAFKA_PORT 9092
cfd_env_default KAFKA_CONTROLLER_PORT 9093
cfd_env_default TEMPORAL_PORT 7233
cfd_env_default TEMPORAL_UI_PORT 8233
cfd_env_default SMTP_PORT 1025
cfd_env_default MAILDEV_WEB_PORT 1080
cfd_env_default API_PORT 3001
cfd_env_default WEB_PORT 3000
cfd_env_default WORKER_HEALTH_PORT 3002
cfd_env_default DB_PROCESSOR_HEALTH_PORT 3003
# Prometheus: the API's /metrics port, the worker's Temporal SDK metrics, the Temporal dev
# server's metrics, and the local Prometheus (scripts/stack.sh; PROMETHEUS_SKIP=1 leaves it out).
cfd_env_default API_METRICS_PORT 9464
cfd_env_default WORKER_TEMPORAL_METRICS_PORT 9465
cfd_env_default TEMPORAL_METRICS_PORT 9466
cfd_env_default PROMETHEUS_PORT 9090
# Jaeger (traces; scripts/stack.sh, JAEGER_SKIP=1 leaves it out): its UI, its query gRPC port and
# the OTLP/HTTP port our processes export to (`npm start` sets OTEL_EXPORTER_OTLP_ENDPOINT to it).
cfd_env_default JAEGER_UI_PORT 16686
cfd_env_default JAEGER_QUERY_GRPC_PORT 16685
cfd_env_default JAEGER_OTLP_PORT 4318
cfd_env_default JAEGER_BIN "${CFD_CACHE}/bin/jaeger-v1.76.0"
cfd_env_default TEMPORAL_NAMESPACE default

cfd_env_default DATABASE_URL "postgres://cfd_auth:cfd_auth@127.0.0.1:${POSTGRES_PORT}/cfd_auth"
cfd_env_default REDIS_URL "redis://127.0.0.1:${REDIS_PORT}"
cfd_env_default KAFKA_BROKERS "127.0.0.1:${KAFKA_PORT}"
cfd_env_default TEMPORAL_ADDRESS "127.0.0.1:${TEMPORAL_PORT}"
cfd_env_default TEMPORAL_UI_URL "http://127.0.0.1:${TEMPORAL_UI_PORT}"
cfd_env_default SMTP_URL "smtp://127.0.0.1:${SMTP_PORT}"
cfd_env_default MAILDEV_URL "http://127.0.0.1:${MAILDEV_WEB_PORT}"
cfd_env_default TEMPORAL_BIN "${CFD_CACHE}/bin/temporal"

export CFD_ENV_SET

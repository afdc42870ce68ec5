# shellcheck shell=bash disable=SC2016
# (SC2016: the single-quoted scripts are run by `bash -c` with their own $0 $1.)
# Sourced. Protocol-level probes (each bounded by a short timeout, never hangs) and URL helpers.
# Every probe returns 0 when the service answers its own protocol, non-zero otherwise.
# Needs only bash, coreutils (timeout, head, od) and curl; uses pg_isready / redis-cli when present.

: "${CFD_PROBE_TIMEOUT:=3}"

# host:port of a URL (postgres://u:p@h:5432/db, redis://h:6379, smtp://h:1025, h:9092, [::1]:9092).
# Prints "host port"; $2 is the port when the URL has none.
cfd_url_hostport() {
  local url="$1" def="${2:-}" rest host port
  rest="${url#*://}"
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  rest="${rest##*@}"
  if [[ "$rest" =~ ^\[([^]]+)\](:([0-9]+))?$ ]]; then
    host="${BASH_REMATCH[1]}"; port="${BASH_REMATCH[3]}"
  elif [[ "$rest" =~ ^([^:]+)(:([0-9]+))?$ ]]; then
    host="${BASH_REMATCH[1]}"; port="${BASH_REMATCH[3]}"
  else
    return 1
  fi
  printf '%s %s\n' "$host" "${port:-$def}"
}

# TCP connect only.
cfd_probe_tcp() {
  timeout "$CFD_PROBE_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# PostgreSQL: pg_isready, else an SSLRequest answered by 'S' or 'N'.
cfd_probe_postgres() {
  local host="$1" port="$2" out
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$host" -p "$port" -t "$CFD_PROBE_TIMEOUT" >/dev/null 2>&1
    return
  fi
  out="$(timeout "$CFD_PROBE_TIMEOUT" bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x08\x04\xd2\x16\x2f" >&3
    head -c 1 <&3' "$host" "$port" 2>/dev/null)" || return 1
  [[ "$out" == S || "$out" == N ]]
}

# Redis: PING answered by +PONG (or -NOAUTH: a Redis that wants a password is still a Redis).
cfd_probe_redis() {
  local host="$1" port="$2" out
  out="$(timeout "$CFD_PROBE_TIMEOUT" bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r line <&3; printf "%s" "$line"' "$host" "$port" 2>/dev/null)" || return 1
  [[ "$out" == +PONG* || "$out" == -NOAUTH* ]]
}

# Kafka: an ApiVersions v0 request (correlation id 1) whose reply echoes correlation id 1.
cfd_probe_kafka() {
  local host="$1" port="$2" out
  out="$(timeout "$CFD_PROBE_TIMEOUT" bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04cfdp" >&3
    head -c 8 <&3 | od -An -tx1' "$host" "$port" 2>/dev/null)" || return 1
  out="$(printf '%s' "$out" | tr -s ' \n' ' ')"
  [[ "$out" =~ 00\ 00\ 00\ 01\ ?$ ]]
}

# SMTP: the server greets with 220.
cfd_probe_smtp() {
  local host="$1" port="$2" out
  out="$(timeout "$CFD_PROBE_TIMEOUT" bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    head -c 3 <&3; printf "QUIT\r\n" >&3' "$host" "$port" 2>/dev/null)" || return 1
  [[ "$out" == 220 ]]
}

# HTTP: any 2xx (curl -f).
cfd_probe_http() {
  curl -fsS -o /dev/null --max-time "$CFD_PROBE_TIMEOUT" "$1" 2>/dev/null
}

# HTTP: any answer at all (an API that 404s on / is still up).
cfd_probe_http_any() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time "$CFD_PROBE_TIMEOUT" "$1" 2>/dev/null)" || true
  [[ -n "$code" && "$code" != 000 ]]
}

# Temporal: the namespace answers (needs the CLI: $1), else falls back to a TCP connect.
cfd_probe_temporal() {
  local bin="$1" address="$2" namespace="$3" host port
  if [[ -x "$bin" ]]; then
    timeout $((CFD_PROBE_TIMEOUT + 2)) "$bin" operator namespace describe -n "$namespace" --address "$address" \
      -o none --log-level never >/dev/null 2>&1
    return
  fi
  read -r host port < <(cfd_url_hostport "$address" 7233) || return 1
  cfd_probe_tcp "$host" "$port"
}

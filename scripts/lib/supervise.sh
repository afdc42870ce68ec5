#!/usr/bin/env bash
# scripts/lib/supervise.sh <name> <liveness URL | -> -- <command...>
#
# Keeps one application process running (npm start runs api, worker, db-processor and web under it):
# - the command runs in a process group of its own; whenever it exits (crash, exit code, kill -9) it
#   is started again after a doubling delay, SUPERVISE_BACKOFF_INITIAL_MS (1000) up to
#   SUPERVISE_BACKOFF_MAX_MS (30000); a run that lasted SUPERVISE_STABLE_MS (60000) resets the delay;
# - with a liveness URL, the process is checked every SUPERVISE_LIVE_INTERVAL_MS (5000); once it has
#   answered 200, SUPERVISE_LIVE_FAILURES (3) failed checks in a row (for example a Kafka consumer
#   that could not rejoin its group within KAFKA_REJOIN_BOUND_MS) stop it (SIGTERM, SIGKILL after
#   10 s) and it is restarted like a crashed one;
# - each restart is one line on stdout: "[supervise] api exited (code 1) after 12 s; restart #2 in 2 s";
# - SIGTERM / SIGINT stop the process group and then the supervisor.
set -uo pipefail

name="${1:?usage: supervise.sh <name> <live-url|-> -- <command...>}"
live="${2:?usage: supervise.sh <name> <live-url|-> -- <command...>}"
shift 2
[[ "${1:-}" == -- ]] && shift
(($#)) || { echo "supervise.sh: no command" >&2; exit 2; }

: "${SUPERVISE_BACKOFF_INITIAL_MS:=1000}"
: "${SUPERVISE_BACKOFF_MAX_MS:=30000}"
: "${SUPERVISE_STABLE_MS:=60000}"
: "${SUPERVISE_LIVE_INTERVAL_MS:=5000}"
: "${SUPERVISE_LIVE_FAILURES:=3}"

say() { printf '[supervise] %s %s\n' "$name" "$*"; }
now_ms() { local t="${EPOCHREALTIME/,/.}"; printf '%s\n' "$(( ${t%.*} * 1000 + 10#${t#*.} / 1000 ))"; }
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
# Sleeps in the background so that a signal's trap runs at once.
nap() { sleep "$(seconds "$1")" & wait $! 2>/dev/null; }

# Alive and not a zombie (the child stays a zombie until we wait for it).
alive() {
  local st
  st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  st="${st##*) }"
  [[ -n "$st" && "${st:0:1}" != Z ]]
}

child=0
# stop_child: SIGTERM to the child's process group, SIGKILL after 10 s.
stop_child() {
  ((child)) || return 0
  kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
  local until=$(($(now_ms) + 10000))
  while alive "$child" && (($(now_ms) < until)); do nap 100; done
  alive "$child" && kill -KILL -- "-$child" 2>/dev/null
  wait "$child" 2>/dev/null
  child=0
}
on_signal() {
  trap - TERM INT HUP
  stop_child
  # A command started just before the signal, whose pid was not in $child yet, is still our job.
  local job
  for job in $(jobs -p); do
    kill -TERM -- "-$job" 2>/dev/null || kill -TERM "$job" 2>/dev/null || true
  done
  wait 2>/dev/null
  exit 0
}
trap on_signal TERM INT HUP

delay=$SUPERVISE_BACKOFF_INITIAL_MS
restarts=0
while :; do
  started=$(now_ms)
  # Not a process-group leader (job control is off), so setsid makes the command one in place: $! is its group.
  setsid "$@" &
  child=$!
  seen_live=0 fails=0 killed_for=""
  next_check=$((started + SUPERVISE_LIVE_INTERVAL_MS))
  while alive "$child"; do
    nap 200
    if [[ "$live" != - ]] && (($(now_ms) >= next_check)); then
      next_check=$(($(now_ms) + SUPERVISE_LIVE_INTERVAL_MS))
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$live" 2>/dev/null)" || true
      if [[ "$code" == 200 ]]; then
        seen_live=1 fails=0
      elif ((seen_live)); then
        fails=$((fails + 1))
        if ((fails >= SUPERVISE_LIVE_FAILURES)); then
          killed_for="liveness failed $fails times in a row ($live answered ${code:-nothing})"
          say "$killed_for; stopping it"
          stop_child
          break
        fi
      fi
    fi
  done
  if ((child)); then
    wait "$child" 2>/dev/null
    status=$?
    child=0
  else
    status=$?
  fi
  ran=$(($(now_ms) - started))
  ((ran >= SUPERVISE_STABLE_MS)) && delay=$SUPERVISE_BACKOFF_INITIAL_MS
  restarts=$((restarts + 1))
  if [[ -n "$killed_for" ]]; then how="stopped ($killed_for)"
  elif ((status > 128)); then how="exited (signal $(kill -l $((status - 128)) 2>/dev/null || echo $((status - 128))))"
  else how="exited (code $status)"; fi
  say "$how after $(seconds "$ran") s; restart #$restarts in $(seconds "$delay") s"
  nap "$delay"
  delay=$((delay * 2))
  ((delay > SUPERVISE_BACKOFF_MAX_MS)) && delay=$SUPERVISE_BACKOFF_MAX_MS
done

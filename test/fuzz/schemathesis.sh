#!/usr/bin/env bash
# `npm run fuzz`: schema-driven fuzzing of the running API with Schemathesis, from the API's own
# OpenAPI document. On demand (not part of npm test); bounded in time; loopback only.
#
#   1. a Python venv in .data/venv with schemathesis==$ST_VERSION (installed once)
#   2. the stack (scripts/stack.sh up) and migrations
#   3. the DB processor, the worker and the API as separate processes (own process groups, a task
#      queue of their own, rate limits off, logs in .data/fuzz/logs), stopped on exit
#   4. two schemathesis runs against http://127.0.0.1:$PORT/api/v1/openapi.json, both with
#      --checks not_a_server_error, positive and negative data (--mode all), a 10 s timeout on every
#      request (a hang fails the run), a fixed seed:
#        anonymous      every operation; examples, coverage, fuzzing and stateful phases
#        authenticated  GET /me and /sessions, then DELETE /sessions/{id}, with the cookie of a
#        (-delete)      real account (made by signup and verify first); examples, coverage, fuzzing
#      together at least $FUZZ_MIN_REQUESTS requests (counted in their HAR files)
#   5. a normal signup afterwards: 202, and its code arrives in MailDev
#
# The first run by hand, against an API already running on port 3001:
#   .data/venv/bin/schemathesis run http://127.0.0.1:3001/api/v1/openapi.json \
#     --checks not_a_server_error --mode all --phases examples,coverage,fuzzing,stateful \
#     --max-examples 150 --seed 20261125 --request-timeout 10 --workers 2 --generation-database none
# Reports: .data/fuzz/report/{anonymous,authenticated,authenticated-delete}.{har,json,junit.xml}; log .data/fuzz/schemathesis.log
#
# Settings (environment): FUZZ_MAX_EXAMPLES (150 per operation), FUZZ_SEED, FUZZ_MIN_REQUESTS
# (1000), FUZZ_TIME_BUDGET_S (900: the schemathesis run is killed after it), FUZZ_API_PORT (a free
# port), FUZZ_WORKERS (2).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/env.sh"
cd "$ROOT"

ST_VERSION=4.32.5
VENV="$ROOT/.data/venv"
OUT="$ROOT/.data/fuzz"
LOGS="$OUT/logs"
: "${FUZZ_MAX_EXAMPLES:=150}"
: "${FUZZ_SEED:=20261125}"
: "${FUZZ_MIN_REQUESTS:=1000}"
: "${FUZZ_TIME_BUDGET_S:=900}"
: "${FUZZ_WORKERS:=2}"

say() { printf '[fuzz    ] %s\n' "$*"; }
die() { printf '[fuzz    ] ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------------------------ schemathesis
if [[ ! -x "$VENV/bin/schemathesis" ]] || [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != *"$ST_VERSION"* ]]; then
  command -v python3 >/dev/null || die "python3 not found (apt-get install python3 python3-venv)"
  say "installing schemathesis $ST_VERSION into ${VENV#"$ROOT"/} (first time only)"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION" || die "pip install schemathesis==$ST_VERSION failed"
fi

# ------------------------------------------------------------------------------- stack and services
bash scripts/stack.sh up
timeout 120 npx tsx scripts/migrate.ts

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT="${FUZZ_API_PORT:-$(free_port)}"
QUEUE="fuzz-$(node -e 'console.log(require("crypto").randomBytes(4).toString("hex"))')"
mkdir -p "$LOGS"
rm -rf "$OUT/report"

PGIDS=()
cleanup() {
  local pgid
  for pgid in "${PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  sleep 1
  for pgid in "${PGIDS[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run <name> <script> [VAR=value...]: own process group (setsid), log in .data/fuzz/logs/<name>.log
run() {
  local name="$1" script="$2"
  shift 2
  setsid env LOG_LEVEL=warn RATE_LIMITS_ENABLED=false BCRYPT_COST=10 TEMPORAL_TASK_QUEUE="$QUEUE" "$@" \
    node --import tsx "$script" </dev/null >"$LOGS/$name.log" 2>&1 &
  PGIDS+=("$!")
}
run db-processor db-processor/main.ts DB_PROCESSOR_HEALTH_PORT="$(free_port)"
run worker workflows/worker.ts WORKER_HEALTH_PORT="$(free_port)"
run api api/main.ts API_PORT="$PORT"

BASE="http://127.0.0.1:$PORT"
deadline=$((SECONDS + 180))
until curl -fs -o /dev/null --max-time 3 "$BASE/health/ready"; do
  ((SECONDS < deadline)) || die "the API is not ready after 180 s (logs in ${LOGS#"$ROOT"/})"
  sleep 1
done
say "API ready at $BASE (task queue $QUEUE, logs in ${LOGS#"$ROOT"/})"

# ------------------------------------------------------------------------------------- the fuzzing
# run_st <name> [extra args...]: one schemathesis run, bounded by what is left of the time budget;
# its HAR file (every request sent) lands in .data/fuzz/report/<name>.har.
ST_STATUS=0
run_st() {
  local name="$1" left
  shift
  left=$((FUZZ_TIME_BUDGET_S - (SECONDS - FUZZ_STARTED)))
  ((left > 30)) || die "time budget of ${FUZZ_TIME_BUDGET_S} s spent before the $name run"
  local cmd=("$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json"
    --checks not_a_server_error --mode all
    --max-examples "$FUZZ_MAX_EXAMPLES" --seed "$FUZZ_SEED" --request-timeout 10 --workers "$FUZZ_WORKERS"
    --generation-database none --report json,junit,har --report-dir "$OUT/report"
    --report-har-path "$OUT/report/$name.har" --report-json-path "$OUT/report/$name.json"
    --report-junit-path "$OUT/report/$name.junit.xml" --no-color "$@")
  say "$name: ${cmd[*]}" | sed "s#$ROOT/##g"
  set +e
  # From .data/fuzz: schemathesis keeps a cache (.schemathesis/) in its working directory.
  (cd "$OUT" && timeout --kill-after=10 "$left" "${cmd[@]}") 2>&1 | tee -a "$OUT/schemathesis.log"
  local status=${PIPESTATUS[0]}
  set -e
  ((status != 124 && status != 137)) || die "schemathesis ($name) did not finish within the ${FUZZ_TIME_BUDGET_S} s budget"
  say "$name: schemathesis exit status $status"
  ((status == 0)) || ST_STATUS=$status
}
FUZZ_STARTED=$SECONDS
: >"$OUT/schemathesis.log"

# 1. Every operation, without a session (what an anonymous client can send).
run_st anonymous --phases examples,coverage,fuzzing,stateful

# 2. The operations behind a session, with a real one (account made through signup and verify).
AUTH_EMAIL="fuzz-session.$(date +%s).$RANDOM@fuzz.example.com"
curl -fs -o /dev/null --max-time 15 -H 'content-type: application/json' --data "{\"email\":\"$AUTH_EMAIL\"}" "$BASE/api/v1/auth/signup" ||
  die "signup for the session account failed"
OTP=""
deadline=$((SECONDS + 60))
until [[ -n "$OTP" ]]; do
  ((SECONDS < deadline)) || die "no code mail for $AUTH_EMAIL within 60 s"
  sleep 1
  OTP="$(curl -fs --max-time 5 "$MAILDEV_URL/api/email?to.address=$AUTH_EMAIL" | grep -oE 'code is [0-9]{6}' | head -n 1 | grep -oE '[0-9]{6}' || true)"
done
COOKIE="$(curl -fs -D - -o /dev/null --max-time 20 -H 'content-type: application/json' \
  --data "{\"email\":\"$AUTH_EMAIL\",\"otp\":\"$OTP\",\"password\":\"correct horse battery staple\",\"name\":\"Fuzz Session\"}" \
  "$BASE/api/v1/auth/verify" | grep -i '^set-cookie: auth_token=' | head -n 1 | sed -E 's/^[Ss]et-[Cc]ookie: (auth_token=[^;]*).*/\1/' | tr -d '\r')"
[[ "$COOKIE" == auth_token=?* ]] || die "verify did not set a session cookie"
# Our cookie on every request (no generated security values). The reads first; then DELETE
# /sessions/{id} alone, so no listing hands it the session's own id to revoke (which would end the
# run's authentication): random ids, 404 or 400.
AUTH=(-H "Cookie: $COOKIE" --generation-with-security-parameters false --phases examples,coverage,fuzzing)
run_st authenticated "${AUTH[@]}" --include-path-regex '/(me|sessions)$' --include-method GET
run_st authenticated-delete "${AUTH[@]}" --include-path-regex '/sessions/' --include-method DELETE

# Requests actually sent: the entries of the HAR files.
REQUESTS="$(node -e '
  let n = 0;
  for (const f of process.argv.slice(1)) n += JSON.parse(require("fs").readFileSync(f, "utf8")).log.entries.length;
  console.log(n);
' "$OUT/report/anonymous.har" "$OUT/report/authenticated.har" "$OUT/report/authenticated-delete.har")"
say "requests sent (HAR entries): $REQUESTS"

# ------------------------------------------------------------------- a normal signup still works
EMAIL="after-fuzz.$(date +%s).$RANDOM@fuzz.example.com"
status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 -H 'content-type: application/json' \
  --data "{\"email\":\"$EMAIL\"}" "$BASE/api/v1/auth/signup")"
[[ "$status" == 202 ]] || die "a normal signup after fuzzing answered $status (expected 202)"
deadline=$((SECONDS + 60))
until curl -fs --max-time 5 "$MAILDEV_URL/api/email?to.address=$EMAIL" | grep -Eq '\b[0-9]{6}\b'; do
  ((SECONDS < deadline)) || die "no code mail for $EMAIL within 60 s after fuzzing"
  sleep 1
done
say "after fuzzing: signup answered 202 and the code arrived for $EMAIL"

((ST_STATUS == 0)) || die "schemathesis found failures (exit $ST_STATUS): see above, ${OUT#"$ROOT"/}/schemathesis.log and ${OUT#"$ROOT"/}/report/"
[[ "$REQUESTS" =~ ^[0-9]+$ ]] && ((REQUESTS >= FUZZ_MIN_REQUESTS)) ||
  die "only $REQUESTS requests recorded (at least $FUZZ_MIN_REQUESTS wanted): raise FUZZ_MAX_EXAMPLES"
say "OK: $REQUESTS generated requests, no server error, no hang; a normal signup still works"

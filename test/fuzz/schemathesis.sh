#!/usr/bin/env bash
# `npm run fuzz` (the full campaign) and `bash test/fuzz/schemathesis.sh --quick` (the short run of
# `npm test`): Schemathesis against a fresh API, from the API's own OpenAPI document, with every
# check, as an outside reviewer would run it. Bounded in time; loopback only.
#
#   1. a Python venv in .data/venv with Schemathesis from test/fuzz/requirements.txt (every wheel
#      hash-pinned; installed once, again when the file changes)
#   2. the stack (scripts/stack.sh up) and migrations
#   3. the DB processor, the worker and the API as separate processes (own process groups, a task
#      queue and rate-limit key prefix of their own, every rate limit and attempt cap set high so
#      the logic behind them is reached, logs in .data/fuzz/logs), stopped on exit
#   4. a real account for the authenticated operations: signup, its code from MailDev, verify;
#      Schemathesis signs in with it (test/fuzz/schemathesis.toml) and again after a 401
#   5. one run: --checks all --mode all, phases examples, coverage, fuzzing and stateful (OpenAPI
#      links), a fixed seed, a 10 s timeout on every request; test/fuzz/hooks.py makes generated
#      requests act like a client (per-run addresses, codes read from MailDev). Every warning
#      fails the run (authentication failed, rate limited, validation mismatch, ...)
#   6. a normal signup afterwards: 202, and its code arrives in MailDev
#
# Figures on the last line: requests sent (HAR entries), operations tested, links covered, failures.
# Reports: .data/fuzz/report/schemathesis.{har,junit.xml}; log .data/fuzz/schemathesis.log.
#
# Settings (environment): FUZZ_MAX_EXAMPLES (150; --quick 10), FUZZ_SEED (20261125),
# FUZZ_MIN_REQUESTS (1000; --quick 100), FUZZ_TIME_BUDGET_S (900; --quick 300), FUZZ_WORKERS (2),
# FUZZ_API_PORT (a free port).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/env.sh"
cd "$ROOT"

QUICK=0
[[ "${1:-}" == --quick ]] && QUICK=1
VENV="$ROOT/.data/venv"
REQUIREMENTS="$ROOT/test/fuzz/requirements.txt"
OUT="$ROOT/.data/fuzz"
LOGS="$OUT/logs"
REPORT="$OUT/report"
if ((QUICK)); then
  : "${FUZZ_MAX_EXAMPLES:=10}" "${FUZZ_MIN_REQUESTS:=100}" "${FUZZ_TIME_BUDGET_S:=300}"
else
  : "${FUZZ_MAX_EXAMPLES:=150}" "${FUZZ_MIN_REQUESTS:=1000}" "${FUZZ_TIME_BUDGET_S:=900}"
fi
: "${FUZZ_SEED:=20261125}"
: "${FUZZ_WORKERS:=2}"

say() { printf '[fuzz    ] %s\n' "$*"; }
die() { printf '[fuzz    ] ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------------------------ schemathesis
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/schemathesis" || "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  command -v python3 >/dev/null || die "python3 not found (apt-get install python3 python3-venv)"
  say "installing Schemathesis from ${REQUIREMENTS#"$ROOT"/} into ${VENV#"$ROOT"/} (hash-pinned wheels)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: \
    -r "$REQUIREMENTS" || die "pip install -r ${REQUIREMENTS#"$ROOT"/} failed"
  echo "$want" >"$VENV/.requirements.sha256"
fi

# ------------------------------------------------------------------------------- stack and services
bash scripts/stack.sh up
timeout 120 npx tsx scripts/migrate.ts

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT="${FUZZ_API_PORT:-$(free_port)}"
RUN_ID="$(node -e 'console.log(require("crypto").randomBytes(3).toString("hex"))')"
mkdir -p "$LOGS"
rm -rf "$REPORT"

PGIDS=()
cleanup() {
  local pgid
  for pgid in "${PGIDS[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  sleep 1
  for pgid in "${PGIDS[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every limit the API enforces per email, source, device or code, raised so that no answer of the
# run is a 429 and the code behind each limit still runs (Redis keys under a prefix of this run).
HIGH=1000000
LIMITS=(RATE_LIMITS_ENABLED=true RATE_LIMIT_KEY_PREFIX="fuzz-$RUN_ID" MAX_CODE_ATTEMPTS=$HIGH RESEND_MAX_PER_HOUR=$HIGH
  RATE_SIGNIN_FAIL_PER_EMAIL_IP=$HIGH RATE_SIGNIN_FAIL_PER_EMAIL_DAY=$HIGH RATE_SIGNIN_FAIL_PER_IP_DAY=$HIGH
  RATE_SIGNIN_FAIL_PER_DEVICE=$HIGH RATE_VERIFY_PER_EMAIL_DAY=$HIGH RATE_SIGNUP_PER_IP_HOUR=$HIGH
  RATE_SIGNUP_PER_EMAIL_HOUR=$HIGH RATE_VERIFY_PER_IP_15MIN=$HIGH)

# run <name> <script> [VAR=value...]: own process group (setsid), log in .data/fuzz/logs/<name>.log
run() {
  local name="$1" script="$2"
  shift 2
  setsid env LOG_LEVEL=warn BCRYPT_COST=4 TEMPORAL_TASK_QUEUE="fuzz-$RUN_ID" "${LIMITS[@]}" "$@" \
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
say "API ready at $BASE (run $RUN_ID, logs in ${LOGS#"$ROOT"/})"

# code_for <email>: the code MailDev received for the address, within 60 s.
code_for() {
  local code="" deadline=$((SECONDS + 60))
  until [[ -n "$code" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
    code="$(curl -fs --max-time 5 "$MAILDEV_URL/api/email?to.address=$1" | grep -oE 'code is [0-9]{6}' | tail -n 1 | grep -oE '[0-9]{6}' || true)"
  done
  echo "$code"
}
post() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'content-type: application/json' --data "$2" "$BASE/api/v1/auth/$1"; }

# ------------------------------------------------------------------ the account of the session
export FUZZ_EMAIL="fuzz-session.$RUN_ID@fuzz.example.com"
export FUZZ_PASSWORD="fuzz session $RUN_ID passphrase"
[[ "$(post signup "{\"email\":\"$FUZZ_EMAIL\"}")" == 202 ]] || die "signup for the session account failed"
OTP="$(code_for "$FUZZ_EMAIL")" || die "no code mail for $FUZZ_EMAIL within 60 s"
[[ "$(post verify "{\"email\":\"$FUZZ_EMAIL\",\"otp\":\"$OTP\",\"password\":\"$FUZZ_PASSWORD\",\"name\":\"Fuzz Session\"}")" == 201 ]] ||
  die "verify of the session account failed"

# ------------------------------------------------------------------------------------- the fuzzing
# The account the admin calls act on (lock, unlock, revoke sessions, read), and an operator's token.
SUBJECT_EMAIL="fuzz-admin-subject.$RUN_ID@fuzz.example.com"
[[ "$(post signup "{\"email\":\"$SUBJECT_EMAIL\"}")" == 202 ]] || die "signup for the admin subject account failed"
OTP="$(code_for "$SUBJECT_EMAIL")" || die "no code mail for $SUBJECT_EMAIL within 60 s"
FUZZ_ADMIN_SUBJECT_ID="$(curl -s --max-time 20 -H 'content-type: application/json' \
  --data "{\"email\":\"$SUBJECT_EMAIL\",\"otp\":\"$OTP\",\"password\":\"$FUZZ_PASSWORD\",\"name\":\"Fuzz Subject\"}" "$BASE/api/v1/auth/verify" |
  node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).user.id))')" || die "verify of the admin subject account failed"
FUZZ_ADMIN_TOKEN="$(ADMIN_TOKEN_TTL_S=3600 timeout 120 npx tsx scripts/admin-cli.ts token --name fuzz)" || die "npm run admin -- token failed"
export FUZZ_ADMIN_SUBJECT_ID FUZZ_ADMIN_TOKEN

export FUZZ_API_URL="$BASE" FUZZ_MAILDEV_URL="$MAILDEV_URL" FUZZ_RUN_TAG="r$RUN_ID"
export SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$ROOT/test/fuzz${PYTHONPATH:+:$PYTHONPATH}"
cmd=("$VENV/bin/schemathesis" --config-file "$ROOT/test/fuzz/schemathesis.toml" run "$BASE/api/v1/openapi.json"
  --checks all --mode all --phases examples,coverage,fuzzing,stateful
  --max-examples "$FUZZ_MAX_EXAMPLES" --seed "$FUZZ_SEED" --request-timeout 10 --workers "$FUZZ_WORKERS"
  --generation-database none --report har,junit --report-dir "$REPORT"
  --report-har-path "$REPORT/schemathesis.har" --report-junit-path "$REPORT/schemathesis.junit.xml" --no-color)
say "${cmd[*]}" | sed "s#$ROOT/##g"
set +e
# From .data/fuzz: Schemathesis keeps a cache (.schemathesis/) in its working directory.
(cd "$OUT" && timeout --kill-after=10 "$FUZZ_TIME_BUDGET_S" "${cmd[@]}") 2>&1 | tee "$OUT/schemathesis.log"
ST_STATUS=${PIPESTATUS[0]}
set -e
((ST_STATUS != 124 && ST_STATUS != 137)) || die "Schemathesis did not finish within the ${FUZZ_TIME_BUDGET_S} s budget"

REQUESTS="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).log.entries.length)' "$REPORT/schemathesis.har" 2>/dev/null || echo 0)"
OPERATIONS="$(grep -oE 'Tested: [0-9]+' "$OUT/schemathesis.log" | grep -oE '[0-9]+' | tail -n 1 || true)/$(grep -oE 'Selected: [0-9]+/[0-9]+' "$OUT/schemathesis.log" | grep -oE '[0-9]+$' | tail -n 1 || true)"
LINKS="$(grep -oE 'API Links: +[0-9]+ covered / [0-9]+' "$OUT/schemathesis.log" | grep -oE '[0-9]+ covered / [0-9]+' | tail -n 1 | sed 's# covered / #/#' || true)"
FAILURES="$(grep -oE '[0-9]+ failures?' "$OUT/schemathesis.log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)"

# ------------------------------------------------------------------- a normal signup still works
EMAIL="after-fuzz.$RUN_ID@fuzz.example.com"
status="$(post signup "{\"email\":\"$EMAIL\"}")"
[[ "$status" == 202 ]] || die "a normal signup after fuzzing answered $status (expected 202)"
code_for "$EMAIL" >/dev/null || die "no code mail for $EMAIL within 60 s after fuzzing"

say "requests sent: $REQUESTS; operations tested: $OPERATIONS; links covered: ${LINKS:-?}; failures: $FAILURES; seed $FUZZ_SEED, max examples $FUZZ_MAX_EXAMPLES"
((ST_STATUS == 0)) || die "Schemathesis reported failures or warnings (exit $ST_STATUS): see above and ${OUT#"$ROOT"/}/schemathesis.log"
! grep -qiE 'authentication failed|rate limited' "$OUT/schemathesis.log" || die "Schemathesis warned about authentication or rate limits"
[[ "$REQUESTS" =~ ^[0-9]+$ ]] && ((REQUESTS >= FUZZ_MIN_REQUESTS)) ||
  die "only $REQUESTS requests recorded (at least $FUZZ_MIN_REQUESTS wanted): raise FUZZ_MAX_EXAMPLES"
say "OK: no failure, no warning; a normal signup still works afterwards"

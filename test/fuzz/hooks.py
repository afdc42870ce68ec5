"""Schemathesis hooks of `npm run fuzz` (loaded through SCHEMATHESIS_HOOKS by test/fuzz/schemathesis.sh).

They make generated requests act as a real client would, without listing operations:

1. `format: password` strings are at most 72 bytes in UTF-8 (the document's `x-maxUtf8Bytes`):
   JSON Schema counts code points only, so without this the generator would send passwords the
   contract itself excludes.
2. Every positive request body with an `email` gets this run's tag in the local part
   (`ab@x.io` -> `r1a2b3c.ab@x.io`), so a fixed seed makes fresh accounts on every run instead of
   meeting the previous run's accounts and signups. Still an address the schema accepts.
3. A positive request with an `otp` carries the newest code MailDev holds for its address; a
   verify whose address has no code yet signs that address up first and waits for the mail. So
   verify creates real accounts (201) and the links verify -> signin -> me -> sessions -> delete
   run on them, instead of every chain stopping at a wrong code.
"""

import gc
import itertools
import json
import os
import re

# CPython 3.11's ast.parse can fail with "SystemError: AST constructor recursion depth mismatch"
# when a collection runs Python code in the middle of it (fixed in 3.12). Hypothesis parses the
# source of every filter lambda it describes, so with this document the coverage phase crashed on
# the first path parameter it met (a Runtime Error, not a finding). A run lasts about a minute:
# no automatic collection in the fuzzer's process.
gc.disable()
import time
import urllib.parse
import urllib.request

import schemathesis
from hypothesis import strategies as st

MAX_PASSWORD_BYTES = 72
MAX_EMAIL_LENGTH = 254
API_URL = os.environ.get("FUZZ_API_URL", "")
MAILDEV_URL = os.environ.get("FUZZ_MAILDEV_URL", "")
RUN_TAG = os.environ.get("FUZZ_RUN_TAG", "")
MAIL_WAIT_S = float(os.environ.get("FUZZ_MAIL_WAIT_S", "5"))
CODE = re.compile(r"code is ([0-9]{6})")
SIX_DIGITS = re.compile(r"[0-9]{6}")

schemathesis.openapi.format(
    "password",
    st.text(max_size=MAX_PASSWORD_BYTES).filter(lambda s: len(s.encode("utf-8", "surrogatepass")) <= MAX_PASSWORD_BYTES),
)


def _tagged(email: str, tag: str) -> str:
    """The address with `tag` before its local part (blanks around it kept while there is room)."""
    if not tag or "@" not in email:
        return email
    blanks = email[: len(email) - len(email.lstrip(" \t"))]
    body = email[len(blanks):]
    if RUN_TAG and body.startswith(RUN_TAG):
        body = body.split(".", 1)[1]
    candidate = f"{blanks}{tag}.{body}"
    excess = len(candidate) - MAX_EMAIL_LENGTH
    if excess > 0:
        trimmed = candidate.rstrip(" \t")
        candidate = trimmed + candidate[len(trimmed):][excess:]
        excess = len(candidate) - MAX_EMAIL_LENGTH
        candidate = candidate[excess:] if 0 < excess <= len(blanks) else candidate
    return candidate if len(candidate) <= MAX_EMAIL_LENGTH else email


# Addresses whose signup this run completed: a later verify gets an address of its own.
verified: set[str] = set()
fresh = itertools.count(1)


def _normalised(email: str) -> str:
    return email.strip(" \t").lower()


def _newest_code(address: str) -> str | None:
    url = f"{MAILDEV_URL}/api/email?{urllib.parse.urlencode({'to.address': address})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            mails = json.load(response)
    except (OSError, ValueError):
        return None
    for mail in reversed(mails):
        found = CODE.search(mail.get("text") or "")
        if found:
            return found.group(1)
    return None


def _wait_for_code(address: str) -> str | None:
    deadline = time.monotonic() + MAIL_WAIT_S
    while True:
        code = _newest_code(address)
        if code or time.monotonic() > deadline:
            return code
        time.sleep(0.1)


def _sign_up(address: str) -> None:
    request = urllib.request.Request(
        f"{API_URL}/api/v1/auth/signup",
        data=json.dumps({"email": address}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    email = case.body.get("email")
    if not isinstance(email, str):
        return
    case.body["email"] = email = _tagged(email, RUN_TAG)
    if not MAILDEV_URL or not isinstance(case.body.get("otp"), str) or not SIX_DIGITS.fullmatch(case.body["otp"]):
        return
    if _normalised(email) in verified and case.path.endswith("/verify"):
        case.body["email"] = email = _tagged(email, f"{RUN_TAG}n{next(fresh)}")
    address = _normalised(email)
    code = _newest_code(address)
    if code is None and case.path.endswith("/verify"):
        _sign_up(address)
        code = _wait_for_code(address)
    if code:
        case.body["otp"] = code


@schemathesis.hook
def after_call(context, case, response):
    if case.path.endswith("/verify") and response.status_code == 201 and isinstance(case.body, dict):
        verified.add(_normalised(str(case.body.get("email"))))


# The codes that say "this request does not match the document". A well-formed request may still
# answer 400 with any other code of its operation (a rule no JSON Schema can state: INVALID_CODE,
# WEAK_PASSWORD, INVALID_CURRENT_PASSWORD, INVALID_TOKEN; the response-schema checks hold it to the
# codes the document lists for that status). schemathesis.toml lets the built-in
# positive_data_acceptance accept 400; this check keeps a schema mismatch on valid data a failure.
SCHEMA_MISMATCH_400 = {"VALIDATION_FAILED", "MALFORMED_JSON"}


@schemathesis.check
def positive_data_refused_only_by_rules(ctx, response, case):
    """Valid data never answers 400 VALIDATION_FAILED or MALFORMED_JSON."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    try:
        code = json.loads(response.text).get("code")
    except (ValueError, AttributeError):
        code = None
    if code is None or code in SCHEMA_MISMATCH_400:
        raise AssertionError(f"Valid data answered 400 {code}: the API refused a request the document allows")
    return None

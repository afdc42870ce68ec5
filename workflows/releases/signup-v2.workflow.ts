import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { Activities } from '../../activities';
import { Failure } from '../../common/failures';
import { SignupStatusKey, type SignupStatus } from '../../temporal-config';
import {
  requestCodeSignal,
  stateQuery,
  verifyUpdate,
  type SignupInput,
  type SignupOutcome,
  type VerifyInput,
  type VerifyResult,
} from '../signup.contract';

/**
 * Release v2 of the signup workflow (main at 56a16e6), frozen. Signups started before release v3
 * replay and finish on this code; `signupWorkflow` routes them here when their history has no
 * v3 patch marker. Only changes that emit no different commands are allowed here (validators,
 * activity arguments), and only to stay compatible with the current API and activities. Remove
 * with the v3 patch's deprecation (README, "Releasing a workflow change").
 */

type PublicUser = { id: string; createdAt: string };

const HOUR_MS = 3_600_000;

// Short calls run as local activities: no activity task round trip through the server, one marker
// event instead of three, which roughly halves what each signup costs the Temporal server.
// Redis answers in milliseconds: retry fast and briefly.
const redisActs = proxyLocalActivities<Pick<Activities, 'issueCode' | 'consumeCode' | 'discardCode'>>({
  startToCloseTimeout: '5 seconds',
  retry: { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 20 },
});

// The DB processor sits behind Kafka and may be restarting: keep trying for a while.
const dbRetry: RetryPolicy = { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [Failure.emailTaken, Failure.invalidRequest] };
const dbCheck = proxyLocalActivities<Pick<Activities, 'isEmailRegistered'>>({
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: dbRetry,
});
// Creating the user stays a regular activity: while it waits on the DB processor it shows in the UI.
const dbActs = proxyActivities<Pick<Activities, 'createUser'>>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: dbRetry,
});

function failureType(err: unknown): string | undefined {
  let e: unknown = err;
  while (e) {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * One signup per normalised email (the workflow id is a keyed hash of it). Checks the email, mails
 * a code, then waits for a `verify` update, honouring resend requests, until the window closes.
 */
export async function signupWorkflowV2(input: SignupInput): Promise<SignupOutcome> {
  const { limits: L, emailSealed } = input;
  const signupId = workflowInfo().workflowId;
  const signupRef = `${signupId}/${workflowInfo().runId}`;

  // SMTP may be down for hours: retry with backoff within a budget; 5xx refusals are final.
  const emailActs = proxyActivities<Pick<Activities, 'sendCodeEmail' | 'sendExistingAccountNotice'>>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: L.emailBudgetMs,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: [Failure.smtpPermanent, Failure.codeGone] },
  });

  let status: SignupStatus = 'checking';
  const setStatus = (next: SignupStatus) => {
    status = next;
    upsertSearchAttributes([{ key: SignupStatusKey, value: next }]);
  };

  const deadline = Date.now() + L.windowMs;
  let attempts = 0;
  let seq = 0;
  let codeIssuedAt = 0;
  const issuedAt: number[] = [];
  let resendRequested = false;
  let lockedUntil = 0;
  let busy = false;
  let user: PublicUser | undefined;
  let acceptedDigest: string | undefined;
  let ended: SignupOutcome | undefined;

  setHandler(stateQuery, () => ({ status, attempts, codesIssued: seq }));
  setHandler(requestCodeSignal, () => {
    resendRequested = true;
  });
  setHandler(verifyUpdate, (v) => verify(v), {
    validator: (v: VerifyInput) => {
      if (!v || typeof v !== 'object') throw new Error('verify input must be an object');
      if (typeof v.codeDigest !== 'string' || !/^[0-9a-f]{64}$/.test(v.codeDigest)) throw new Error('codeDigest malformed');
      // v3 APIs send the name sealed; v2 APIs sent it in clear.
      if (typeof v.nameSealed !== 'string' || !v.nameSealed.startsWith('v')) throw new Error('nameSealed malformed');
      if (typeof v.passwordSealed !== 'string' || !/^v[12]\./.test(v.passwordSealed)) throw new Error('passwordSealed malformed');
    },
  });

  async function verify(v: VerifyInput): Promise<VerifyResult> {
    // One verification at a time: attempt counting and consumption must not interleave. The SDK
    // may unblock several waiting handlers in one activation, so each re-checks before it enters.
    while (busy) await condition(() => !busy);
    busy = true;
    try {
      // A code is single-use. The same code again is a client retrying after a timeout: tell it the
      // account exists (never a second session: a replayed code must not skip the password).
      if (user) {
        return acceptedDigest === v.codeDigest
          ? { ok: false, code: 'ALREADY_VERIFIED' }
          : { ok: false, code: 'INVALID_CODE', attemptsLeft: Math.max(0, L.maxAttempts - attempts) };
      }
      if (ended) return { ok: false, code: ended.status === 'locked' ? 'TOO_MANY_ATTEMPTS' : 'CODE_EXPIRED' };
      if (lockedUntil || attempts >= L.maxAttempts) return { ok: false, code: 'TOO_MANY_ATTEMPTS' };
      if (seq === 0 || Date.now() >= codeIssuedAt + L.codeTtlMs) return { ok: false, code: 'CODE_EXPIRED' };

      const result = await redisActs.consumeCode({ signupId, digest: v.codeDigest });
      if (result === 'missing') return { ok: false, code: 'CODE_EXPIRED' };
      if (result === 'mismatch') {
        attempts += 1;
        if (attempts < L.maxAttempts) return { ok: false, code: 'INVALID_CODE', attemptsLeft: L.maxAttempts - attempts };
        lockedUntil = Date.now() + L.lockoutMs;
        setStatus('locked');
        await redisActs.discardCode({ signupId });
        log.warn('signup locked after too many wrong codes', { attempts });
        return { ok: false, code: 'TOO_MANY_ATTEMPTS' };
      }

      acceptedDigest = v.codeDigest;
      setStatus('creating_user');
      try {
        user = await dbActs.createUser({ signupId, signupRef, emailSealed, nameSealed: v.nameSealed, passwordSealed: v.passwordSealed });
      } catch (err) {
        if (isCancellation(err)) throw err;
        const taken = failureType(err) === Failure.emailTaken;
        ended = { status: taken ? 'existing_account' : 'failed', reason: taken ? 'email_taken' : 'create_user_failed' };
        setStatus(ended.status);
        return { ok: false, code: taken ? 'EMAIL_TAKEN' : 'UNAVAILABLE' };
      }
      ended = { status: 'completed' };
      setStatus('completed');
      return { ok: true, user: { id: user.id, createdAt: user.createdAt } };
    } finally {
      busy = false;
    }
  }

  const canIssue = () => {
    const now = Date.now();
    return now - codeIssuedAt >= L.resendCooldownMs && issuedAt.filter((t) => now - t < HOUR_MS).length < L.resendMaxPerHour;
  };

  /** Issues a fresh code and mails it; a code that died before SMTP came back is replaced. */
  async function sendCode(): Promise<void> {
    resendRequested = false;
    setStatus('sending_code');
    for (;;) {
      seq += 1;
      codeIssuedAt = Date.now();
      issuedAt.push(codeIssuedAt);
      await redisActs.issueCode({ signupId, seq, ttlMs: L.codeTtlMs });
      try {
        await emailActs.sendCodeEmail({ signupId, emailSealed, seq, ttlMs: L.codeTtlMs });
        break;
      } catch (err) {
        if (failureType(err) !== Failure.codeGone || Date.now() >= deadline) throw err;
        log.info('code expired before delivery; issuing a new one');
      }
    }
    if (status === 'sending_code') setStatus('awaiting_code');
  }

  async function run(): Promise<SignupOutcome> {
    // 'checking' was set by the API when it started the workflow.
    if (await dbCheck.isEmailRegistered({ signupId, emailSealed })) {
      await emailActs.sendExistingAccountNotice({ signupId, emailSealed, dedupKey: workflowInfo().runId });
      setStatus('existing_account');
      return { status: 'existing_account' };
    }
    await sendCode();
    for (;;) {
      if (ended) return ended;
      if (lockedUntil) {
        // Stay reachable while locked, so every further attempt answers TOO_MANY_ATTEMPTS.
        await sleep(Math.max(0, lockedUntil - Date.now()));
        return { status: 'locked' };
      }
      const woke = await condition(() => resendRequested || ended !== undefined || lockedUntil > 0, Math.max(0, deadline - Date.now()));
      if (!woke) {
        await condition(() => !busy);
        if (ended) return ended;
        setStatus('expired');
        return { status: 'expired' };
      }
      if (resendRequested && !ended && !lockedUntil) {
        if (canIssue()) await sendCode();
        else resendRequested = false;
      }
    }
  }

  let outcome: SignupOutcome;
  try {
    outcome = await run();
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.error('signup failed', { failure: failureType(err) ?? 'unknown' });
    setStatus('failed');
    outcome = { status: 'failed', reason: failureType(err) === Failure.smtpPermanent ? 'email_refused' : 'email_undeliverable' };
  }
  await condition(allHandlersFinished);
  return outcome;
}

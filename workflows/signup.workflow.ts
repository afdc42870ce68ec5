import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  currentUpdateInfo,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { Failure } from '../common/failures';
import { PATCHES, SignupStatusKey, SignupStatusSinceKey, type SignupStatus } from '../temporal-config';
import { signupWorkflowV2 } from './releases/signup-v2.workflow';
import {
  requestCodeSignal,
  stateQuery,
  verifyUpdate,
  type CreatedUser,
  type SignupInput,
  type SignupOutcome,
  type VerifyInput,
  type VerifyResult,
} from './signup.contract';

const HOUR_MS = 3_600_000;
/** When an input of an older API carries no attempt budget for mail. */
const DEFAULT_EMAIL_MAX_ATTEMPTS = 60;

// A verify update waits on this: at most 2 attempts of 2 s (the worker's Redis commands time out
// after 1.5 s), so a Redis outage answers UNAVAILABLE inside the API's verify deadline (10 s). The
// attempt count is the bound: SDK 1.24 kept retrying a local activity past its schedule-to-close
// timeout (seen here: attempt 16 of a 4 s budget), so that timeout is not relied upon.
const verifyActs = proxyLocalActivities<Pick<Activities, 'consumeCode'>>({
  startToCloseTimeout: '2 seconds',
  retry: { initialInterval: '100 ms', backoffCoefficient: 2, maximumInterval: '1 second', maximumAttempts: 2 },
});
// Issuing a code is off the request path: a regular activity (after v4's one local attempt, which
// holds the workflow task at most one Redis command timeout), so a Redis outage shows as a pending
// activity with its last failure, its retries never hold a workflow task (and with it every
// verify update), and its budget is enforced by the server.
const issueActs = proxyActivities<Pick<Activities, 'issueCode'>>({
  startToCloseTimeout: '5 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});
// A regular activity, so a signup waiting on the database shows as pending with its last failure.
// One attempt lasts at most one Kafka request deadline (5 s); the DB processor may be restarting.
const dbCheck = proxyActivities<Pick<Activities, 'isEmailRegistered'>>({
  startToCloseTimeout: '5 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [Failure.invalidRequest] },
});
const dbActs = proxyActivities<Pick<Activities, 'createUser'>>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [Failure.emailTaken, Failure.invalidRequest] },
});

// Release v4: those three are tried once as a local activity first. The attempt needs no activity
// task through the server (its result is a marker in the workflow task that ran it), which halves
// the workflow tasks of a signup and takes one round trip off a verify. Only when it fails does the
// regular activity above run, with its retries and its budget, so an outage still shows in Temporal
// UI as a pending activity with its last failure. One attempt, bounded above one Kafka request (5 s)
// so the request's own error ends it; the workflow task it holds is heartbeated by the SDK.
const firstTry = proxyLocalActivities<Pick<Activities, 'isEmailRegistered' | 'issueCode' | 'createUser'>>({
  startToCloseTimeout: '6 seconds',
  retry: { maximumAttempts: 1 },
});

/**
 * The local attempt, then (release v4) the regular activity when it failed. A failure the regular
 * activity would not retry either (non-retryable, or one of `final`) is the answer as it is.
 */
async function localThenRegular<R>(localFirst: boolean, local: () => Promise<R>, regular: () => Promise<R>, final: readonly string[] = []): Promise<R> {
  if (!localFirst) return regular();
  try {
    return await local();
  } catch (err) {
    if (isCancellation(err)) throw err;
    const failure = applicationFailure(err);
    if (failure && (failure.nonRetryable || final.includes(failure.type ?? ''))) throw err;
    return regular();
  }
}

/** Mail activities bounded by what is left of the signup's one mail budget. */
function mailActs(remainingMs: number, remainingAttempts: number) {
  return proxyActivities<Pick<Activities, 'sendCodeEmail' | 'sendExistingAccountNotice'>>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: Math.max(1000, remainingMs),
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: Math.max(1, remainingAttempts),
      nonRetryableErrorTypes: [Failure.smtpPermanent, Failure.codeGone],
    },
  });
}

/** The ApplicationFailure in an error's cause chain (activity failures wrap the activity's own). */
function applicationFailure(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if (e instanceof ApplicationFailure) return e;
  return undefined;
}

const failureType = (err: unknown): string | undefined => applicationFailure(err)?.type ?? undefined;

/** SMTP attempts a failed mail activity made (reported by the activity; 1 when unknown). */
function attemptsOf(err: unknown): number {
  const n = Number(applicationFailure(err)?.details?.[0]);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/**
 * One signup per normalised email (the workflow id is a keyed hash of it). Signups started by an
 * earlier release run that release's frozen code; see README, "Releasing a workflow change".
 */
export async function signupWorkflow(input: SignupInput): Promise<SignupOutcome> {
  if (!patched(PATCHES.signupV3)) return signupWorkflowV2(input);
  return signupV3(input);
}

/**
 * Releases v3 and v4. Checks the email, issues a code and mails it (or, for a registered email, mails
 * a notice and keeps an unmailed code, so every answer matches a new email's), then answers `verify`
 * updates and resend requests until the window closes. v4 differs only in `localFirst`: read once,
 * first, so a signup keeps the release it started with (a v3 history replays with it false).
 */
async function signupV3(input: SignupInput): Promise<SignupOutcome> {
  const localFirst = patched(PATCHES.signupV4);
  const { limits: L, emailSealed } = input;
  const signupId = workflowInfo().workflowId;
  const signupRef = `${signupId}/${workflowInfo().runId}`;
  const emailMaxAttempts = L.emailMaxAttempts ?? DEFAULT_EMAIL_MAX_ATTEMPTS;

  let status: SignupStatus = 'checking';
  const setStatus = (next: SignupStatus) => {
    status = next;
    upsertSearchAttributes([
      { key: SignupStatusKey, value: next },
      { key: SignupStatusSinceKey, value: new Date(Date.now()) },
    ]);
  };

  const deadline = Date.now() + L.windowMs;
  let registered = false;
  let seq = 0;
  let codeIssuedAt = 0;
  const issuedAt: number[] = [];
  let resendRequested = false;
  let busy = false;
  let user: CreatedUser | undefined;
  let acceptedDigest: string | undefined;
  let ended: SignupOutcome | undefined;
  /** Wrong codes per `${seq}:${source}`: someone else's guesses never use up the owner's tries. */
  const wrong = new Map<string, number>();
  let wrongTotal = 0;
  /** Results by update id: a retried update gets the first answer and consumes nothing. */
  const answered = new Map<string, VerifyResult>();

  // The sender runs beside the main loop in a scope of its own, so the end of the signup stops it.
  let sender: CancellationScope | undefined;
  let sending = false;
  let mailFailure: SignupOutcome | undefined;
  let mailDeadline = 0;
  let mailAttempts = 0;
  let noticeSent = false;

  setHandler(stateQuery, () => ({ status, attempts: wrongTotal, codesIssued: seq }));
  setHandler(requestCodeSignal, () => {
    resendRequested = true;
  });
  setHandler(verifyUpdate, (v) => verify(v), {
    validator: (v: VerifyInput) => {
      if (!v || typeof v !== 'object') throw new Error('verify input must be an object');
      if (typeof v.codeDigest !== 'string' || !/^[0-9a-f]{64}$/.test(v.codeDigest)) throw new Error('codeDigest malformed');
      if (typeof v.nameSealed !== 'string' || v.nameSealed.length < 10 || v.nameSealed.length > 1024) throw new Error('nameSealed malformed');
      if (typeof v.passwordSealed !== 'string' || v.passwordSealed.length < 10 || v.passwordSealed.length > 1024) throw new Error('passwordSealed malformed');
      if (v.source !== undefined && (typeof v.source !== 'string' || !/^[0-9a-f]{1,64}$/.test(v.source))) throw new Error('source malformed');
    },
  });

  async function verify(v: VerifyInput): Promise<VerifyResult> {
    const updateId = currentUpdateInfo()?.id;
    // One verification at a time: counting and consumption must not interleave. The SDK may
    // unblock several waiting handlers in one activation, so each re-checks before it enters.
    while (busy) await condition(() => !busy);
    busy = true;
    try {
      const earlier = updateId ? answered.get(updateId) : undefined;
      if (earlier) return earlier;
      const result = await verifyOnce(v, updateId ?? '');
      // UNAVAILABLE is our fault and changed nothing: a retry must try again, not get it back.
      if (updateId && !(!result.ok && result.code === 'UNAVAILABLE')) answered.set(updateId, result);
      return result;
    } finally {
      busy = false;
    }
  }

  async function verifyOnce(v: VerifyInput, updateId: string): Promise<VerifyResult> {
    const key = `${seq}:${v.source ?? '-'}`;
    const left = () => Math.max(0, L.maxAttempts - (wrong.get(key) ?? 0));
    // A code is single-use. The same code again is a client retrying after a timeout: tell it the
    // account exists (never a second session: a replayed code must not skip the password).
    if (user) {
      return acceptedDigest === v.codeDigest ? { ok: false, code: 'ALREADY_VERIFIED' } : { ok: false, code: 'INVALID_CODE', attemptsLeft: left() };
    }
    if (ended) return { ok: false, code: 'CODE_EXPIRED' };
    if (seq === 0 || Date.now() >= codeIssuedAt + L.codeTtlMs) return { ok: false, code: 'CODE_EXPIRED' };
    if (left() === 0) return { ok: false, code: 'TOO_MANY_ATTEMPTS' };

    let outcome: Awaited<ReturnType<Activities['consumeCode']>>;
    try {
      outcome = await verifyActs.consumeCode({ signupId, digest: v.codeDigest, consumer: updateId });
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('code check failed; the attempt does not count', { failure: failureType(err) ?? (err as Error).name });
      return { ok: false, code: 'UNAVAILABLE' };
    }
    if (outcome === 'missing') return { ok: false, code: 'CODE_EXPIRED' };
    if (outcome === 'mismatch') {
      wrong.set(key, (wrong.get(key) ?? 0) + 1);
      wrongTotal += 1;
      return left() > 0 ? { ok: false, code: 'INVALID_CODE', attemptsLeft: left() } : { ok: false, code: 'TOO_MANY_ATTEMPTS' };
    }

    acceptedDigest = v.codeDigest;
    setStatus('creating_user');
    try {
      const args = { signupId, signupRef, emailSealed, nameSealed: v.nameSealed, passwordSealed: v.passwordSealed };
      const created = await localThenRegular(localFirst, () => firstTry.createUser(args), () => dbActs.createUser(args), [Failure.emailTaken, Failure.invalidRequest]);
      user = { id: created.id, createdAt: created.createdAt };
    } catch (err) {
      if (isCancellation(err)) throw err;
      const taken = failureType(err) === Failure.emailTaken;
      ended = { status: taken ? 'existing_account' : 'failed', reason: taken ? 'email_taken' : 'create_user_failed' };
      setStatus(ended.status);
      return { ok: false, code: taken ? 'EMAIL_TAKEN' : 'UNAVAILABLE' };
    }
    ended = { status: 'completed' };
    setStatus('completed');
    return { ok: true, user };
  }

  const canIssue = () => {
    const now = Date.now();
    return now - codeIssuedAt >= L.resendCooldownMs && issuedAt.filter((t) => now - t < HOUR_MS).length < L.resendMaxPerHour;
  };

  /**
   * Issues a fresh code and mails it within what is left of the mail budget; a code that died
   * before SMTP came back is replaced, still within that one budget. A registered email gets a
   * code too (never mailed) and, once per signup, the "you already have an account" notice.
   */
  async function sendCode(): Promise<void> {
    if (!registered) setStatus('sending_code');
    for (;;) {
      // The new code counts as issued once Redis holds it: until then a verify meets the previous
      // code (or none), the same for every email.
      const next = seq + 1;
      const issue = { signupId, seq: next, ttlMs: L.codeTtlMs, run: workflowInfo().runId };
      await localThenRegular(localFirst, () => firstTry.issueCode(issue), () => issueActs.issueCode(issue));
      seq = next;
      codeIssuedAt = Date.now();
      issuedAt.push(codeIssuedAt);
      if (registered && noticeSent) return;
      const remainingMs = mailDeadline - Date.now();
      const remainingAttempts = emailMaxAttempts - mailAttempts;
      if (remainingMs <= 0 || remainingAttempts <= 0) {
        throw ApplicationFailure.create({ type: Failure.mailBudgetSpent, message: 'the mail budget of this signup is spent', nonRetryable: true });
      }
      const mail = mailActs(remainingMs, remainingAttempts);
      try {
        if (registered) {
          const sent = await mail.sendExistingAccountNotice({ signupId, emailSealed, dedupKey: workflowInfo().runId });
          mailAttempts += sent?.attempts ?? 1;
          noticeSent = true;
          return;
        }
        const sent = await mail.sendCodeEmail({ signupId, emailSealed, seq, ttlMs: L.codeTtlMs, run: workflowInfo().runId });
        mailAttempts += sent?.attempts ?? 1;
        break;
      } catch (err) {
        mailAttempts += attemptsOf(err);
        if (failureType(err) !== Failure.codeGone) throw err;
        log.info('code expired before delivery; issuing a new one', { mailAttempts });
      }
    }
    if (status === 'sending_code') setStatus('awaiting_code');
  }

  function startSending(): void {
    resendRequested = false;
    sending = true;
    const scope = new CancellationScope();
    sender = scope;
    scope
      .run(sendCode)
      .catch((err: unknown) => {
        if (isCancellation(err)) return;
        const refused = failureType(err) === Failure.smtpPermanent;
        log.error('mail could not be delivered', { failure: failureType(err) ?? (err instanceof ActivityFailure ? 'activity' : 'unknown'), mailAttempts });
        mailFailure = { status: 'mail_failed', reason: refused ? 'email_refused' : 'email_undeliverable' };
      })
      .finally(() => {
        sending = false;
      });
  }

  async function stopSending(): Promise<void> {
    if (sending) sender?.cancel();
    await condition(() => !sending);
  }

  async function run(): Promise<SignupOutcome> {
    // 'checking' was set by the API when it started the workflow.
    try {
      const check = { signupId, emailSealed };
      registered = await localThenRegular(localFirst, () => firstTry.isEmailRegistered(check), () => dbCheck.isEmailRegistered(check), [Failure.invalidRequest]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.error('the registered-email check gave up', { failure: failureType(err) ?? 'timeout' });
      setStatus('failed');
      return { status: 'failed', reason: 'database_unavailable' };
    }
    if (registered) setStatus('existing_account');
    mailDeadline = Date.now() + L.emailBudgetMs;
    startSending();
    for (;;) {
      const woke = await condition(
        () => ended !== undefined || mailFailure !== undefined || (resendRequested && !sending),
        Math.max(0, deadline - Date.now()),
      );
      if (ended) return ended;
      if (mailFailure) {
        setStatus('mail_failed');
        return mailFailure;
      }
      if (!woke) {
        await condition(() => !busy);
        if (ended) return ended;
        if (registered) return { status: 'existing_account' };
        setStatus('expired');
        return { status: 'expired' };
      }
      if (canIssue()) startSending();
      else resendRequested = false;
    }
  }

  let outcome: SignupOutcome;
  try {
    outcome = await run();
  } finally {
    await CancellationScope.nonCancellable(stopSending);
  }
  await condition(allHandlersFinished);
  return outcome;
}

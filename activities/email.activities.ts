import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type Redis from 'ioredis';
import { SealContext, unseal, type Keys } from '../common/crypto';
import { Failure } from '../common/failures';
import type { Mailer } from '../common/mailer';
import { mailboxKey } from './code.activities';

/** 5xx replies and refused recipients will not get better by retrying. */
function isPermanent(err: unknown): boolean {
  const e = err as { responseCode?: number; code?: string };
  return (typeof e.responseCode === 'number' && e.responseCode >= 500) || e.code === 'EENVELOPE';
}

function codeMail(code: string, ttlMinutes: number) {
  const text = [
    `Your CFD Broker verification code is ${code}`,
    '',
    `It expires in ${ttlMinutes} minutes. If you did not ask for it, ignore this email.`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">
<p>Your CFD Broker verification code is</p>
<p style="font-size:28px;font-weight:700;letter-spacing:6px">${code}</p>
<p>It expires in ${ttlMinutes} minutes. If you did not ask for it, ignore this email.</p>
</body></html>`;
  return { subject: 'Your CFD Broker verification code', text, html };
}

const NOTICE = {
  subject: 'You already have a CFD Broker account',
  text: 'Someone (hopefully you) tried to sign up with this email, but it already has an account.\n\nSign in, or reset your password if you forgot it. If this was not you, you can ignore this email.',
  html: '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111"><p>Someone (hopefully you) tried to sign up with this email, but it already has an account.</p><p>Sign in, or reset your password if you forgot it. If this was not you, you can ignore this email.</p></body></html>',
};

/** The SMTP attempt this activity execution is (reported to the workflow's mail budget). */
function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/** How long a send may hold its lock: longer than the activity's start-to-close timeout (30 s). */
const SEND_LOCK_MS = 45_000;

export function createEmailActivities(deps: { redis: Redis; mailer: Mailer; keys: Keys }) {
  const { redis, mailer, keys } = deps;

  /**
   * Sends at most once per key: a retry after a send that succeeded finds the marker and stops,
   * and a retry while an earlier attempt is still talking to SMTP (it timed out on Temporal's side
   * but not on the socket) waits for it instead of sending a second copy.
   */
  async function sendOnce(sentKey: string, ttlMs: number, to: string, mail: { subject: string; text: string; html: string }): Promise<{ attempts: number }> {
    const n = attempt();
    if (await redis.exists(sentKey)) {
      log.info('mail already sent by an earlier attempt; not sending again');
      return { attempts: n };
    }
    const lockKey = `${sentKey}:sending`;
    if ((await redis.set(lockKey, String(n), 'PX', SEND_LOCK_MS, 'NX')) !== 'OK') {
      throw ApplicationFailure.create({ type: Failure.sendInProgress, message: 'an earlier attempt is still sending this mail', details: [n] });
    }
    try {
      await mailer.transport.sendMail({ from: mailer.from, to, ...mail });
    } catch (err) {
      await redis.del(lockKey).catch(() => undefined);
      const e = err as { code?: string; responseCode?: number };
      if (isPermanent(err)) {
        throw ApplicationFailure.create({ type: Failure.smtpPermanent, message: `SMTP refused the message (${e.responseCode ?? e.code})`, nonRetryable: true, details: [n] });
      }
      throw ApplicationFailure.create({ type: Failure.smtpUnavailable, message: `SMTP not available (${e.code ?? e.responseCode ?? 'error'})`, details: [n] });
    }
    await redis.multi().set(sentKey, '1', 'PX', ttlMs).del(lockKey).exec();
    return { attempts: n };
  }

  return {
    async sendCodeEmail(input: { signupId: string; emailSealed: string; seq: number; ttlMs: number; run?: string }): Promise<{ attempts: number }> {
      const sealedCode = await redis.get(mailboxKey(input.signupId, input.seq, input.run));
      if (!sealedCode) {
        throw ApplicationFailure.create({ type: Failure.codeGone, message: 'the code expired before it could be mailed', nonRetryable: true, details: [attempt()] });
      }
      const code = unseal(keys, sealedCode, SealContext.pendingCode(input.signupId, input.seq));
      const to = unseal(keys, input.emailSealed, SealContext.email(input.signupId));
      const sent = await sendOnce(input.run ? `otp-sent:${input.signupId}:${input.run}:${input.seq}` : `otp-sent:${input.signupId}:${input.seq}`, input.ttlMs, to, codeMail(code, Math.round(input.ttlMs / 60_000)));
      log.info('verification code sent', { event: 'code_sent', signupId: input.signupId, seq: input.seq });
      return sent;
    },

    async sendExistingAccountNotice(input: { signupId: string; emailSealed: string; dedupKey: string }): Promise<{ attempts: number }> {
      const to = unseal(keys, input.emailSealed, SealContext.email(input.signupId));
      return sendOnce(`notice-sent:${input.signupId}:${input.dedupKey}`, 24 * 3_600_000, to, NOTICE);
    },
  };
}

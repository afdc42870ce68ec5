import { ApplicationFailure, log } from '@temporalio/activity';
import type Redis from 'ioredis';
import type { Transporter } from 'nodemailer';
import { SealContext, unseal, type Keys } from '../common/crypto';
import { Failure } from '../common/failures';
import { mailboxKey } from './code.activities';

export interface Mailer {
  transport: Transporter;
  from: string;
}

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

export function createEmailActivities(deps: { redis: Redis; mailer: Mailer; keys: Keys }) {
  const { redis, mailer, keys } = deps;

  /** Sends at most once per key: a retry after a send that succeeded finds the marker and stops. */
  async function sendOnce(sentKey: string, ttlMs: number, to: string, mail: { subject: string; text: string; html: string }) {
    if (await redis.exists(sentKey)) {
      log.info('mail already sent by an earlier attempt; not sending again');
      return;
    }
    try {
      await mailer.transport.sendMail({ from: mailer.from, to, ...mail });
    } catch (err) {
      const e = err as { code?: string; responseCode?: number };
      if (isPermanent(err)) {
        throw ApplicationFailure.create({ type: Failure.smtpPermanent, message: `SMTP refused the message (${e.responseCode ?? e.code})`, nonRetryable: true });
      }
      throw ApplicationFailure.create({ type: Failure.smtpUnavailable, message: `SMTP not available (${e.code ?? e.responseCode ?? 'error'})` });
    }
    await redis.set(sentKey, '1', 'PX', ttlMs);
  }

  return {
    async sendCodeEmail(input: { signupId: string; emailSealed: string; seq: number; ttlMs: number }): Promise<void> {
      const sealedCode = await redis.get(mailboxKey(input.signupId, input.seq));
      if (!sealedCode) {
        throw ApplicationFailure.create({ type: Failure.codeGone, message: 'the code expired before it could be mailed', nonRetryable: true });
      }
      const code = unseal(keys, sealedCode, SealContext.pendingCode(input.signupId, input.seq));
      const to = unseal(keys, input.emailSealed, SealContext.email(input.signupId));
      await sendOnce(`otp-sent:${input.signupId}:${input.seq}`, input.ttlMs, to, codeMail(code, Math.round(input.ttlMs / 60_000)));
      log.info('verification code sent', { event: 'code_sent', signupId: input.signupId, seq: input.seq });
    },

    async sendExistingAccountNotice(input: { signupId: string; emailSealed: string; dedupKey: string }): Promise<void> {
      const to = unseal(keys, input.emailSealed, SealContext.email(input.signupId));
      await sendOnce(`notice-sent:${input.signupId}:${input.dedupKey}`, 24 * 3_600_000, to, NOTICE);
    },
  };
}

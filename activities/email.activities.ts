import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type Redis from 'ioredis';
import { SealContext, unseal, type Keys } from '../common/crypto';
import { inWords } from '../common/durations';
import { Failure } from '../common/failures';
import { undoSecretKey } from './account.activities';
import type { Mailer } from '../common/mailer';
import { metrics } from '../common/metrics';
import { mailboxKey } from './code.activities';
import type { MfaNoticeEvent } from '../workflows/mfa-notice.contract';

/** 5xx replies and refused recipients will not get better by retrying. */
function isPermanent(err: unknown): boolean {
  const e = err as { responseCode?: number; code?: string };
  return (typeof e.responseCode === 'number' && e.responseCode >= 500) || e.code === 'EENVELOPE';
}

/** What a mailed code is for: the words around it differ, the code and its handling do not. */
export type CodePurpose = 'signup' | 'password-reset' | 'email-change';

const CODE_WORDING: Record<CodePurpose, { subject: string; lead: string }> = {
  signup: { subject: 'Your CFD Broker verification code', lead: 'Your CFD Broker verification code is' },
  'password-reset': { subject: 'Your CFD Broker password reset code', lead: 'Your CFD Broker password reset code is' },
  'email-change': { subject: 'Confirm your new CFD Broker email', lead: 'Your code to confirm this address for your CFD Broker account is' },
};

function codeMail(code: string, ttlMinutes: number, purpose: CodePurpose = 'signup') {
  const { subject, lead } = CODE_WORDING[purpose];
  const text = [
    `${lead} ${code}`,
    '',
    `It expires in ${ttlMinutes} minutes. If you did not ask for it, ignore this email.`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">
<p>${lead}</p>
<p style="font-size:28px;font-weight:700;letter-spacing:6px">${code}</p>
<p>It expires in ${ttlMinutes} minutes. If you did not ask for it, ignore this email.</p>
</body></html>`;
  return { subject, text, html };
}

const PASSWORD_CHANGED = {
  subject: 'Your CFD Broker password was changed',
  text: 'The password of your CFD Broker account was just changed, and every other session was signed out.\n\nIf this was not you, reset your password now and contact support.',
  html: '<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111"><p>The password of your CFD Broker account was just changed, and every other session was signed out.</p><p>If this was not you, reset your password now and contact support.</p></body></html>',
};

function emailChangedMail(undoUrl: string, undoHours: number) {
  const text = [
    'The email address of your CFD Broker account was just changed, and every other session was signed out.',
    '',
    `If this was not you, undo the change within ${undoHours} hours: ${undoUrl}`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">
<p>The email address of your CFD Broker account was just changed, and every other session was signed out.</p>
<p>If this was not you, <a href="${undoUrl}">undo the change</a> within ${undoHours} hours.</p>
</body></html>`;
  return { subject: 'Your CFD Broker email address was changed', text, html };
}

function accountClosingMail(restoreUrl: string, grace: string) {
  const text = [
    'Your CFD Broker account was closed and every session was signed out.',
    '',
    `Its personal data will be erased in ${grace}. Changed your mind, or was it not you? Restore the account before then: ${restoreUrl}`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">
<p>Your CFD Broker account was closed and every session was signed out.</p>
<p>Its personal data will be erased in ${grace}. Changed your mind, or was it not you? <a href="${restoreUrl}">Restore the account</a> before then.</p>
</body></html>`;
  return { subject: 'Your CFD Broker account was closed', text, html };
}

const MFA_WORDING: Record<MfaNoticeEvent, { subject: string; lead: string }> = {
  totp_enabled: { subject: 'Two-step sign-in is on for your CFD Broker account', lead: 'An authenticator app was added to your CFD Broker account: signing in now asks for its code too.' },
  totp_disabled: { subject: 'Two-step sign-in is off for your CFD Broker account', lead: 'The authenticator app was removed from your CFD Broker account: signing in now asks for the password only.' },
  recovery_codes_replaced: { subject: 'New recovery codes for your CFD Broker account', lead: 'New recovery codes were made for your CFD Broker account; the old ones no longer work.' },
  passkey_added: { subject: 'A passkey was added to your CFD Broker account', lead: 'A passkey was added to your CFD Broker account: it can now sign in without the password, and counts as the second step after it.' },
  passkey_removed: { subject: 'A passkey was removed from your CFD Broker account', lead: 'A passkey was removed from your CFD Broker account: it can no longer sign in.' },
};

function mfaNoticeMail(event: MfaNoticeEvent, at: string) {
  const { subject, lead } = MFA_WORDING[event];
  const when = `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const warn = 'If this was not you, reset your password now and contact support.';
  const text = [`${lead} (${when})`, '', warn].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111"><p>${lead} (${when})</p><p>${warn}</p></body></html>`;
  return { subject, text, html };
}

const escapeHtml = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Where and how: the sign-in's time (UTC), IP and browser. The user agent is the client's word: shortened and escaped. */
function newSigninMail(at: string, ip: string, userAgent: string | undefined) {
  const when = `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const browser = (userAgent ?? 'an unknown browser').replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 160);
  const lead = `Your CFD Broker account was signed in to from a new device on ${when}.`;
  const text = [
    lead,
    '',
    `IP address: ${ip}`,
    `Browser: ${browser}`,
    '',
    'If this was you, there is nothing to do. If it was not, reset your password now: every session is signed out when you do.',
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#111">
<p>${escapeHtml(lead)}</p>
<p>IP address: ${escapeHtml(ip)}<br>Browser: ${escapeHtml(browser)}</p>
<p>If this was you, there is nothing to do. If it was not, reset your password now: every session is signed out when you do.</p>
</body></html>`;
  return { subject: 'New sign-in to your CFD Broker account', text, html };
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

/** The mail label of cfd_mail_send_attempts_total and cfd_mail_send_duration_seconds. */
type MailKind = `code_${CodePurpose}` | 'existing_account_notice' | 'email_changed_notice' | 'account_closing_notice' | 'signin_notice' | 'password_changed_notice' | 'mfa_notice';

/** How long a send may hold its lock: longer than the activity's start-to-close timeout (30 s). */
const SEND_LOCK_MS = 45_000;

export function createEmailActivities(deps: { redis: Redis; mailer: Mailer; keys: Keys; webBaseUrl?: string }) {
  const { redis, mailer, keys } = deps;
  const webBaseUrl = deps.webBaseUrl ?? 'http://127.0.0.1:3000';

  /**
   * Sends at most once per key: a retry after a send that succeeded finds the marker and stops,
   * and a retry while an earlier attempt is still talking to SMTP (it timed out on Temporal's side
   * but not on the socket) waits for it instead of sending a second copy.
   */
  async function sendOnce(kind: MailKind, sentKey: string, ttlMs: number, to: string, mail: { subject: string; text: string; html: string }): Promise<{ attempts: number }> {
    const n = attempt();
    if (await redis.exists(sentKey)) {
      metrics.mailAttempts.inc({ mail: kind, result: 'already_sent' });
      log.info('mail already sent by an earlier attempt; not sending again');
      return { attempts: n };
    }
    const lockKey = `${sentKey}:sending`;
    if ((await redis.set(lockKey, String(n), 'PX', SEND_LOCK_MS, 'NX')) !== 'OK') {
      metrics.mailAttempts.inc({ mail: kind, result: 'in_progress' });
      throw ApplicationFailure.create({ type: Failure.sendInProgress, message: 'an earlier attempt is still sending this mail', details: [n] });
    }
    const sending = metrics.mailSendDuration.startTimer({ mail: kind });
    try {
      await mailer.transport.sendMail({ from: mailer.from, to, ...mail });
    } catch (err) {
      const result = isPermanent(err) ? 'smtp_refused' : 'smtp_unavailable';
      sending({ result });
      metrics.mailAttempts.inc({ mail: kind, result });
      await redis.del(lockKey).catch(() => undefined);
      const e = err as { code?: string; responseCode?: number };
      if (isPermanent(err)) {
        throw ApplicationFailure.create({ type: Failure.smtpPermanent, message: `SMTP refused the message (${e.responseCode ?? e.code})`, nonRetryable: true, details: [n] });
      }
      throw ApplicationFailure.create({ type: Failure.smtpUnavailable, message: `SMTP not available (${e.code ?? e.responseCode ?? 'error'})`, details: [n] });
    }
    sending({ result: 'sent' });
    metrics.mailAttempts.inc({ mail: kind, result: 'sent' });
    await redis.multi().set(sentKey, '1', 'PX', ttlMs).del(lockKey).exec();
    return { attempts: n };
  }

  /** A one-time link's token (the flow id, a dot, the secret createUndoToken made for this run). */
  async function linkToken(flowId: string, run: string, what: string): Promise<string> {
    const sealedSecret = await redis.get(undoSecretKey(flowId, run));
    if (!sealedSecret) throw ApplicationFailure.create({ type: Failure.codeGone, message: `the ${what} link expired before it could be mailed`, nonRetryable: true, details: [attempt()] });
    return `${flowId}.${unseal(keys, sealedSecret, SealContext.undoSecret(flowId))}`;
  }

  return {
    /** `signupId` is the id of the flow that owns the code (a signup or a password reset). */
    async sendCodeEmail(input: { signupId: string; emailSealed: string; seq: number; ttlMs: number; run?: string; purpose?: CodePurpose }): Promise<{ attempts: number }> {
      const sealedCode = await redis.get(mailboxKey(input.signupId, input.seq, input.run));
      if (!sealedCode) {
        throw ApplicationFailure.create({ type: Failure.codeGone, message: 'the code expired before it could be mailed', nonRetryable: true, details: [attempt()] });
      }
      const code = unseal(keys, sealedCode, SealContext.pendingCode(input.signupId, input.seq));
      const to = unseal(keys, input.emailSealed, SealContext.email(input.signupId));
      const sent = await sendOnce(`code_${input.purpose ?? 'signup'}`, input.run ? `otp-sent:${input.signupId}:${input.run}:${input.seq}` : `otp-sent:${input.signupId}:${input.seq}`, input.ttlMs, to, codeMail(code, Math.round(input.ttlMs / 60_000), input.purpose));
      log.info('verification code sent', { event: 'code_sent', signupId: input.signupId, seq: input.seq });
      return sent;
    },

    async sendExistingAccountNotice(input: { signupId: string; emailSealed: string; dedupKey: string }): Promise<{ attempts: number }> {
      const to = unseal(keys, input.emailSealed, SealContext.email(input.signupId));
      return sendOnce('existing_account_notice', `notice-sent:${input.signupId}:${input.dedupKey}`, 24 * 3_600_000, to, NOTICE);
    },

    /** To the old address of an email change: the notice with its undo link, once per flow run. */
    async sendEmailChangedNotice(input: { flowId: string; emailSealed: string; run: string; undoTtlMs: number }): Promise<{ attempts: number }> {
      const token = await linkToken(input.flowId, input.run, 'undo');
      const to = unseal(keys, input.emailSealed, SealContext.email(input.flowId));
      const mail = emailChangedMail(`${webBaseUrl}/email/undo?token=${token}`, Math.round(input.undoTtlMs / 3_600_000));
      const sent = await sendOnce('email_changed_notice', `email-notice-sent:${input.flowId}:${input.run}`, input.undoTtlMs, to, mail);
      log.info('email change notice sent', { event: 'email_notice_sent', flowId: input.flowId });
      return sent;
    },

    /** To the address of a closed account: the notice with its restore link, once per flow run. */
    async sendAccountClosingNotice(input: { flowId: string; emailSealed: string; run: string; graceMs: number }): Promise<{ attempts: number }> {
      const token = await linkToken(input.flowId, input.run, 'restore');
      const to = unseal(keys, input.emailSealed, SealContext.email(input.flowId));
      const mail = accountClosingMail(`${webBaseUrl}/account/restore?token=${token}`, inWords(input.graceMs));
      const sent = await sendOnce('account_closing_notice', `closure-notice-sent:${input.flowId}:${input.run}`, input.graceMs, to, mail);
      log.info('account closure notice sent', { event: 'closure_notice_sent', flowId: input.flowId });
      return sent;
    },

    /** "New sign-in from a new device", once per sign-in (`flowId` is keyed by its session). */
    async sendNewSigninNotice(input: { flowId: string; emailSealed: string; detailsSealed: string; at: string }): Promise<{ attempts: number }> {
      const to = unseal(keys, input.emailSealed, SealContext.email(input.flowId));
      const { ip, userAgent } = JSON.parse(unseal(keys, input.detailsSealed, SealContext.signinDetails(input.flowId))) as { ip: string; userAgent?: string };
      const sent = await sendOnce('signin_notice', `signin-notice-sent:${input.flowId}`, 24 * 3_600_000, to, newSigninMail(input.at, ip, userAgent));
      log.info('new sign-in notice sent', { event: 'signin_notice_sent', flowId: input.flowId });
      return sent;
    },

    /** "Your second factor changed", once per change (`flowId` is keyed by the request). */
    async sendMfaNotice(input: { flowId: string; emailSealed: string; event: MfaNoticeEvent; at: string }): Promise<{ attempts: number }> {
      const to = unseal(keys, input.emailSealed, SealContext.email(input.flowId));
      const sent = await sendOnce('mfa_notice', `mfa-notice-sent:${input.flowId}`, 24 * 3_600_000, to, mfaNoticeMail(input.event, input.at));
      log.info('second-factor notice sent', { event: 'mfa_notice_sent', flowId: input.flowId, change: input.event });
      return sent;
    },

    /** "Your password was changed", once per flow run (`flowId` is the reset or change workflow id). */
    async sendPasswordChangedNotice(input: { flowId: string; emailSealed: string; dedupKey: string }): Promise<{ attempts: number }> {
      const to = unseal(keys, input.emailSealed, SealContext.email(input.flowId));
      const sent = await sendOnce('password_changed_notice', `password-notice-sent:${input.flowId}:${input.dedupKey}`, 24 * 3_600_000, to, PASSWORD_CHANGED);
      log.info('password change notice sent', { event: 'password_notice_sent', flowId: input.flowId });
      return sent;
    },
  };
}

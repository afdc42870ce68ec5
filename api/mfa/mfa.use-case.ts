import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type Redis from 'ioredis';
import QRCode from 'qrcode';
import type { Config } from '../../common/config';
import { emailHash, mfaNoticeWorkflowId, recoveryCodeDigest, seal, SealContext, totpSecretHandle, unseal, type Keys } from '../../common/crypto';
import { AppError } from '../../common/errors';
import { RECOVERY_CODE_COUNT } from '../../common/kafka/messages';
import type { KafkaRequester } from '../../common/kafka/request-reply';
import { AccountFlowStatusKey, AccountFlowStatusSinceKey } from '../../temporal-config/account-flows';
import type { MfaNoticeEvent } from '../../workflows/mfa-notice.contract';
import type { mfaNoticeWorkflow } from '../../workflows/mfa-notice.workflow';
import type { DeviceCookies } from '../security/device-cookie';
import type { RateLimits } from '../security/rate-limits';
import type { AuthMethod, SessionProfile, SessionStore } from '../sessions/session.store';
import type { RequestContext } from '../use-cases/context';
import { fromDbProcessor, fromRedisCall } from '../use-cases/dependency-calls';
import { createAccountLookups } from '../use-cases/current-password';
import type { IssuedSession, SessionIssuer } from '../use-cases/sessions.use-case';
import type { SigninNotices } from '../use-cases/signin-notice';
import { boundedCall } from '../use-cases/temporal-calls';
import type { AccountFlowDeps } from '../use-cases/password.use-case';
import { matchingStep, newRecoveryCode, newTotpSecret, normaliseRecoveryCode, totp, TotpReplayGuard } from './totp';

/** The second factors a partial session can finish with (the answer of POST /signin names the account's). */
export const MFA_METHODS = ['totp', 'recovery_code', 'passkey'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

/** The methods an account with these factors can finish a sign-in with. */
export function secondFactorMethods(factors: { totp: boolean; passkeys: boolean }): MfaMethod[] {
  return [...(factors.totp ? (['totp', 'recovery_code'] as const) : []), ...(factors.passkeys ? (['passkey'] as const) : [])];
}

/** The `amr` values (RFC 8176) a full session records for each way of finishing. */
const AMR = { totp: ['pwd', 'otp'], recovery: ['pwd', 'rc'] } as const;

export interface MfaDeps extends AccountFlowDeps {
  redis: Redis;
  sessions: SessionStore;
  issueSession: SessionIssuer;
  devices: DeviceCookies;
  notices: SigninNotices;
}

type Auth = { uid: string; sid: string; profile: SessionProfile };
/** A second factor as a request carries it: a TOTP code, or a recovery code. */
export type SecondFactor = { code: string; recoveryCode?: undefined } | { recoveryCode: string; code?: undefined };

const pendingKey = (uid: string) => `mfa:setup:${uid}`;

export function createMfaUseCases(deps: MfaDeps) {
  const { temporal, taskQueue, config, keys, limits, requester, redis, sessions, issueSession, devices, notices } = deps;
  const replay = new TotpReplayGuard(redis);
  const { checkCurrentPassword } = createAccountLookups({ requester, keys, limits });

  const db = fromDbProcessor;
  const fromRedis = fromRedisCall;

  const status = (uid: string) => db(() => requester.request('user.mfa-get', { userId: uid }, { key: uid }));

  /** Ten fresh codes, and their keyed digests (the only form that is stored). */
  function recoveryCodes(uid: string) {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    return { codes, digests: codes.map((c) => recoveryCodeDigest(keys, uid, normaliseRecoveryCode(c))) };
  }

  /** A TOTP code of `secret`: within ±1 step and later than any step accepted before (no replay). */
  async function totpAccepted(uid: string, secret: string, code: string): Promise<boolean> {
    const step = matchingStep(secret, code);
    if (step === undefined) return false;
    return replay.take(totpSecretHandle(keys, uid, secret), step);
  }

  /**
   * Checks a second factor under the account's attempt budget (taken before the check). A recovery
   * code is spent by the check. Answers the method that passed; a wrong code is 400 INVALID_MFA_CODE.
   */
  async function checkSecondFactor(uid: string, factor: SecondFactor, ctx: RequestContext, event: string): Promise<'totp' | 'recovery'> {
    const reservation = await limits.reserveSecondFactor(uid);
    let ok: boolean;
    let method: 'totp' | 'recovery';
    try {
      const { totp: enabled } = await status(uid);
      if (!enabled) {
        await reservation.cancel();
        throw new AppError('MFA_NOT_ENABLED');
      }
      if (factor.recoveryCode !== undefined) {
        method = 'recovery';
        const digest = recoveryCodeDigest(keys, uid, normaliseRecoveryCode(factor.recoveryCode));
        ok = (await db(() => requester.request('user.mfa-use-recovery-code', { userId: uid, digest }, { key: uid }))).used;
      } else {
        method = 'totp';
        ok = await totpAccepted(uid, unseal(keys, enabled.secretSealed, SealContext.totpSecretForUser(uid)), factor.code);
      }
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'MFA_NOT_ENABLED')) await reservation.cancel().catch(() => undefined);
      throw err;
    }
    if (!ok) {
      await reservation.failed();
      ctx.logger.info({ event, reason: 'wrong_code', method, userId: uid, ip: ctx.ip }, 'second factor refused');
      throw new AppError('INVALID_MFA_CODE');
    }
    await reservation.succeeded();
    return method;
  }

  /** A 6-digit `code` is a TOTP code; anything else is taken for a recovery code. */
  const factorOf = (code: string): SecondFactor => (/^[0-9]{6}$/.test(code) ? { code } : { recoveryCode: code });

  /**
   * Mails the change to the account's address through its own workflow (durable: an SMTP outage
   * delays it). The change is already made: a Temporal that cannot take the notice is logged, not
   * answered as a failure.
   */
  async function notify(auth: Pick<Auth, 'uid' | 'profile'>, event: MfaNoticeEvent, ctx: RequestContext): Promise<void> {
    const workflowId = mfaNoticeWorkflowId(keys, auth.uid, randomUUID());
    await boundedCall(temporal, config.TEMPORAL_CALL_TIMEOUT_MS, () =>
      temporal.workflow.start<typeof mfaNoticeWorkflow>('mfaNoticeWorkflow', {
        workflowId,
        taskQueue,
        args: [{
          emailSealed: seal(keys, auth.profile.email, SealContext.email(workflowId)),
          event,
          at: new Date().toISOString(),
          limits: { emailBudgetMs: config.EMAIL_RETRY_BUDGET_S * 1000, emailMaxAttempts: config.EMAIL_RETRY_MAX_ATTEMPTS },
        }],
        typedSearchAttributes: [
          { key: AccountFlowStatusKey, value: 'notifying' },
          { key: AccountFlowStatusSinceKey, value: new Date() },
        ],
      }),
    ).catch((err: unknown) => {
      ctx.logger.warn({ event: 'mfa_notice_not_started', workflowId, error: (err as Error).name }, 'the second-factor notice could not be started');
    });
  }

  /**
   * A sign-in is complete (both factors, or a passkey alone): the full session, the device cookie,
   * and the new-device notice when the request's device cookie is not this account's.
   */
  async function startFullSession(profile: SessionProfile, amr: AuthMethod[], method: string, ctx: RequestContext, deviceCookie?: string): Promise<{ user: SessionProfile; session: IssuedSession; deviceCookie: string }> {
    const session = await issueSession(profile, ctx, { amr, origin: 'signin' });
    const emailDigest = emailHash(keys, profile.email);
    const trusted = devices.verify(deviceCookie, emailDigest) !== undefined;
    ctx.logger.info({ event: 'signin_succeeded', userId: profile.id, ip: ctx.ip, trustedDevice: trusted, secondFactor: method }, 'signed in');
    if (!trusted) notices.newDevice(profile.email, session.sid, ctx);
    return { user: profile, session, deviceCookie: devices.issue(emailDigest) };
  }

  return {
    /** GET /mfa: whether the account has a second factor, and its recovery codes left. */
    async status(auth: Auth): Promise<{ totp: boolean; recoveryCodesLeft: number }> {
      const s = await status(auth.uid);
      return { totp: s.totp !== null, recoveryCodesLeft: s.recoveryCodesLeft };
    },

    /** POST /mfa/totp/setup: a new secret waits (sealed, in Redis) to be confirmed; nothing changes until then. */
    async setup(auth: Auth, ctx: RequestContext): Promise<{ secret: string; otpauthUrl: string; qrSvg: string }> {
      if ((await status(auth.uid)).totp) throw new AppError('MFA_ALREADY_ENABLED');
      const secret = newTotpSecret();
      await fromRedis(() => redis.set(pendingKey(auth.uid), seal(keys, secret, SealContext.totpPendingForUser(auth.uid)), 'EX', config.MFA_SETUP_TTL_S));
      const otpauthUrl = totp(secret, config.TOTP_ISSUER, auth.profile.email).toString();
      const qrSvg = await QRCode.toString(otpauthUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      ctx.logger.info({ event: 'totp_setup_started', userId: auth.uid, ip: ctx.ip }, 'authenticator setup started');
      return { secret, otpauthUrl, qrSvg };
    },

    /** POST /mfa/totp/enable: a code of the pending secret turns it on, with ten recovery codes shown this once. */
    async enable(code: string, auth: Auth, ctx: RequestContext): Promise<{ recoveryCodes: string[] }> {
      const pending = await fromRedis(() => redis.get(pendingKey(auth.uid)));
      if (!pending) throw new AppError('MFA_SETUP_EXPIRED');
      const secret = unseal(keys, pending, SealContext.totpPendingForUser(auth.uid));
      const reservation = await limits.reserveSecondFactor(auth.uid);
      let ok: boolean;
      try {
        ok = await totpAccepted(auth.uid, secret, code);
      } catch (err) {
        await reservation.cancel().catch(() => undefined);
        throw err;
      }
      if (!ok) {
        await reservation.failed();
        ctx.logger.info({ event: 'totp_enable_failed', reason: 'wrong_code', userId: auth.uid, ip: ctx.ip }, 'authenticator not confirmed');
        throw new AppError('INVALID_MFA_CODE');
      }
      await reservation.succeeded();
      const { codes, digests } = recoveryCodes(auth.uid);
      const secretSealed = seal(keys, secret, SealContext.totpSecretForUser(auth.uid));
      const { enabled } = await db(() => requester.request('user.mfa-enable', { userId: auth.uid, secretSealed, recoveryCodeDigests: digests }, { key: auth.uid }));
      if (!enabled) throw new AppError('MFA_ALREADY_ENABLED');
      await fromRedis(() => redis.del(pendingKey(auth.uid)));
      ctx.logger.info({ event: 'totp_enabled', userId: auth.uid, ip: ctx.ip }, 'second factor enabled');
      await notify(auth, 'totp_enabled', ctx);
      return { recoveryCodes: codes };
    },

    /** POST /mfa/totp/disable: the password and a code (TOTP or recovery) turn the second factor off. */
    async disable(input: { password: string; code: string }, auth: Auth, ctx: RequestContext): Promise<void> {
      await checkCurrentPassword(input.password, auth, ctx, 'totp_disable_failed');
      await checkSecondFactor(auth.uid, factorOf(input.code), ctx, 'totp_disable_failed');
      const { disabled } = await db(() => requester.request('user.mfa-disable', { userId: auth.uid }, { key: auth.uid }));
      if (!disabled) throw new AppError('MFA_NOT_ENABLED');
      ctx.logger.info({ event: 'totp_disabled', userId: auth.uid, ip: ctx.ip }, 'second factor disabled');
      await notify(auth, 'totp_disabled', ctx);
    },

    /** POST /mfa/recovery-codes: ten new codes; the old ones stop working in the same transaction. */
    async regenerate(auth: Auth, ctx: RequestContext): Promise<{ recoveryCodes: string[] }> {
      const { codes, digests } = recoveryCodes(auth.uid);
      const { replaced } = await db(() => requester.request('user.mfa-recovery-codes', { userId: auth.uid, recoveryCodeDigests: digests }, { key: auth.uid }));
      if (!replaced) throw new AppError('MFA_NOT_ENABLED');
      ctx.logger.info({ event: 'recovery_codes_replaced', userId: auth.uid, ip: ctx.ip }, 'recovery codes replaced');
      await notify(auth, 'recovery_codes_replaced', ctx);
      return { recoveryCodes: codes };
    },

    /**
     * POST /signin/mfa: the partial session's second factor. The partial session ends; a full one
     * starts, recording both factors. `deviceCookie`: the request's, for the new-device notice.
     */
    async completeSignin(factor: SecondFactor, auth: Auth, ctx: RequestContext, deviceCookie?: string): Promise<{ user: SessionProfile; session: IssuedSession; deviceCookie: string }> {
      const method = await checkSecondFactor(auth.uid, factor, ctx, 'signin_mfa_failed');
      // Two right codes at once (a TOTP code cannot be; two recovery codes can): the one that ends the partial session goes on.
      if (!(await sessions.revoke(auth.uid, auth.sid))) throw new AppError('UNAUTHENTICATED');
      return startFullSession(auth.profile, [...AMR[method]], method, ctx, deviceCookie);
    },

    startFullSession,
    notify,

    /** POST /reauth: the password (and the second factor when the account has one) again: sensitive actions open for REAUTH_WINDOW_S. */
    async reauth(input: { password: string; code?: string }, auth: Auth, ctx: RequestContext): Promise<void> {
      await checkCurrentPassword(input.password, auth, ctx, 'reauth_failed');
      if ((await status(auth.uid)).totp) {
        if (input.code === undefined) throw new AppError('INVALID_MFA_CODE', 'This account has a second factor: send its code too.');
        await checkSecondFactor(auth.uid, factorOf(input.code), ctx, 'reauth_failed');
      }
      if (!(await sessions.markAuthenticated(auth.uid, auth.sid))) throw new AppError('UNAUTHENTICATED');
      ctx.logger.info({ event: 'reauthenticated', userId: auth.uid, ip: ctx.ip }, 'session re-authenticated');
    },
  };
}
export type MfaUseCases = ReturnType<typeof createMfaUseCases>;

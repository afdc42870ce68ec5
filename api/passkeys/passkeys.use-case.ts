import { randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type Redis from 'ioredis';
import type { Config } from '../../common/config';
import { AppError } from '../../common/errors';
import type { PasskeySummary } from '../../common/kafka/messages';
import type { KafkaRequester } from '../../common/kafka/request-reply';
import type { Auth } from '../http/auth';
import type { MfaUseCases } from '../mfa/mfa.use-case';
import type { RateLimits } from '../security/rate-limits';
import type { SessionProfile, SessionStore } from '../sessions/session.store';
import type { RequestContext } from '../use-cases/context';
import { fromDbProcessor, fromRedisCall } from '../use-cases/dependency-calls';
import type { IssuedSession } from '../use-cases/sessions.use-case';

export interface PasskeyDeps {
  config: Config;
  redis: Redis;
  requester: KafkaRequester;
  limits: RateLimits;
  sessions: SessionStore;
  mfa: MfaUseCases;
}

/** The relying party: its id (a registrable domain) and the origins a browser may sign for. */
export function relyingParty(config: Pick<Config, 'WEBAUTHN_RP_ID' | 'WEBAUTHN_ORIGINS' | 'WEB_ORIGINS'>): { rpID: string; origins: string[] } {
  const hosts = config.WEB_ORIGINS.map((o) => ({ origin: new URL(o).origin, host: new URL(o).hostname }));
  // An IP address cannot be an RP id: the first web origin with a host name, else localhost.
  const rpID = config.WEBAUTHN_RP_ID || hosts.find((h) => !/^[0-9.]+$|:/.test(h.host))?.host || 'localhost';
  const origins = config.WEBAUTHN_ORIGINS.length > 0 ? config.WEBAUTHN_ORIGINS : hosts.filter((h) => h.host === rpID || h.host.endsWith(`.${rpID}`)).map((h) => h.origin);
  return { rpID, origins };
}

/**
 * COSE algorithms accepted: EdDSA, ES256, RS256. The library's default adds ML-DSA, whose keys and
 * signatures (up to 2.6 and 4.6 kB) outgrow the limits of the bodies and the column; authenticators
 * offering it (Chromium's) also offer these.
 */
const ALGORITHMS = [-8, -7, -257];

/** What a passkey challenge is bound to: the session that asked (registration, second factor) or nothing (passwordless). */
interface StoredChallenge {
  sid?: string;
  uid?: string;
}

const registrationKey = (sid: string) => `webauthn:reg:${sid}`;
/** A sign-in challenge is its own opaque handle: random, single-use, named by the signed clientDataJSON. */
const authenticationKey = (challenge: string) => `webauthn:auth:${challenge}`;

/** The WebAuthn user handle of an account: its id's 16 bytes (no personal data). */
const userHandle = (uid: string) => Buffer.from(uid.replace(/-/g, ''), 'hex');

/** The challenge inside a response's clientDataJSON; undefined when it is not one a browser would send. */
function challengeOf(clientDataJSON: string): string | undefined {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(data.challenge) ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

export type PasskeyView = Pick<PasskeySummary, 'id' | 'label' | 'createdAt' | 'lastUsedAt'>;
const view = (p: PasskeySummary): PasskeyView => ({ id: p.id, label: p.label, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt });

/**
 * Passkeys (WebAuthn): registration by a signed-in, recently authenticated session; sign-in as the
 * second step after a password (the partial session) or alone (a discoverable credential that
 * verified its user). Challenges live in Redis, single-use (GETDEL), for WEBAUTHN_CHALLENGE_TTL_S.
 */
export function createPasskeyUseCases(deps: PasskeyDeps) {
  const { config, redis, requester, limits, sessions, mfa } = deps;
  const { rpID, origins } = relyingParty(config);
  const ttl = config.WEBAUTHN_CHALLENGE_TTL_S;

  const db = fromDbProcessor;
  const fromRedis = fromRedisCall;

  const listOf = async (uid: string) => (await db(() => requester.request('passkey.list', { userId: uid }, { key: uid }))).passkeys;

  function refused(ctx: RequestContext, event: string, reason: string, userId?: string): AppError {
    ctx.logger.info({ event, reason, userId, ip: ctx.ip }, 'passkey refused');
    return new AppError('PASSKEY_INVALID');
  }

  return {
    async list(auth: Auth): Promise<PasskeyView[]> {
      return (await listOf(auth.uid)).map(view);
    },

    /** POST /passkeys/register/options: creation options; the challenge is bound to this session. */
    async registrationOptions(auth: Auth): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await listOf(auth.uid);
      const options = await generateRegistrationOptions({
        rpName: config.TOTP_ISSUER,
        rpID,
        userID: userHandle(auth.uid),
        userName: auth.profile.email,
        userDisplayName: auth.profile.name,
        attestationType: 'none',
        timeout: ttl * 1000,
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
        // Discoverable, so the passkey can sign in without an email typed.
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
        supportedAlgorithmIDs: ALGORITHMS,
      });
      await fromRedis(() => redis.set(registrationKey(auth.sid), options.challenge, 'EX', ttl));
      return options;
    },

    /** POST /passkeys/register: the authenticator's attestation (format none) is checked and the credential stored. */
    async register(input: { response: RegistrationResponseJSON; label?: string }, auth: Auth, ctx: RequestContext): Promise<PasskeyView> {
      const challenge = await fromRedis(() => redis.getdel(registrationKey(auth.sid)));
      if (!challenge) throw refused(ctx, 'passkey_register_failed', 'no_challenge', auth.uid);
      let info;
      try {
        const verified = await verifyRegistrationResponse({ response: input.response, expectedChallenge: challenge, expectedOrigin: origins, expectedRPID: rpID, requireUserVerification: false, supportedAlgorithmIDs: ALGORITHMS });
        if (!verified.verified) throw new Error('not verified');
        info = verified.registrationInfo;
      } catch (err) {
        throw refused(ctx, 'passkey_register_failed', 'invalid_response', auth.uid);
      }
      const existing = await listOf(auth.uid);
      const transports = (input.response.response.transports ?? []).filter((t) => /^[a-z-]{1,32}$/.test(t)).slice(0, 8);
      const id = randomUUID();
      const { passkey } = await db(() =>
        requester.request(
          'passkey.create',
          {
            id,
            userId: auth.uid,
            credentialId: info.credential.id,
            publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
            counter: info.credential.counter,
            transports,
            label: input.label?.trim() || `Passkey ${existing.length + 1}`,
          },
          { key: auth.uid },
        ),
      );
      if (!passkey) throw new AppError('PASSKEY_EXISTS');
      ctx.logger.info({ event: 'passkey_registered', userId: auth.uid, passkeyId: id, ip: ctx.ip }, 'passkey registered');
      await mfa.notify(auth, 'passkey_added', ctx);
      return view(passkey);
    },

    /** DELETE /passkeys/:id: only the account's own passkey; another's or an unknown id is 404. */
    async remove(id: string, auth: Auth, ctx: RequestContext): Promise<void> {
      const { deleted } = await db(() => requester.request('passkey.delete', { userId: auth.uid, id }, { key: auth.uid }));
      if (!deleted) throw new AppError('PASSKEY_NOT_FOUND');
      ctx.logger.info({ event: 'passkey_removed', userId: auth.uid, passkeyId: id, ip: ctx.ip }, 'passkey removed');
      await mfa.notify(auth, 'passkey_removed', ctx);
    },

    /**
     * POST /passkeys/authenticate/options. With a partial session: the account's passkeys, bound to
     * that session. Without: an empty allowCredentials (the browser offers its discoverable passkeys),
     * so nothing here says whether an account or a passkey exists.
     */
    async authenticationOptions(auth: Auth | undefined): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const partial = auth?.session.partial ? auth : undefined;
      const allow = partial ? (await listOf(partial.uid)).map((p) => ({ id: p.credentialId, transports: p.transports })) : [];
      const options = await generateAuthenticationOptions({ rpID, allowCredentials: allow, timeout: ttl * 1000, userVerification: partial ? 'preferred' : 'required' });
      const stored: StoredChallenge = partial ? { sid: partial.sid, uid: partial.uid } : {};
      await fromRedis(() => redis.set(authenticationKey(options.challenge), JSON.stringify(stored), 'EX', ttl));
      return options;
    },

    /**
     * POST /passkeys/authenticate. The challenge is taken (once) before anything else; the attempt
     * counts against the account's second-factor budget before the signature is checked. A partial
     * session finishes with `pwd swk`; a passkey alone (user verified) signs in with `swk mfa`.
     */
    async authenticate(response: AuthenticationResponseJSON, auth: Auth | undefined, ctx: RequestContext, deviceCookie?: string): Promise<{ user: SessionProfile; session: IssuedSession; deviceCookie: string }> {
      const event = 'passkey_signin_failed';
      const challenge = challengeOf(response.response.clientDataJSON);
      if (!challenge) throw refused(ctx, event, 'malformed');
      const raw = await fromRedis(() => redis.getdel(authenticationKey(challenge)));
      if (!raw) throw refused(ctx, event, 'no_challenge', auth?.uid);
      const stored = JSON.parse(raw) as StoredChallenge;
      // A challenge asked for by a partial session is good for that session only, and the other way round.
      const partial = auth?.session.partial ? auth : undefined;
      if (stored.sid !== partial?.sid) throw refused(ctx, event, 'challenge_not_bound', auth?.uid);

      const reservation = partial ? await limits.reserveSecondFactor(partial.uid) : undefined;
      let found;
      try {
        found = await db(() => requester.request('passkey.find', { credentialId: response.id }, { key: response.id }));
      } catch (err) {
        await reservation?.cancel().catch(() => undefined);
        throw err;
      }
      const { passkey, user } = found;
      if (!passkey || !user || (partial && passkey.userId !== partial.uid)) {
        await reservation?.failed();
        throw refused(ctx, event, 'unknown_credential', partial?.uid);
      }
      const budget = reservation ?? (await limits.reserveSecondFactor(passkey.userId));
      let verified;
      try {
        if (!partial && response.response.userHandle && response.response.userHandle !== userHandle(passkey.userId).toString('base64url')) throw new Error('user handle');
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origins,
          expectedRPID: rpID,
          credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports },
          requireUserVerification: !partial,
        });
        if (!verified.verified) throw new Error('not verified');
      } catch {
        await budget.failed();
        throw refused(ctx, event, 'invalid_assertion', passkey.userId);
      }
      // The counter moves forward once: of two assertions with the same counter, one goes on.
      const { used } = await db(() => requester.request('passkey.use', { id: passkey.id, counter: verified.authenticationInfo.newCounter }, { key: passkey.userId }));
      if (!used) {
        await budget.failed();
        throw refused(ctx, event, 'counter_not_forward', passkey.userId);
      }
      await budget.succeeded();
      // An operator's lock holds for passkeys as for passwords, and is told only to whoever proved the factor.
      if (user.locked) {
        ctx.logger.info({ event: 'signin_locked', userId: user.id, ip: ctx.ip }, 'passkey signin refused: account locked');
        ctx.trail.record(ctx, { action: 'signin.locked', actor: 'anonymous', userId: user.id, outcome: 'refused' });
        throw new AppError('ACCOUNT_LOCKED');
      }
      const profile: SessionProfile = { id: user.id, email: user.email, name: user.name, createdAt: user.createdAt };
      if (partial) {
        if (!(await sessions.revoke(partial.uid, partial.sid))) throw new AppError('UNAUTHENTICATED');
        return mfa.startFullSession(profile, ['pwd', 'swk'], 'passkey', ctx, deviceCookie);
      }
      return mfa.startFullSession(profile, ['swk', 'mfa'], 'passkey', ctx, deviceCookie);
    },
  };
}
export type PasskeyUseCases = ReturnType<typeof createPasskeyUseCases>;

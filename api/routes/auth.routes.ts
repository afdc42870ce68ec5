import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Config } from '../../common/config';
import { AppError } from '../../common/errors';
import * as S from '../schemas';
import { MAX_BYTES, tooLongForBcrypt } from '../security/password-policy';
import type { SessionStore } from '../sessions/session.store';
import { verifySessionToken, type TokenConfig } from '../sessions/token';
import type { IssuedSession } from '../use-cases/issue-session';
import type { EmailUseCases } from '../use-cases/email.use-case';
import type { PasswordUseCases } from '../use-cases/password.use-case';
import type { SigninUseCases } from '../use-cases/signin.use-case';
import type { SignupUseCases } from '../use-cases/signup.use-case';

/**
 * Cookie names. In production the `__Host-` prefix makes the browser refuse the cookie unless it is
 * Secure, has Path=/ and no Domain: a sibling subdomain or a plain-HTTP page cannot set or
 * shadow it. Elsewhere (local HTTP) the prefix would make browsers drop the cookie, so no prefix.
 */
export function cookieNames(config: { isProduction: boolean }) {
  const prefix = config.isProduction ? '__Host-' : '';
  return { session: `${prefix}auth_token`, device: `${prefix}auth_device` };
}

export interface AuthDeps {
  sessions: SessionStore;
  tokens: TokenConfig;
  /** Name of the session cookie (see cookieNames). */
  sessionCookie: string;
}

export interface Auth {
  uid: string;
  sid: string;
  profile: { id: string; email: string; name: string; createdAt: string };
}

export interface RouteSpec {
  method: 'get' | 'post' | 'delete';
  /** Express path; OpenAPI form derived from it. */
  path: string;
  summary: string;
  body?: z.ZodType;
  /** The body may be left out (no body, or an empty one of any media type). */
  bodyOptional?: boolean;
  params?: z.ZodObject;
  auth?: boolean;
  /** Every status the route can answer, with its body schema (undefined: no body). */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler: (req: Request, res: Response, auth: Auth | undefined) => Promise<void>;
}

const err = (description: string) => ({ description, schema: S.ErrorResponse });
const invalid = err('Validation failed (VALIDATION_FAILED, MALFORMED_JSON)');
const unsupported = err('A non-empty body that is not application/json (UNSUPPORTED_MEDIA_TYPE)');
const forbidden = err('Origin not allowed (FORBIDDEN_ORIGIN)');
const tooLarge = err('Body over 16 KB (PAYLOAD_TOO_LARGE)');
const limited = err('Rate limited (RATE_LIMITED); see Retry-After');
const down = err('A dependency is unavailable (UNAVAILABLE)');
const unauth = err('Not signed in (UNAUTHENTICATED)');

/** Refuses a password bcrypt would truncate before anything compares it. */
function refuseTooLong(field: string, password: string): void {
  if (tooLongForBcrypt(password)) {
    throw new AppError('VALIDATION_FAILED', `The password is longer than ${MAX_BYTES} bytes.`, { errors: [{ path: field, message: `at most ${MAX_BYTES} bytes` }] });
  }
}

export function authRoutes(deps: { signup: SignupUseCases; signin: SigninUseCases; password: PasswordUseCases; email: EmailUseCases; config: Config } & AuthDeps): RouteSpec[] {
  const { signup, signin, password, email, config } = deps;
  const names = cookieNames(config);
  // Path=/ and no Domain in every environment: what the __Host- prefix demands in production.
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.isProduction,
    path: '/',
  };
  const setSession = (res: Response, s: IssuedSession) => res.cookie(names.session, s.token, { ...cookieOptions, maxAge: s.maxAgeMs });
  const clearSession = (res: Response) => res.clearCookie(names.session, cookieOptions);
  // The device cookie is never needed on a cross-site navigation: Strict.
  const setDevice = (res: Response, value: string) =>
    res.cookie(names.device, value, { ...cookieOptions, sameSite: 'strict', maxAge: config.DEVICE_COOKIE_TTL_S * 1000 });
  const deviceOf = (req: Request) => (req.cookies as Record<string, string> | undefined)?.[names.device];

  return [
    {
      method: 'post', path: '/signup', summary: 'Start a signup: mails a 6-digit code (same answer for every email).', body: S.SignupBody,
      responses: { 202: { description: 'Accepted', schema: S.MessageResponse }, 400: invalid, 403: forbidden, 413: tooLarge, 415: unsupported, 429: limited, 503: down },
      handler: async (req, res) => {
        const { email } = S.SignupBody.parse(req.body);
        res.status(202).json({ message: await signup.requestCode(email, res.locals.ctx, 'signup_requested') });
      },
    },
    {
      method: 'post', path: '/resend', summary: 'Ask for a new code (at most one per cooldown; same answer always).', body: S.ResendBody,
      responses: { 202: { description: 'Accepted', schema: S.MessageResponse }, 400: invalid, 403: forbidden, 413: tooLarge, 415: unsupported, 429: limited, 503: down },
      handler: async (req, res) => {
        const { email } = S.ResendBody.parse(req.body);
        res.status(202).json({ message: await signup.requestCode(email, res.locals.ctx, 'resend_requested') });
      },
    },
    {
      method: 'post', path: '/verify', summary: 'Verify the code, set name and password; creates the account and a session.', body: S.VerifyBody,
      responses: {
        201: { description: 'Account created; auth_token cookie set', schema: S.UserResponse },
        400: err('INVALID_CODE (with attemptsLeft), CODE_EXPIRED, WEAK_PASSWORD, VALIDATION_FAILED'),
        403: forbidden, 409: err('EMAIL_TAKEN, or ALREADY_VERIFIED for a retried code that already created the account'), 413: tooLarge, 415: unsupported, 429: err('TOO_MANY_ATTEMPTS or RATE_LIMITED'), 503: down,
      },
      handler: async (req, res) => {
        const body = S.VerifyBody.parse(req.body);
        const { user, session } = await signup.verify(body, res.locals.ctx);
        setSession(res, session);
        // The device that verified the signup is the owner's: trusted from its first sign-in on.
        setDevice(res, signin.deviceCookieFor(body.email));
        res.status(201).json({ message: 'Your email is verified and your account is ready.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/signin', summary: 'Sign in with email and password.', body: S.SigninBody,
      responses: { 200: { description: 'Signed in; auth_token cookie set', schema: S.UserResponse }, 400: invalid, 401: err('INVALID_CREDENTIALS'), 403: forbidden, 413: tooLarge, 415: unsupported, 429: limited, 503: down },
      handler: async (req, res) => {
        const body = S.SigninBody.parse(req.body);
        refuseTooLong('password', body.password);
        const { user, session, deviceCookie } = await signin.signin(body, res.locals.ctx, deviceOf(req));
        setSession(res, session);
        setDevice(res, deviceCookie);
        res.status(200).json({ message: 'Signed in.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/password/forgot', summary: 'Ask for a password reset code (same answer for every email; one code per cooldown).', body: S.ForgotPasswordBody,
      responses: { 202: { description: 'Accepted', schema: S.MessageResponse }, 400: invalid, 403: forbidden, 413: tooLarge, 415: unsupported, 429: limited, 503: down },
      handler: async (req, res) => {
        const { email } = S.ForgotPasswordBody.parse(req.body);
        res.status(202).json({ message: await password.forgot(email, res.locals.ctx) });
      },
    },
    {
      method: 'post', path: '/password/reset', summary: 'Set a new password with the emailed code; revokes every session and starts a fresh one.', body: S.ResetPasswordBody,
      responses: {
        200: { description: 'Password changed; every other session revoked; auth_token cookie set', schema: S.UserResponse },
        400: err('INVALID_CODE (with attemptsLeft), WEAK_PASSWORD (message says why), VALIDATION_FAILED'),
        403: forbidden, 409: err('PASSWORD_ALREADY_RESET: a retried code that already reset the password'), 410: err('CODE_EXPIRED: ask for a new code'),
        413: tooLarge, 415: unsupported, 429: err('TOO_MANY_ATTEMPTS or RATE_LIMITED'), 503: down,
      },
      handler: async (req, res) => {
        const body = S.ResetPasswordBody.parse(req.body);
        const { user, session } = await password.reset(body, res.locals.ctx);
        setSession(res, session);
        // Proving the mailbox is proving the account, as at signup: this device is trusted.
        setDevice(res, signin.deviceCookieFor(body.email));
        res.status(200).json({ message: 'Your password was changed. Every other session was signed out.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/password/change', summary: 'Change the password of the signed-in user; every other session is revoked.', body: S.ChangePasswordBody, auth: true,
      responses: {
        204: { description: 'Changed; other sessions revoked; a notice is mailed' },
        400: err('INVALID_CURRENT_PASSWORD, WEAK_PASSWORD (message says why), VALIDATION_FAILED'),
        401: unauth, 403: forbidden, 413: tooLarge, 415: unsupported, 429: err('RATE_LIMITED: wrong current passwords count against the sign-in limits'), 503: down,
      },
      handler: async (req, res, auth) => {
        const body = S.ChangePasswordBody.parse(req.body);
        refuseTooLong('currentPassword', body.currentPassword);
        await password.change(body, auth!, res.locals.ctx);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/email/change', summary: 'Ask to move the account to a new address: a code goes there (same answer when the address is taken).', body: S.ChangeEmailBody, auth: true,
      responses: {
        202: { description: 'Accepted', schema: S.MessageResponse },
        400: err('INVALID_CURRENT_PASSWORD, VALIDATION_FAILED'), 401: unauth, 403: forbidden, 413: tooLarge, 415: unsupported,
        429: err('RATE_LIMITED: wrong passwords count against the sign-in limits'), 503: down,
      },
      handler: async (req, res, auth) => {
        const body = S.ChangeEmailBody.parse(req.body);
        refuseTooLong('password', body.password);
        res.status(202).json({ message: await email.change(body, auth!, res.locals.ctx) });
      },
    },
    {
      method: 'post', path: '/email/verify', summary: 'Confirm the new address with its code; other sessions are revoked and this one renewed.', body: S.VerifyEmailBody, auth: true,
      responses: {
        200: { description: 'The account has the new address; auth_token cookie renewed', schema: S.UserResponse },
        400: err('INVALID_CODE (with attemptsLeft), CODE_EXPIRED (also when no change is pending), VALIDATION_FAILED'),
        401: unauth, 403: forbidden, 409: err('EMAIL_TAKEN: another account took the address meanwhile'), 413: tooLarge, 415: unsupported,
        429: err('TOO_MANY_ATTEMPTS or RATE_LIMITED'), 503: down,
      },
      handler: async (req, res, auth) => {
        const { code } = S.VerifyEmailBody.parse(req.body);
        const { user, session } = await email.verify(code, auth!, res.locals.ctx);
        setSession(res, session);
        res.status(200).json({ message: 'Your email address was changed. The old address can undo it for 72 hours.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/email/undo', summary: 'Undo an email change with the link mailed to the old address; every session is revoked.', body: S.UndoEmailBody,
      responses: { 200: { description: 'The old address is back; every session revoked', schema: S.MessageResponse }, 400: err('INVALID_TOKEN, VALIDATION_FAILED'), 403: forbidden, 413: tooLarge, 415: unsupported, 429: limited, 503: down },
      handler: async (req, res) => {
        const { token } = S.UndoEmailBody.parse(req.body);
        await email.undo(token, res.locals.ctx);
        clearSession(res);
        res.status(200).json({ message: 'The change was undone: your account has its previous email again. Every session was signed out; sign in again.' });
      },
    },
    {
      method: 'get', path: '/me', summary: 'Who am I (from the session, no database hop).', auth: true,
      responses: { 200: { description: 'The signed-in user', schema: S.MeResponse }, 401: unauth, 503: down },
      handler: async (_req, res, auth) => {
        res.status(200).json({ user: auth!.profile });
      },
    },
    {
      method: 'post', path: '/logout', summary: 'Revoke the current session and clear the cookie (idempotent). No body, an empty body or {}.', body: S.EmptyBody, bodyOptional: true,
      responses: { 204: { description: 'Logged out' }, 400: invalid, 403: forbidden, 413: tooLarge, 415: unsupported, 503: down },
      handler: async (req, res) => {
        S.EmptyBody.parse(req.body ?? {});
        await signin.logout(await optionalAuth(req, deps), res.locals.ctx);
        clearSession(res);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/logout-all', summary: 'Revoke every session of the signed-in user. No body, an empty body or {}.', body: S.EmptyBody, bodyOptional: true, auth: true,
      responses: { 204: { description: 'All sessions revoked' }, 400: invalid, 401: unauth, 403: forbidden, 413: tooLarge, 415: unsupported, 503: down },
      handler: async (req, res, auth) => {
        S.EmptyBody.parse(req.body ?? {});
        await signin.logoutAll(auth!, res.locals.ctx);
        clearSession(res);
        res.status(204).end();
      },
    },
    {
      method: 'get', path: '/sessions', summary: "The signed-in user's active sessions.", auth: true,
      responses: { 200: { description: 'Sessions, newest first', schema: S.SessionsResponse }, 401: unauth, 503: down },
      handler: async (_req, res, auth) => {
        res.status(200).json({ sessions: await signin.listSessions(auth!) });
      },
    },
    {
      method: 'delete', path: '/sessions/:id', summary: 'Revoke one of your own sessions.', params: S.SessionIdParams, auth: true,
      responses: { 204: { description: 'Revoked' }, 400: invalid, 401: unauth, 403: forbidden, 404: err('SESSION_NOT_FOUND'), 503: down },
      handler: async (req, res, auth) => {
        const { id } = S.SessionIdParams.parse(req.params);
        await signin.revokeSession(auth!, id, res.locals.ctx);
        if (id === auth!.sid) clearSession(res);
        res.status(204).end();
      },
    },
  ];
}

function tokenOf(req: Request, cookieName: string): string | undefined {
  const cookie = (req.cookies as Record<string, string> | undefined)?.[cookieName];
  if (cookie) return cookie;
  const header = req.get('authorization');
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/** The session behind the request's token, if the token is ours and the session still exists. */
async function optionalAuth(req: Request, deps: AuthDeps): Promise<Auth | undefined> {
  const token = tokenOf(req, deps.sessionCookie);
  if (!token || token.length > 4096) return undefined;
  const claims = verifySessionToken(deps.tokens, token);
  if (!claims) return undefined;
  const session = await deps.sessions.load(claims.sid);
  if (!session || session.uid !== claims.sub) return undefined;
  return { uid: session.uid, sid: claims.sid, profile: session.profile };
}

/** Mounts a spec as an Express handler: authentication first when the route needs it. */
export function toHandler(spec: RouteSpec, deps: AuthDeps): RequestHandler {
  return async (req, res) => {
    const auth = spec.auth ? await optionalAuth(req, deps) : undefined;
    if (spec.auth && !auth) throw new AppError('UNAUTHENTICATED');
    await spec.handler(req, res, auth);
  };
}

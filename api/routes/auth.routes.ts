import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Config } from '../../common/config';
import { AppError, type ErrorCode } from '../../common/errors';
import * as S from '../schemas';
import { authenticate, type Auth, type AuthDeps } from '../http/auth';
import { cookiePolicy } from '../http/cookies';
import type { AccessTokens } from '../tokens/access-token';
import type { MfaMethod } from '../mfa/mfa.use-case';
import type { ClosureUseCases } from '../use-cases/closure.use-case';
import type { EmailUseCases } from '../use-cases/email.use-case';
import type { PasswordUseCases } from '../use-cases/password.use-case';
import type { SessionUseCases } from '../use-cases/sessions.use-case';
import type { SigninUseCases } from '../use-cases/signin.use-case';
import type { SignupUseCases } from '../use-cases/signup.use-case';

/** A response a route answers on success: its body schema (none: no body), headers and OpenAPI links. */
export interface SuccessResponse {
  description: string;
  schema?: z.ZodType;
  /** Response headers, by name: whether every such answer carries it, and what it is. */
  headers?: Record<string, { required: boolean; description: string }>;
  /** OpenAPI links to the operations a client calls next (the fuzzer's stateful phase follows them). */
  links?: Record<string, { operationId: string; parameters?: Record<string, string>; requestBody?: unknown; description?: string }>;
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
  /**
   * `partial`: the route is the second step of a sign-in and takes only a partial session (a full
   * one, or none, is 401 UNAUTHENTICATED). Every other `auth` route refuses a partial session with
   * 401 MFA_REQUIRED.
   */
  session?: 'partial';
  /** A sensitive action: 401 REAUTH_REQUIRED unless the session authenticated within REAUTH_WINDOW_S. */
  recentAuth?: boolean;
  /** The success answers. Error answers come from `errors` and from the route's shape (see openapi.ts). */
  responses: Record<number, SuccessResponse>;
  /** The error codes the use-case behind the route can answer, beyond those its shape implies. */
  errors?: ErrorCode[];
  handler: (req: Request, res: Response, auth: Auth | undefined) => Promise<void>;
}

/** Operation ids used by links: the method and the path, e.g. `postSignup`, `deleteSessionsId`. */
export function operationId(spec: Pick<RouteSpec, 'method' | 'path'>): string {
  const words = spec.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return spec.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const sessionCookieSet = { 'Set-Cookie': { required: true, description: 'The session cookie (`auth_token`, HttpOnly, SameSite=Lax) and the device cookie (`auth_device`, SameSite=Strict).' } };
const sessionCookieCleared = { 'Set-Cookie': { required: true, description: 'Clears the session cookie.' } };
const sameEmail = { email: '$request.body#/email' };
/** The answer of a password step (sign-in, reset) for an account with a second factor. */
export const mfaRequired = (methods: MfaMethod[]) => ({
  mfaRequired: true as const,
  methods,
  message: methods.includes('totp') ? 'Enter the code from your authenticator app, or a recovery code.' : 'Use your passkey to finish signing in.',
});

export function authRoutes(deps: { signup: SignupUseCases; signin: SigninUseCases; password: PasswordUseCases; email: EmailUseCases; closure: ClosureUseCases; sessionUseCases: SessionUseCases; accessTokens: AccessTokens; config: Config } & AuthDeps): RouteSpec[] {
  const { signup, signin, password, email, closure, sessionUseCases, accessTokens, config } = deps;
  const { setSession, clearSession, setDevice, deviceOf } = cookiePolicy(config);

  return [
    {
      method: 'post', path: '/signup', summary: 'Start a signup: mails a 6-digit code (same answer for every email).', body: S.SignupBody,
      responses: {
        202: { description: 'Accepted', schema: S.MessageResponse, links: { verify: { operationId: 'postVerify', requestBody: sameEmail }, resend: { operationId: 'postResend', requestBody: sameEmail } } },
      },
      errors: ['RATE_LIMITED'],
      handler: async (req, res) => {
        const { email } = S.SignupBody.parse(req.body);
        res.status(202).json({ message: await signup.requestCode(email, res.locals.ctx, 'signup_requested') });
      },
    },
    {
      method: 'post', path: '/resend', summary: 'Ask for a new code (at most one per cooldown; same answer always).', body: S.ResendBody,
      responses: { 202: { description: 'Accepted', schema: S.MessageResponse, links: { verify: { operationId: 'postVerify', requestBody: sameEmail } } } },
      errors: ['RATE_LIMITED'],
      handler: async (req, res) => {
        const { email } = S.ResendBody.parse(req.body);
        res.status(202).json({ message: await signup.requestCode(email, res.locals.ctx, 'resend_requested') });
      },
    },
    {
      method: 'post', path: '/verify', summary: 'Verify the code, set name and password; creates the account and a session.', body: S.VerifyBody,
      responses: {
        201: {
          description: 'Account created; auth_token cookie set', schema: S.UserResponse, headers: sessionCookieSet,
          links: {
            me: { operationId: 'getMe' },
            signin: { operationId: 'postSignin', requestBody: { email: '$request.body#/email', password: '$request.body#/password' } },
          },
        },
      },
      // INVALID_CODE carries attemptsLeft; ALREADY_VERIFIED answers a retried code that already created the account.
      errors: ['INVALID_CODE', 'CODE_EXPIRED', 'WEAK_PASSWORD', 'EMAIL_TAKEN', 'ALREADY_VERIFIED', 'TOO_MANY_ATTEMPTS', 'RATE_LIMITED'],
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
      responses: {
        200: {
          description: 'Signed in (UserResponse; auth_token cookie set), or, for an account with a second factor, the password was right (MfaRequiredResponse; auth_token holds a partial session for POST /signin/mfa)',
          schema: S.SigninResponse, headers: sessionCookieSet,
          links: { me: { operationId: 'getMe' }, sessions: { operationId: 'getSessions' }, mfa: { operationId: 'postSigninMfa' } },
        },
      },
      errors: ['INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', 'RATE_LIMITED'],
      handler: async (req, res) => {
        const body = S.SigninBody.parse(req.body);
        const result = await signin.signin(body, res.locals.ctx, deviceOf(req));
        setSession(res, result.session);
        if (result.mfaRequired) {
          res.status(200).json(mfaRequired(result.methods));
          return;
        }
        setDevice(res, result.deviceCookie);
        const { user } = result;
        res.status(200).json({ message: 'Signed in.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/password/forgot', summary: 'Ask for a password reset code (same answer for every email; one code per cooldown).', body: S.ForgotPasswordBody,
      responses: {
        202: { description: 'Accepted', schema: S.MessageResponse, links: { reset: { operationId: 'postPasswordReset', requestBody: sameEmail } } },
      },
      errors: ['RATE_LIMITED'],
      handler: async (req, res) => {
        const { email } = S.ForgotPasswordBody.parse(req.body);
        res.status(202).json({ message: await password.forgot(email, res.locals.ctx) });
      },
    },
    {
      method: 'post', path: '/password/reset', summary: 'Set a new password with the emailed code; revokes every session and starts a fresh one.', body: S.ResetPasswordBody,
      responses: {
        200: {
          description: 'Password changed; every other session revoked; auth_token cookie set. An account with a second factor gets MfaRequiredResponse and a partial session: the reset never skips the second factor.',
          schema: S.SigninResponse, headers: sessionCookieSet, links: { me: { operationId: 'getMe' }, mfa: { operationId: 'postSigninMfa' } },
        },
      },
      // INVALID_CODE carries attemptsLeft; PASSWORD_ALREADY_RESET answers a retried code that already reset the password.
      errors: ['INVALID_CODE', 'WEAK_PASSWORD', 'PASSWORD_ALREADY_RESET', 'CODE_EXPIRED', 'TOO_MANY_ATTEMPTS', 'ACCOUNT_LOCKED', 'RATE_LIMITED'],
      handler: async (req, res) => {
        const body = S.ResetPasswordBody.parse(req.body);
        const { user, session, mfaRequired: partial, methods } = await password.reset(body, res.locals.ctx);
        setSession(res, session);
        if (partial) {
          res.status(200).json({ ...mfaRequired(methods), message: 'Your password was changed and every other session was signed out. Enter your second factor to sign in.' });
          return;
        }
        // Proving the mailbox is proving the account, as at signup: this device is trusted.
        setDevice(res, signin.deviceCookieFor(body.email));
        res.status(200).json({ message: 'Your password was changed. Every other session was signed out.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/password/change', summary: 'Change the password of the signed-in user; every other session is revoked.', body: S.ChangePasswordBody, auth: true, recentAuth: true,
      responses: { 204: { description: 'Changed; other sessions revoked; a notice is mailed' } },
      // Wrong current passwords count against the sign-in limits (RATE_LIMITED).
      errors: ['INVALID_CURRENT_PASSWORD', 'WEAK_PASSWORD', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const body = S.ChangePasswordBody.parse(req.body);
        await password.change(body, auth!, res.locals.ctx);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/email/change', summary: 'Ask to move the account to a new address: a code goes there (same answer when the address is taken).', body: S.ChangeEmailBody, auth: true, recentAuth: true,
      responses: { 202: { description: 'Accepted', schema: S.MessageResponse, links: { verify: { operationId: 'postEmailVerify' } } } },
      // Wrong passwords count against the sign-in limits (RATE_LIMITED).
      errors: ['INVALID_CURRENT_PASSWORD', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const body = S.ChangeEmailBody.parse(req.body);
        res.status(202).json({ message: await email.change(body, auth!, res.locals.ctx) });
      },
    },
    {
      method: 'post', path: '/email/verify', summary: 'Confirm the new address with its code; other sessions are revoked and this one renewed.', body: S.VerifyEmailBody, auth: true,
      responses: { 200: { description: 'The account has the new address; auth_token cookie renewed', schema: S.UserResponse, headers: sessionCookieSet } },
      // CODE_EXPIRED also when no change is pending; EMAIL_TAKEN when another account took the address meanwhile.
      errors: ['INVALID_CODE', 'CODE_EXPIRED', 'EMAIL_TAKEN', 'TOO_MANY_ATTEMPTS', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const { code } = S.VerifyEmailBody.parse(req.body);
        const { user, session } = await email.verify(code, auth!, res.locals.ctx);
        setSession(res, session);
        res.status(200).json({ message: 'Your email address was changed. The old address can undo it for 72 hours.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/email/undo', summary: 'Undo an email change with the link mailed to the old address; every session is revoked.', body: S.UndoEmailBody,
      responses: { 200: { description: 'The old address is back; every session revoked', schema: S.MessageResponse, headers: sessionCookieCleared } },
      errors: ['INVALID_TOKEN', 'RATE_LIMITED'],
      handler: async (req, res) => {
        const { token } = S.UndoEmailBody.parse(req.body);
        await email.undo(token, res.locals.ctx);
        clearSession(res);
        res.status(200).json({ message: 'The change was undone: your account has its previous email again. Every session was signed out; sign in again.' });
      },
    },
    {
      method: 'get', path: '/me', summary: 'Who am I (from the session, no database hop).', auth: true,
      responses: { 200: { description: 'The signed-in user', schema: S.MeResponse, links: { sessions: { operationId: 'getSessions' } } } },
      handler: async (_req, res, auth) => {
        res.status(200).json({ user: auth!.profile });
      },
    },
    {
      method: 'delete', path: '/me', summary: 'Close the account: every session ends now; after the grace period (7 days) its personal data is erased. A mailed link restores it until then.', body: S.CloseAccountBody, auth: true, recentAuth: true,
      responses: { 202: { description: 'Closed; every session revoked; the restore link is mailed', schema: S.MessageResponse, headers: sessionCookieCleared } },
      // Wrong passwords count against the sign-in limits (RATE_LIMITED).
      errors: ['INVALID_CURRENT_PASSWORD', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const { password: current } = S.CloseAccountBody.parse(req.body);
        const message = await closure.close(current, auth!, res.locals.ctx);
        clearSession(res);
        res.status(202).json({ message });
      },
    },
    {
      method: 'post', path: '/me/restore', summary: 'Restore a closed account with the link mailed at closure, within its grace period.', body: S.RestoreAccountBody,
      responses: { 200: { description: 'The account is open again (sign in to get a session)', schema: S.MessageResponse } },
      errors: ['INVALID_TOKEN', 'RATE_LIMITED'],
      handler: async (req, res) => {
        const { token } = S.RestoreAccountBody.parse(req.body);
        res.status(200).json({ message: await closure.restore(token, res.locals.ctx) });
      },
    },
    {
      method: 'post', path: '/logout', summary: 'Revoke the current session and clear the cookie (idempotent). No body, an empty body or {}.', body: S.EmptyBody, bodyOptional: true,
      responses: { 204: { description: 'Logged out', headers: sessionCookieCleared } },
      handler: async (req, res) => {
        S.EmptyBody.parse(req.body ?? {});
        await sessionUseCases.logout(await authenticate(req, deps), res.locals.ctx);
        clearSession(res);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/logout-all', summary: 'Revoke every session of the signed-in user. No body, an empty body or {}.', body: S.EmptyBody, bodyOptional: true, auth: true,
      responses: { 204: { description: 'All sessions revoked', headers: sessionCookieCleared } },
      handler: async (req, res, auth) => {
        S.EmptyBody.parse(req.body ?? {});
        await sessionUseCases.logoutEverywhere(auth!, res.locals.ctx);
        clearSession(res);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/token', summary: "An access token for one of the broker's services (ES256 JWT, verified with /.well-known/jwks.json), for the signed-in session.", body: S.documentedTokenBody(config.ACCESS_TOKEN_AUDIENCES), auth: true,
      responses: { 200: { description: 'A token for that audience; none once the session has ended (401)', schema: S.TokenResponse } },
      // A token for a step-up audience (trading) moves money: a sensitive action like a password change.
      errors: ['UNKNOWN_AUDIENCE', 'REAUTH_REQUIRED'],
      handler: async (req, res, auth) => {
        const { audience } = S.TokenBody.parse(req.body);
        if (config.ACCESS_TOKEN_STEP_UP_AUDIENCES.includes(audience) && !(Date.now() - auth!.session.authTime <= config.REAUTH_WINDOW_S * 1000)) throw new AppError('REAUTH_REQUIRED');
        res.status(200).json(accessTokens.mint(auth!, audience, res.locals.ctx));
      },
    },
    {
      method: 'get', path: '/sessions', summary: "The signed-in user's active sessions.", auth: true,
      responses: {
        200: { description: 'Sessions, newest first', schema: S.SessionsResponse, links: { revoke: { operationId: 'deleteSessionsId', parameters: { id: '$response.body#/sessions/0/id' } } } },
      },
      handler: async (_req, res, auth) => {
        res.status(200).json({ sessions: await sessionUseCases.list(auth!) });
      },
    },
    {
      method: 'delete', path: '/sessions/:id', summary: 'Revoke one of your own sessions.', params: S.SessionIdParams, auth: true,
      responses: { 204: { description: 'Revoked (the session cookie is cleared when it was this session)' } },
      errors: ['SESSION_NOT_FOUND'],
      handler: async (req, res, auth) => {
        const { id } = S.SessionIdParams.parse(req.params);
        await sessionUseCases.revoke(auth!, id, res.locals.ctx);
        if (id === auth!.sid) clearSession(res);
        res.status(204).end();
      },
    },
  ];
}

/**
 * Mounts a spec as an Express handler: authentication first when the route needs it, then the
 * session's stage (a partial session reaches only the second step) and, for a sensitive action,
 * how recently it authenticated.
 */
export function toHandler(spec: RouteSpec, deps: AuthDeps & { reauthWindowMs: number }): RequestHandler {
  return async (req, res) => {
    const auth = spec.auth ? await authenticate(req, deps) : undefined;
    if (spec.auth && !auth) throw new AppError('UNAUTHENTICATED');
    if (auth && auth.session.partial !== (spec.session === 'partial')) throw new AppError(auth.session.partial ? 'MFA_REQUIRED' : 'UNAUTHENTICATED');
    if (auth && spec.recentAuth && !(Date.now() - auth.session.authTime <= deps.reauthWindowMs)) throw new AppError('REAUTH_REQUIRED');
    if (auth) res.locals.ctx.audit = { ...res.locals.ctx.audit, userId: auth.uid };
    await spec.handler(req, res, auth);
  };
}

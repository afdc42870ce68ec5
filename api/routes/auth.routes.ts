import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Config } from '../../common/config';
import { AppError } from '../../common/errors';
import * as S from '../schemas';
import { MAX_BYTES, tooLongForBcrypt } from '../security/password-policy';
import { authenticate, type Auth, type AuthDeps } from '../http/auth';
import { cookiePolicy } from '../http/cookies';
import type { SessionUseCases } from '../use-cases/sessions.use-case';
import type { SigninUseCases } from '../use-cases/signin.use-case';
import type { SignupUseCases } from '../use-cases/signup.use-case';

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

export function authRoutes(deps: { signup: SignupUseCases; signin: SigninUseCases; sessionUseCases: SessionUseCases; config: Config } & AuthDeps): RouteSpec[] {
  const { signup, signin, sessionUseCases, config } = deps;
  const { setSession, clearSession, setDevice, deviceOf } = cookiePolicy(config);

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
        if (tooLongForBcrypt(body.password)) {
          throw new AppError('VALIDATION_FAILED', `The password is longer than ${MAX_BYTES} bytes.`, { errors: [{ path: 'password', message: `at most ${MAX_BYTES} bytes` }] });
        }
        const { user, session, deviceCookie } = await signin.signin(body, res.locals.ctx, deviceOf(req));
        setSession(res, session);
        setDevice(res, deviceCookie);
        res.status(200).json({ message: 'Signed in.', user: { id: user.id, email: user.email, name: user.name } });
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
        await sessionUseCases.logout(await authenticate(req, deps), res.locals.ctx);
        clearSession(res);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/logout-all', summary: 'Revoke every session of the signed-in user. No body, an empty body or {}.', body: S.EmptyBody, bodyOptional: true, auth: true,
      responses: { 204: { description: 'All sessions revoked' }, 400: invalid, 401: unauth, 403: forbidden, 413: tooLarge, 415: unsupported, 503: down },
      handler: async (req, res, auth) => {
        S.EmptyBody.parse(req.body ?? {});
        await sessionUseCases.logoutEverywhere(auth!, res.locals.ctx);
        clearSession(res);
        res.status(204).end();
      },
    },
    {
      method: 'get', path: '/sessions', summary: "The signed-in user's active sessions.", auth: true,
      responses: { 200: { description: 'Sessions, newest first', schema: S.SessionsResponse }, 401: unauth, 503: down },
      handler: async (_req, res, auth) => {
        res.status(200).json({ sessions: await sessionUseCases.list(auth!) });
      },
    },
    {
      method: 'delete', path: '/sessions/:id', summary: 'Revoke one of your own sessions.', params: S.SessionIdParams, auth: true,
      responses: { 204: { description: 'Revoked' }, 400: invalid, 401: unauth, 403: forbidden, 404: err('SESSION_NOT_FOUND'), 503: down },
      handler: async (req, res, auth) => {
        const { id } = S.SessionIdParams.parse(req.params);
        await sessionUseCases.revoke(auth!, id, res.locals.ctx);
        if (id === auth!.sid) clearSession(res);
        res.status(204).end();
      },
    },
  ];
}

/** Mounts a spec as an Express handler: authentication first when the route needs it. */
export function toHandler(spec: RouteSpec, deps: AuthDeps): RequestHandler {
  return async (req, res) => {
    const auth = spec.auth ? await authenticate(req, deps) : undefined;
    if (spec.auth && !auth) throw new AppError('UNAUTHENTICATED');
    await spec.handler(req, res, auth);
  };
}

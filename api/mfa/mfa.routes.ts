import type { Config } from '../../common/config';
import * as S from '../schemas';
import { cookiePolicy } from '../http/cookies';
import type { RouteSpec } from '../routes/auth.routes';
import type { MfaUseCases } from './mfa.use-case';

/** The second factor's room: TOTP with recovery codes, the sign-in's second step, and re-authentication. */
export function mfaRoutes(deps: { mfa: MfaUseCases; config: Config }): RouteSpec[] {
  const { mfa, config } = deps;
  const { setSession, setDevice, deviceOf } = cookiePolicy(config);
  return [
    {
      method: 'get', path: '/mfa', summary: "The signed-in account's second factor: whether TOTP is on and how many recovery codes are left (for the account page).", auth: true,
      responses: { 200: { description: 'The second factor', schema: S.MfaStatusResponse } },
      handler: async (_req, res, auth) => {
        res.status(200).json(await mfa.status(auth!));
      },
    },
    {
      method: 'post', path: '/mfa/totp/setup', summary: 'Start adding an authenticator app: a new secret and its QR code. Nothing is active until POST /mfa/totp/enable. No body, an empty body or {}.',
      body: S.EmptyBody, bodyOptional: true, auth: true, recentAuth: true,
      responses: { 200: { description: 'The secret to scan or type; it waits 10 minutes to be enabled', schema: S.TotpSetupResponse, links: { enable: { operationId: 'postMfaTotpEnable' } } } },
      errors: ['MFA_ALREADY_ENABLED'],
      handler: async (req, res, auth) => {
        S.EmptyBody.parse(req.body ?? {});
        res.status(200).json(await mfa.setup(auth!, res.locals.ctx));
      },
    },
    {
      method: 'post', path: '/mfa/totp/enable', summary: 'Confirm the authenticator with its current code: the second factor is on; ten recovery codes are shown this once; a notice is mailed.',
      body: S.EnableTotpBody, auth: true, recentAuth: true,
      responses: { 200: { description: 'Enabled', schema: S.RecoveryCodesResponse } },
      // Wrong codes count against the account's second-factor budget (RATE_LIMITED).
      errors: ['INVALID_MFA_CODE', 'MFA_SETUP_EXPIRED', 'MFA_ALREADY_ENABLED', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const { code } = S.EnableTotpBody.parse(req.body);
        res.status(200).json(await mfa.enable(code, auth!, res.locals.ctx));
      },
    },
    {
      method: 'post', path: '/mfa/totp/disable', summary: 'Turn the second factor off with the password and a code (authenticator or recovery); a notice is mailed.',
      body: S.DisableTotpBody, auth: true, recentAuth: true,
      responses: { 204: { description: 'Disabled; the recovery codes are gone' } },
      errors: ['INVALID_CURRENT_PASSWORD', 'INVALID_MFA_CODE', 'MFA_NOT_ENABLED', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const body = S.DisableTotpBody.parse(req.body);
        await mfa.disable(body, auth!, res.locals.ctx);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/mfa/recovery-codes', summary: 'Ten new recovery codes; the old ones stop working; a notice is mailed. No body, an empty body or {}.',
      body: S.EmptyBody, bodyOptional: true, auth: true, recentAuth: true,
      responses: { 200: { description: 'The new codes, shown this once', schema: S.RecoveryCodesResponse } },
      errors: ['MFA_NOT_ENABLED'],
      handler: async (req, res, auth) => {
        S.EmptyBody.parse(req.body ?? {});
        res.status(200).json(await mfa.regenerate(auth!, res.locals.ctx));
      },
    },
    {
      method: 'post', path: '/signin/mfa', summary: 'The second step of a sign-in: the partial session from POST /signin (or /password/reset) and a code, or a recovery code, give the full session.',
      body: S.SigninMfaBody, auth: true, session: 'partial',
      responses: {
        200: {
          description: 'Signed in with both factors; auth_token cookie replaced by the full session',
          schema: S.UserResponse,
          headers: { 'Set-Cookie': { required: true, description: 'The session cookie (`auth_token`, HttpOnly, SameSite=Lax) and the device cookie (`auth_device`, SameSite=Strict).' } },
          links: { me: { operationId: 'getMe' } },
        },
      },
      errors: ['INVALID_MFA_CODE', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const body = S.SigninMfaBody.parse(req.body);
        const factor = 'code' in body ? { code: body.code } : { recoveryCode: body.recoveryCode };
        const { user, session, deviceCookie } = await mfa.completeSignin(factor, auth!, res.locals.ctx, deviceOf(req));
        setSession(res, session);
        setDevice(res, deviceCookie);
        res.status(200).json({ message: 'Signed in.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
    {
      method: 'post', path: '/reauth', summary: 'Prove it is you again (password, and the code when a second factor is on): sensitive actions are open for 10 minutes.',
      body: S.ReauthBody, auth: true,
      responses: { 204: { description: 'The session is recently authenticated' } },
      errors: ['INVALID_CURRENT_PASSWORD', 'INVALID_MFA_CODE', 'RATE_LIMITED'],
      handler: async (req, res, auth) => {
        const body = S.ReauthBody.parse(req.body);
        await mfa.reauth(body, auth!, res.locals.ctx);
        res.status(204).end();
      },
    },
  ];
}

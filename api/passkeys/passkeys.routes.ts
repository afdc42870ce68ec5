import type { Config } from '../../common/config';
import * as S from '../schemas';
import { authenticate, type AuthDeps } from '../http/auth';
import { cookiePolicy } from '../http/cookies';
import type { RouteSpec } from '../routes/auth.routes';
import type { PasskeyUseCases } from './passkeys.use-case';

const signedIn = { 'Set-Cookie': { required: true, description: 'The session cookie (`auth_token`, HttpOnly, SameSite=Lax) and the device cookie (`auth_device`, SameSite=Strict).' } };

/** Passkeys' room: registration and removal (sensitive), the list, and sign-in with one (second step or alone). */
export function passkeyRoutes(deps: { passkeys: PasskeyUseCases; config: Config } & AuthDeps): RouteSpec[] {
  const { passkeys, config } = deps;
  const { setSession, setDevice, deviceOf } = cookiePolicy(config);
  return [
    {
      method: 'get', path: '/passkeys', summary: "The signed-in account's passkeys, oldest first.", auth: true,
      responses: { 200: { description: 'The passkeys', schema: S.PasskeysResponse, links: { remove: { operationId: 'deletePasskeysId', parameters: { id: '$response.body#/passkeys/0/id' } } } } },
      handler: async (_req, res, auth) => {
        res.status(200).json({ passkeys: await passkeys.list(auth!) });
      },
    },
    {
      method: 'post', path: '/passkeys/register/options', summary: 'Start adding a passkey: WebAuthn creation options (discoverable credential, attestation none). The challenge is good once, for 5 minutes, for this session. No body, an empty body or {}.',
      body: S.EmptyBody, bodyOptional: true, auth: true, recentAuth: true,
      responses: { 200: { description: 'Creation options for navigator.credentials.create', schema: S.PasskeyCreationOptions, links: { register: { operationId: 'postPasskeysRegister' } } } },
      handler: async (req, res, auth) => {
        S.EmptyBody.parse(req.body ?? {});
        res.status(200).json(await passkeys.registrationOptions(auth!));
      },
    },
    {
      method: 'post', path: '/passkeys/register', summary: "The authenticator's answer to the creation options: the passkey is stored; a notice is mailed.",
      body: S.PasskeyRegisterBody, auth: true, recentAuth: true,
      responses: { 201: { description: 'The new passkey', schema: S.PasskeyResponse } },
      // PASSKEY_INVALID also when the challenge expired, was used, or belongs to another session.
      errors: ['PASSKEY_INVALID', 'PASSKEY_EXISTS'],
      handler: async (req, res, auth) => {
        const body = S.PasskeyRegisterBody.parse(req.body);
        res.status(201).json({ passkey: await passkeys.register(body as Parameters<PasskeyUseCases['register']>[0], auth!, res.locals.ctx) });
      },
    },
    {
      method: 'delete', path: '/passkeys/:id', summary: 'Remove one of your passkeys; a notice is mailed.', params: S.PasskeyIdParams, auth: true, recentAuth: true,
      responses: { 204: { description: 'Removed' } },
      errors: ['PASSKEY_NOT_FOUND'],
      handler: async (req, res, auth) => {
        const { id } = S.PasskeyIdParams.parse(req.params);
        await passkeys.remove(id, auth!, res.locals.ctx);
        res.status(204).end();
      },
    },
    {
      method: 'post', path: '/passkeys/authenticate/options', summary: 'Start a sign-in with a passkey. With the partial session of POST /signin: its passkeys, as the second step. Without a session: no credentials listed (the browser offers its passkeys for this site; user verification required). No body, an empty body or {}.',
      body: S.EmptyBody, bodyOptional: true,
      responses: { 200: { description: 'Request options for navigator.credentials.get; the challenge is good once, for 5 minutes', schema: S.PasskeyRequestOptions, links: { authenticate: { operationId: 'postPasskeysAuthenticate' } } } },
      handler: async (req, res) => {
        S.EmptyBody.parse(req.body ?? {});
        res.status(200).json(await passkeys.authenticationOptions(await authenticate(req, deps)));
      },
    },
    {
      method: 'post', path: '/passkeys/authenticate', summary: "The authenticator's signed answer: the full session (amr `pwd swk` after a password, `swk mfa` for a passkey alone).",
      body: S.PasskeyAuthenticateBody,
      responses: { 200: { description: 'Signed in; auth_token cookie set', schema: S.UserResponse, headers: signedIn, links: { me: { operationId: 'getMe' } } } },
      // A replayed or unknown challenge, a wrong origin, a bad signature or a counter that went back: PASSKEY_INVALID.
      errors: ['PASSKEY_INVALID', 'ACCOUNT_LOCKED', 'RATE_LIMITED'],
      handler: async (req, res) => {
        const { response } = S.PasskeyAuthenticateBody.parse(req.body);
        const { user, session, deviceCookie } = await passkeys.authenticate(response as Parameters<PasskeyUseCases['authenticate']>[0], await authenticate(req, deps), res.locals.ctx, deviceOf(req));
        setSession(res, session);
        setDevice(res, deviceCookie);
        res.status(200).json({ message: 'Signed in.', user: { id: user.id, email: user.email, name: user.name } });
      },
    },
  ];
}

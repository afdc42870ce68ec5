/**
 * The one module that talks to the auth API: it alone knows the paths, sends the session cookie
 * (`credentials: 'include'`) and turns every failure into an {@link ApiError} with a message a person can act on.
 *
 * The session itself lives only in the API's HttpOnly `auth_token` cookie; nothing is kept in localStorage.
 * That cookie is SameSite=Lax, so the page and the API must be on the same site (same host name; the port may differ):
 * a page on http://127.0.0.1:3000 talks to http://127.0.0.1:3001, one on http://localhost:3000 to http://localhost:3001.
 */

import createClient from 'openapi-fetch';
import { API_ERROR_CODES, type components, type paths } from './api-types.generated';

declare global {
  interface Window {
    /** Runtime override of the API base URL (tests inject it with an init script). */
    __API_URL__?: string;
  }
}

type Schemas = components['schemas'];
export type User = Schemas['User'];
export type Me = Schemas['Me'];
export type Session = Schemas['Session'];
export type MfaStatus = Schemas['MfaStatusResponse'];
export type TotpSetup = Schemas['TotpSetupResponse'];
export type Passkey = Schemas['Passkey'];
export type MfaMethod = Schemas['MfaMethod'];

/** The answer of a password step (sign-in, reset) for an account with a second factor: the partial session is in the cookie. */
export function needsSecondFactor(answer: unknown): boolean {
  return typeof answer === 'object' && answer !== null && (answer as { mfaRequired?: unknown }).mfaRequired === true;
}

/**
 * Where a password step goes next: the account, or the second step; an account with a passkey
 * names its factors (`?methods=passkey`), one with TOTP alone gets the page's default (app code or recovery code).
 */
export function afterPasswordStep(answer: unknown): string {
  if (!needsSecondFactor(answer)) return '/account';
  const methods = (answer as { methods?: unknown }).methods;
  return Array.isArray(methods) && methods.includes('passkey') ? `/signin/mfa?methods=${encodeURIComponent(methods.join(','))}` : '/signin/mfa';
}

export interface FieldError {
  /** The field the message is about (`email`, `otp`, `password`, `name`, `currentPassword`, …), or '' for the whole request. */
  field: string;
  message: string;
}

/**
 * The API's error codes (generated from its OpenAPI document, so a new code reaches this type by
 * `npm run openapi:web`), plus NETWORK (no answer) and UNKNOWN (an answer this client does not understand).
 */
export type ApiErrorCode = Schemas['ErrorResponse']['code'] | 'NETWORK' | 'UNKNOWN';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  readonly attemptsLeft?: number;
  readonly retryAfterSeconds?: number;
  /** Per-field messages of a VALIDATION_FAILED answer. */
  readonly fieldErrors: FieldError[];

  constructor(init: {
    code: ApiErrorCode;
    message: string;
    status: number;
    attemptsLeft?: number;
    retryAfterSeconds?: number;
    fieldErrors?: FieldError[];
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.attemptsLeft = init.attemptsLeft;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.fieldErrors = init.fieldErrors ?? [];
  }
}

export const NETWORK_MESSAGE = "Can't reach the server. Check your connection and try again.";
const TIMEOUT_MESSAGE = 'The server took too long to answer. Check your connection and try again.';
const REQUEST_TIMEOUT_MS = 15_000;

/** Base URL of the auth API, e.g. `http://127.0.0.1:3001/api/v1/auth` (no trailing slash). */
export function apiBaseUrl(): string {
  if (typeof window !== 'undefined' && typeof window.__API_URL__ === 'string' && window.__API_URL__ !== '') {
    return trimSlash(window.__API_URL__);
  }
  const fromBuild = process.env.NEXT_PUBLIC_API_URL;
  if (fromBuild) return trimSlash(fromBuild);
  if (typeof window === 'undefined') {
    throw new Error('The API base URL is computed in the browser; set NEXT_PUBLIC_API_URL to use the client elsewhere.');
  }
  const port = process.env.NEXT_PUBLIC_API_PORT || '3001';
  return `${window.location.protocol}//${window.location.hostname}:${port}/api/v1/auth`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The message shown to a person for an error answer. `serverMessage` is used where it explains more than we can. */
export function humanMessage(
  code: ApiErrorCode,
  details: { serverMessage?: string; attemptsLeft?: number; retryAfterSeconds?: number; fieldErrors?: FieldError[]; status?: number } = {},
): string {
  switch (code) {
    case 'INVALID_CODE':
      return typeof details.attemptsLeft === 'number'
        ? `That code is wrong. ${plural(details.attemptsLeft, 'attempt', 'attempts')} left.`
        : 'That code is wrong.';
    case 'TOO_MANY_ATTEMPTS':
      return 'Too many wrong codes. Request a new code.';
    case 'CODE_EXPIRED':
      return 'That code has expired. Request a new one.';
    case 'RATE_LIMITED':
      return typeof details.retryAfterSeconds === 'number'
        ? `Too many attempts. Try again in ${details.retryAfterSeconds} s.`
        : 'Too many attempts. Try again in a moment.';
    case 'WEAK_PASSWORD':
      return details.serverMessage || 'That password is too easy to guess. Choose a longer, less common one.';
    case 'VALIDATION_FAILED': {
      const fields = details.fieldErrors ?? [];
      if (fields.length === 0) return details.serverMessage || 'Some fields are not valid. Check them and try again.';
      return fields.map(summarise).join(' ');
    }
    case 'INVALID_CREDENTIALS':
      return 'Email or password is wrong.';
    case 'ALREADY_VERIFIED':
      return 'Your email is already verified and your account is ready. Sign in.';
    case 'EMAIL_TAKEN':
      return 'An account with this email already exists. Sign in instead.';
    case 'UNAUTHENTICATED':
      return 'You are signed out. Sign in to continue.';
    case 'UNAVAILABLE':
      return 'The service is temporarily unavailable. Try again shortly.';
    case 'FORBIDDEN_ORIGIN':
      return 'This page is not allowed to talk to the server. Open the app from its usual address.';
    case 'SESSION_NOT_FOUND':
      return 'That session has already ended.';
    case 'NOT_FOUND':
      return 'That was not found. It may already be gone.';
    case 'INVALID_CURRENT_PASSWORD':
      return 'Your current password is wrong.';
    case 'INVALID_TOKEN':
      return 'This link is not valid or has expired. It may have been used already.';
    case 'PASSWORD_ALREADY_RESET':
      return 'This code already reset your password. Sign in with the new password.';
    case 'INVALID_MFA_CODE':
      return details.serverMessage && details.serverMessage !== 'The authentication code is not valid.'
        ? details.serverMessage
        : 'That code is wrong. Check your authenticator app (or the recovery code) and try again.';
    case 'MFA_REQUIRED':
      return 'Enter the code from your authenticator app to finish signing in.';
    case 'REAUTH_REQUIRED':
      return 'For your security, confirm it is you before this change.';
    case 'MFA_ALREADY_ENABLED':
      return 'Two-step sign-in is already on.';
    case 'MFA_NOT_ENABLED':
      return 'Two-step sign-in is not on.';
    case 'MFA_SETUP_EXPIRED':
      return 'The setup took too long. Start it again.';
    case 'PASSKEY_INVALID':
      return 'That passkey could not be verified. Try again.';
    case 'PASSKEY_NOT_FOUND':
      return 'That passkey is already gone.';
    case 'PASSKEY_EXISTS':
      return 'This passkey is already registered.';
    case 'NETWORK':
      return NETWORK_MESSAGE;
    default:
      return details.status && details.status >= 500
        ? 'Something went wrong on our side. Try again shortly.'
        : details.serverMessage || 'Something went wrong. Try again.';
  }
}

const FIELD_LABELS: Record<string, string> = {
  email: 'Email',
  otp: 'Code',
  code: 'Code',
  password: 'Password',
  name: 'Name',
  currentPassword: 'Current password',
  newPassword: 'New password',
  newEmail: 'New email',
  token: 'Link',
  recoveryCode: 'Recovery code',
  label: 'Name',
};

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const capitalised = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

function toFieldErrors(raw: unknown): FieldError[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((e): FieldError[] => {
    if (!e || typeof e !== 'object') return [];
    const { path, message } = e as { path?: unknown; message?: unknown };
    const field = Array.isArray(path) ? path.map(String).join('.') : typeof path === 'string' ? path : '';
    const text = typeof message === 'string' && message.trim() ? message : 'not valid';
    return [{ field: field in FIELD_LABELS ? field : '', message: sentence(text) }];
  });
}

/** "Email: Invalid email address." for the summary, unless the message already names its field. */
export function summarise(fieldError: FieldError): string {
  const label = FIELD_LABELS[fieldError.field];
  if (!label || fieldError.message.toLowerCase().includes(label.toLowerCase())) return fieldError.message;
  return `${label}: ${fieldError.message}`;
}

function numberOrUndefined(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

const API_CODES: ReadonlySet<string> = new Set<ApiErrorCode>(API_ERROR_CODES);

function toApiError(res: Response, parsed: unknown): ApiError {
  const body = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const code: ApiErrorCode =
    typeof body.code === 'string' && API_CODES.has(body.code)
      ? (body.code as ApiErrorCode)
      : res.status === 503 || res.status === 502 || res.status === 504
        ? 'UNAVAILABLE'
        : res.status === 401
          ? 'UNAUTHENTICATED'
          : res.status === 429
            ? 'RATE_LIMITED'
            : 'UNKNOWN';
  const attemptsLeft = numberOrUndefined(body.attemptsLeft);
  // Retry-After is only readable cross-origin when the API exposes it; the body carries the same number.
  const retryAfterSeconds = numberOrUndefined(body.retryAfterSeconds) ?? numberOrUndefined(res.headers.get('Retry-After'));
  const fieldErrors = toFieldErrors(body.errors);
  const serverMessage = typeof body.message === 'string' ? body.message : undefined;
  return new ApiError({
    code,
    status: res.status,
    attemptsLeft,
    retryAfterSeconds,
    fieldErrors,
    message: humanMessage(code, { serverMessage, attemptsLeft, retryAfterSeconds, fieldErrors, status: res.status }),
  });
}

/** The paths of the document start with this prefix; the base URL ends with it. */
const API_PREFIX = '/api/v1/auth';

/** One client, typed by the generated paths; the base URL is worked out per request (it depends on the page's host). */
const client = createClient<paths>();

/** What every call passes: cookies, no cache, JSON, a time limit. */
function requestOptions() {
  const base = apiBaseUrl();
  if (!base.endsWith(API_PREFIX)) throw new Error(`The API base URL must end with ${API_PREFIX}.`);
  return {
    baseUrl: base.slice(0, -API_PREFIX.length),
    credentials: 'include' as const,
    cache: 'no-store' as const,
    headers: { Accept: 'application/json' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  };
}

/**
 * Runs one typed call and turns every failure into an ApiError: no answer (NETWORK), an error
 * answer (its code), or a success whose body this page cannot read (UNKNOWN).
 */
async function call<T>(send: (options: ReturnType<typeof requestOptions>) => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let options: ReturnType<typeof requestOptions>;
  try {
    options = requestOptions();
  } catch {
    throw new ApiError({ code: 'NETWORK', status: 0, message: NETWORK_MESSAGE });
  }
  let result: Awaited<ReturnType<typeof send>>;
  try {
    result = await send(options);
  } catch (err) {
    // A success body that is not JSON fails to parse; anything else thrown means no answer.
    const name = (err as Error | undefined)?.name;
    if (name === 'SyntaxError') throw new ApiError({ code: 'UNKNOWN', status: 0, message: UNREADABLE_MESSAGE });
    throw new ApiError({ code: 'NETWORK', status: 0, message: name === 'TimeoutError' ? TIMEOUT_MESSAGE : NETWORK_MESSAGE });
  }
  const { response } = result;
  if (!response.ok) throw toApiError(response, result.error);
  if (response.status !== 204 && result.data === undefined) {
    throw new ApiError({ code: 'UNKNOWN', status: response.status, message: UNREADABLE_MESSAGE });
  }
  return result.data as T;
}

const UNREADABLE_MESSAGE = 'The server sent an answer this page does not understand. Try again.';

/** The auth API, one function per endpoint. Every function throws {@link ApiError} on failure. */
export const api = {
  /** Starts a signup: the API emails a 6-digit code. */
  signup: (email: string) => call((o) => client.POST('/api/v1/auth/signup', { ...o, body: { email } })),
  /** Asks for a new code. The answer is always the same; the API sends at most one code a minute. */
  resend: (email: string) => call((o) => client.POST('/api/v1/auth/resend', { ...o, body: { email } })),
  /** Completes the signup with the emailed code and signs the new user in (sets the cookie). */
  verify: (input: { email: string; otp: string; password: string; name: string }) =>
    call((o) => client.POST('/api/v1/auth/verify', { ...o, body: input })),
  /** Asks for a password reset code. The answer is the same for every email; at most one code a minute. */
  forgotPassword: (email: string) => call((o) => client.POST('/api/v1/auth/password/forgot', { ...o, body: { email } })),
  /** Sets a new password with the emailed code; every other session ends and this browser is signed in. */
  resetPassword: (input: { email: string; code: string; password: string }) =>
    call((o) => client.POST('/api/v1/auth/password/reset', { ...o, body: input })),
  signin: (input: { email: string; password: string }) => call((o) => client.POST('/api/v1/auth/signin', { ...o, body: input })),
  /** Changes the signed-in user's password; every other session ends, this one stays. */
  changePassword: (input: { currentPassword: string; newPassword: string }) =>
    call((o) => client.POST('/api/v1/auth/password/change', { ...o, body: input })),
  /** Asks to move the account to `newEmail`: a code goes there (the same answer when the address cannot be used). */
  changeEmail: (input: { newEmail: string; password: string }) => call((o) => client.POST('/api/v1/auth/email/change', { ...o, body: input })),
  /** Confirms the new address with its code; other sessions end and this one is renewed with the new address. */
  verifyEmailChange: (code: string) => call((o) => client.POST('/api/v1/auth/email/verify', { ...o, body: { code } })),
  /** Undoes an email change with the token of the link mailed to the old address; every session ends. */
  undoEmailChange: (token: string) => call((o) => client.POST('/api/v1/auth/email/undo', { ...o, body: { token } })),
  me: async () => (await call((o) => client.GET('/api/v1/auth/me', o))).user,
  /** Closes the signed-in user's account: every session ends (the cookie is cleared) and a restore link is mailed. */
  closeAccount: (password: string) => call((o) => client.DELETE('/api/v1/auth/me', { ...o, body: { password } })),
  /** Opens a closed account again with the token of the link mailed at closure (within the grace period). */
  restoreAccount: (token: string) => call((o) => client.POST('/api/v1/auth/me/restore', { ...o, body: { token } })),
  sessions: async () => (await call((o) => client.GET('/api/v1/auth/sessions', o))).sessions,
  revokeSession: (id: string) => call((o) => client.DELETE('/api/v1/auth/sessions/{id}', { ...o, params: { path: { id } } })),
  /** Whether two-step sign-in (TOTP) is on, and how many recovery codes are left. */
  mfaStatus: () => call((o) => client.GET('/api/v1/auth/mfa', o)),
  /** A new authenticator secret and its QR code; nothing is on until {@link api.totpEnable}. */
  totpSetup: () => call((o) => client.POST('/api/v1/auth/mfa/totp/setup', { ...o, body: {} })),
  /** Turns two-step sign-in on with the app's current code; answers the recovery codes, shown once. */
  totpEnable: (code: string) => call((o) => client.POST('/api/v1/auth/mfa/totp/enable', { ...o, body: { code } })),
  /** Turns two-step sign-in off (password and a code from the app, or a recovery code). */
  totpDisable: (input: { password: string; code: string }) => call((o) => client.POST('/api/v1/auth/mfa/totp/disable', { ...o, body: input })),
  /** Ten new recovery codes; the old ones stop working. */
  regenerateRecoveryCodes: () => call((o) => client.POST('/api/v1/auth/mfa/recovery-codes', { ...o, body: {} })),
  /** The second step of a sign-in: an app code, or a recovery code. */
  signinMfa: (input: { code: string } | { recoveryCode: string }) => call((o) => client.POST('/api/v1/auth/signin/mfa', { ...o, body: input })),
  /** Proves it is you again (password, and a code when two-step sign-in is on): sensitive changes open for 10 minutes. */
  reauth: (input: { password: string; code?: string }) => call((o) => client.POST('/api/v1/auth/reauth', { ...o, body: input })),
  /** The signed-in account's passkeys. */
  passkeys: async () => (await call((o) => client.GET('/api/v1/auth/passkeys', o))).passkeys,
  /** Creation options for a new passkey (recently authenticated sessions only); see lib/passkeys.ts. */
  passkeyRegistrationOptions: () => call((o) => client.POST('/api/v1/auth/passkeys/register/options', { ...o, body: {} })),
  passkeyRegister: (body: Schemas['PasskeyRegisterBody']) => call((o) => client.POST('/api/v1/auth/passkeys/register', { ...o, body })),
  removePasskey: (id: string) => call((o) => client.DELETE('/api/v1/auth/passkeys/{id}', { ...o, params: { path: { id } } })),
  /** Request options for a passkey sign-in (alone, or as the second step of this browser's partial session). */
  passkeyAuthenticationOptions: () => call((o) => client.POST('/api/v1/auth/passkeys/authenticate/options', { ...o, body: {} })),
  passkeyAuthenticate: (body: Schemas['PasskeyAuthenticateBody']) => call((o) => client.POST('/api/v1/auth/passkeys/authenticate', { ...o, body })),
  /** Ends this browser's session. */
  logout: () => call((o) => client.POST('/api/v1/auth/logout', { ...o, body: {} })),
  /** Ends every session of the signed-in user, this one included. */
  logoutAll: () => call((o) => client.POST('/api/v1/auth/logout-all', { ...o, body: {} })),
};

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

/** Any thrown value as an ApiError (a bug in a page still shows a message, not a blank screen). */
export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError({ code: 'UNKNOWN', status: 0, message: 'Something went wrong. Try again.' });
}

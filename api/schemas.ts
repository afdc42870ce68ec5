import { z } from 'zod';
import { ERROR_CODES } from '../common/errors';
import { MAX_BYTES, MIN_CODE_POINTS } from './security/password-policy';

/**
 * Request and response bodies: the routes parse with these, and the OpenAPI document is built from
 * them. Every bound a request field has is checked here, on the value as sent, by a rule that JSON
 * Schema states the same way (`pattern` written for both ECMAScript and Python's `re`, lengths in
 * code points as JSON Schema counts them), so the document and the validator accept the same
 * values. Normalising (trim, lower-case) happens after the checks.
 */

/** A string whose length in code points (JSON Schema's measure, not UTF-16 units) lies in [min, max]. */
function codePoints(min: number, max: number, message: string) {
  return z
    .string()
    .refine((s) => {
      const n = [...s].length;
      return n >= min && n <= max;
    }, message)
    .meta({ minLength: min, maxLength: max });
}

/** RFC 5322 dot-atom local part (what `format: email` generators produce) at a DNS host name. */
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
export const EMAIL_PATTERN = new RegExp(`^[ \\t]*${ATEXT}+(?:\\.${ATEXT}+)*@(?:${LABEL}\\.)+[A-Za-z]{2,63}[ \\t]*$`);

export const Email = z
  .string()
  .max(254)
  .regex(EMAIL_PATTERN, 'not an email address')
  .trim()
  .toLowerCase()
  .meta({ description: 'An address with a dot-atom local part and a host name; spaces around it are dropped and it is lower-cased before anything else.', example: 'ada@example.com' });

export const Otp = z.string().regex(/^[0-9]{6}$/, 'the code is 6 digits').meta({ description: 'The 6-digit code from the email.', example: '123456' });

/** JSON Schema cannot count bytes: the limit is stated as `x-maxUtf8Bytes` (and `format: password`). */
const utf8Bytes = (max: number) => (s: string) => Buffer.byteLength(s, 'utf8') <= max;
const bcryptLimit = { 'x-maxUtf8Bytes': MAX_BYTES, format: 'password' } as const;

/** A new password: 8 to 72 characters and at most 72 bytes in UTF-8 (bcrypt's input limit: refused, never truncated). */
export const NewPassword = codePoints(MIN_CODE_POINTS, MAX_BYTES, `the password is ${MIN_CODE_POINTS} to ${MAX_BYTES} characters`)
  .refine(utf8Bytes(MAX_BYTES), `the password is at most ${MAX_BYTES} bytes in UTF-8`)
  .meta({
    ...bcryptLimit,
    description: `${MIN_CODE_POINTS} to ${MAX_BYTES} characters (code points), at most ${MAX_BYTES} bytes in UTF-8 (x-maxUtf8Bytes). Any characters; refused (400 WEAK_PASSWORD) when common or equal to the email.`,
    example: 'correct horse battery staple',
  });

/** The password of a sign-in: any length a password can have. */
export const SigninPassword = codePoints(1, MAX_BYTES, `the password is 1 to ${MAX_BYTES} characters`)
  .refine(utf8Bytes(MAX_BYTES), `the password is at most ${MAX_BYTES} bytes in UTF-8`)
  .meta({ ...bcryptLimit, description: `1 to ${MAX_BYTES} characters, at most ${MAX_BYTES} bytes in UTF-8 (x-maxUtf8Bytes).`, example: 'correct horse battery staple' });

// C0 and C1 controls and the Unicode line and paragraph separators; the blanks that String.trim removes.
const CONTROL = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029';
const BLANK = '\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000\\ufeff';
/** No control characters, and something other than blanks. */
export const NAME_PATTERN = new RegExp(`^[^${CONTROL}]*[^${CONTROL}${BLANK}][^${CONTROL}]*$`);
export const NAME_MAX = 100;

export const Name = codePoints(1, NAME_MAX, `the name is 1 to ${NAME_MAX} characters`)
  .regex(NAME_PATTERN, 'the name must not be blank or contain control characters')
  .trim()
  .meta({ description: `1 to ${NAME_MAX} characters, not only blanks, no control characters; blanks around it are dropped.`, example: 'Ada Lovelace' });

export const SignupBody = z.object({ email: Email }).strict().meta({ id: 'SignupBody' });
export const ResendBody = z.object({ email: Email }).strict().meta({ id: 'ResendBody' });
export const VerifyBody = z.object({ email: Email, otp: Otp, password: NewPassword, name: Name }).strict().meta({ id: 'VerifyBody' });
export const SigninBody = z.object({ email: Email, password: SigninPassword }).strict().meta({ id: 'SigninBody' });
export const ForgotPasswordBody = z.object({ email: Email }).strict().meta({ id: 'ForgotPasswordBody' });
export const ResetPasswordBody = z.object({ email: Email, code: Otp, password: NewPassword }).strict().meta({ id: 'ResetPasswordBody' });
export const ChangePasswordBody = z.object({ currentPassword: SigninPassword, newPassword: NewPassword }).strict().meta({ id: 'ChangePasswordBody' });
export const ChangeEmailBody = z.object({ newEmail: Email, password: SigninPassword }).strict().meta({ id: 'ChangeEmailBody' });
export const VerifyEmailBody = z.object({ code: Otp }).strict().meta({ id: 'VerifyEmailBody' });
export const UndoEmailBody = z.object({ token: z.string().min(1).max(200) }).strict().meta({ id: 'UndoEmailBody' });
export const CloseAccountBody = z.object({ password: SigninPassword }).strict().meta({ id: 'CloseAccountBody' });
export const RestoreAccountBody = z.object({ token: z.string().min(1).max(200) }).strict().meta({ id: 'RestoreAccountBody' });
/** An audience is a configured service name (ACCESS_TOKEN_AUDIENCES); one that is not configured answers UNKNOWN_AUDIENCE. */
export const TokenBody = z.object({ audience: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'malformed audience') }).strict();
/**
 * TokenBody as the document states it: the deployment's audiences by name, so a client (or a
 * fuzzer) sees which values are accepted. Both accept exactly those; the route parses with
 * TokenBody, so a well-formed unknown audience answers UNKNOWN_AUDIENCE instead of VALIDATION_FAILED.
 */
export const documentedTokenBody = (audiences: readonly string[]) => z.object({ audience: z.enum(audiences as [string, ...string[]]) }).strict();
export const TotpCode = z.string().regex(/^[0-9]{6}$/, 'the code is 6 digits').meta({ description: 'The 6-digit code your authenticator app shows now.', example: '123456' });
export const RecoveryCodeInput = z
  .string()
  .regex(/^[0-9A-Za-z -]{10,16}$/, 'a recovery code is 10 letters and digits')
  .meta({ description: 'One of the recovery codes shown when the second factor was enabled (`xxxxx-xxxxx`; case, dash and spaces do not matter). Each works once.', example: 'ab12c-de34f' });
/** A TOTP code or, when the phone is lost, a recovery code. */
const AnyFactorCode = z.string().regex(/^[0-9A-Za-z -]{6,16}$/, 'a 6-digit code or a recovery code').meta({ description: 'The 6-digit code from the authenticator app, or a recovery code.', example: '123456' });
export const EnableTotpBody = z.object({ code: TotpCode }).strict().meta({ id: 'EnableTotpBody' });
export const DisableTotpBody = z.object({ password: SigninPassword, code: AnyFactorCode }).strict().meta({ id: 'DisableTotpBody' });
export const SigninMfaBody = z
  .union([z.object({ code: TotpCode }).strict(), z.object({ recoveryCode: RecoveryCodeInput }).strict()])
  .meta({ id: 'SigninMfaBody', description: 'Either `code` (authenticator app) or `recoveryCode`.' });
export const ReauthBody = z.object({ password: SigninPassword, code: AnyFactorCode.optional() }).strict().meta({ id: 'ReauthBody' });
export const EmptyBody = z.object({}).strict().meta({ id: 'EmptyBody' });
/**
 * The keys every body refuses (api/http/middleware.ts, prototype pollution), stated in the document
 * for the objects that accept keys of their own (the WebAuthn answers), so clients and the fuzzer
 * know them.
 */
const NO_FORBIDDEN_KEYS = { propertyNames: { not: { enum: ['__proto__', 'constructor', 'prototype'] } } };
const b64url = (min: number, max: number) => z.string().min(min).max(max).regex(/^[A-Za-z0-9_-]*$/, 'base64url');
const CredentialBase = {
  id: b64url(16, 1400).meta({ description: 'The credential id (base64url).' }),
  rawId: b64url(16, 1400),
  type: z.literal('public-key'),
  clientExtensionResults: z.object({}).loose().meta(NO_FORBIDDEN_KEYS).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};
/** What `@simplewebauthn/browser`'s startRegistration returns (RegistrationResponseJSON). */
export const PasskeyRegistrationCredential = z
  .object({
    ...CredentialBase,
    response: z.object({
      clientDataJSON: b64url(16, 4096),
      attestationObject: b64url(16, 8192),
      transports: z.array(z.string().max(32)).max(8).optional(),
    }).loose().meta(NO_FORBIDDEN_KEYS),
  })
  .meta({ ...NO_FORBIDDEN_KEYS, id: 'PasskeyRegistrationCredential', description: 'The authenticator\'s answer to the creation options (RegistrationResponseJSON of WebAuthn Level 3).' });
/** What startAuthentication returns (AuthenticationResponseJSON). */
export const PasskeyAuthenticationCredential = z
  .object({
    ...CredentialBase,
    response: z.object({
      clientDataJSON: b64url(16, 4096),
      authenticatorData: b64url(16, 4096),
      signature: b64url(16, 1024),
      userHandle: b64url(0, 128).optional(),
    }).loose().meta(NO_FORBIDDEN_KEYS),
  })
  .meta({ ...NO_FORBIDDEN_KEYS, id: 'PasskeyAuthenticationCredential', description: 'The authenticator\'s signed answer to the request options (AuthenticationResponseJSON).' });
export const PasskeyLabel = codePoints(1, 64, 'the label is 1 to 64 characters')
  .regex(NAME_PATTERN, 'the label must not be blank or contain control characters')
  .meta({ description: 'Your name for this passkey (default: "Passkey N").', example: 'Laptop' });
export const PasskeyRegisterBody = z.object({ response: PasskeyRegistrationCredential, label: PasskeyLabel.optional() }).strict().meta({ id: 'PasskeyRegisterBody' });
export const PasskeyAuthenticateBody = z.object({ response: PasskeyAuthenticationCredential }).strict().meta({ id: 'PasskeyAuthenticateBody' });
export const PasskeyIdParams = z.object({ id: z.string().uuid('malformed passkey id') });
export const SessionIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'malformed session id') });

export const User = z.object({ id: z.string().uuid(), email: z.string(), name: z.string() }).meta({ id: 'User' });
export const Me = User.extend({ createdAt: z.string().meta({ format: 'date-time' }) }).meta({ id: 'Me' });

export const MessageResponse = z.object({ message: z.string() }).meta({ id: 'MessageResponse' });
export const UserResponse = z.object({ message: z.string(), user: User }).meta({ id: 'UserResponse' });
export const MfaMethod = z.enum(['totp', 'recovery_code', 'passkey']).meta({ id: 'MfaMethod' });
export const MfaRequiredResponse = z
  .object({ mfaRequired: z.literal(true), methods: z.array(MfaMethod), message: z.string() })
  .meta({ id: 'MfaRequiredResponse', description: 'The password was right; the auth_token cookie holds a partial session (5 minutes) that can only finish the sign-in: POST /signin/mfa (totp, recovery_code) or POST /passkeys/authenticate (passkey). `methods` names the factors this account has.' });
export const SigninResponse = z.union([UserResponse, MfaRequiredResponse]).meta({ id: 'SigninResponse' });
export const TotpSetupResponse = z
  .object({
    secret: z.string().meta({ description: 'The base32 secret, for typing into an app by hand.' }),
    otpauthUrl: z.string().meta({ description: 'The otpauth:// URI the QR code holds.' }),
    qrSvg: z.string().meta({ description: 'The QR code as an SVG document.' }),
  })
  .meta({ id: 'TotpSetupResponse' });
export const RecoveryCodesResponse = z
  .object({ recoveryCodes: z.array(z.string()).length(10).meta({ description: 'Ten single-use codes, shown this once.' }) })
  .meta({ id: 'RecoveryCodesResponse' });
export const MfaStatusResponse = z
  .object({ totp: z.boolean(), recoveryCodesLeft: z.number().int().min(0) })
  .meta({ id: 'MfaStatusResponse' });
export const PasskeyCreationOptions = z
  .object({ challenge: z.string(), rp: z.object({ id: z.string().optional(), name: z.string() }), user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }), pubKeyCredParams: z.array(z.object({ type: z.string(), alg: z.number() })) })
  .loose()
  .meta({ id: 'PasskeyCreationOptions', description: 'PublicKeyCredentialCreationOptionsJSON: pass to startRegistration({ optionsJSON }) of @simplewebauthn/browser.' });
export const PasskeyRequestOptions = z
  .object({ challenge: z.string(), rpId: z.string().optional(), allowCredentials: z.array(z.object({ id: z.string(), type: z.string() }).loose()).optional(), userVerification: z.string().optional() })
  .loose()
  .meta({ id: 'PasskeyRequestOptions', description: 'PublicKeyCredentialRequestOptionsJSON: pass to startAuthentication({ optionsJSON }).' });
export const Passkey = z
  .object({ id: z.string().uuid(), label: z.string(), createdAt: z.string(), lastUsedAt: z.string().nullable() })
  .meta({ id: 'Passkey' });
export const PasskeysResponse = z.object({ passkeys: z.array(Passkey) }).meta({ id: 'PasskeysResponse' });
export const PasskeyResponse = z.object({ passkey: Passkey }).meta({ id: 'PasskeyResponse' });
export const MeResponse = z.object({ user: Me }).meta({ id: 'MeResponse' });
export const Session = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    lastSeenAt: z.string(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean(),
  })
  .meta({ id: 'Session' });
export const SessionsResponse = z.object({ sessions: z.array(Session) }).meta({ id: 'SessionsResponse' });

export const TokenResponse = z
  .object({
    access_token: z.string().meta({ description: 'An ES256 JWT (header typ `at+jwt`, kid of a key in /.well-known/jwks.json).' }),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().positive().meta({ description: 'Seconds until the token expires.' }),
  })
  .meta({ id: 'TokenResponse' });
export const Jwk = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string(),
    y: z.string(),
    kid: z.string(),
    alg: z.literal('ES256'),
    use: z.literal('sig'),
  })
  .meta({ id: 'Jwk' });
export const JwksResponse = z.object({ keys: z.array(Jwk) }).meta({ id: 'JwksResponse' });

export const ErrorResponse = z
  .object({
    code: z.enum(ERROR_CODES).meta({ example: 'VALIDATION_FAILED' }),
    message: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    attemptsLeft: z.number().int().optional(),
    retryAfterSeconds: z.number().int().optional(),
  })
  .meta({ id: 'ErrorResponse' });

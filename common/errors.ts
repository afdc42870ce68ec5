import { z } from 'zod';
import type { AccountFailure } from './account-failures';
import type { Failure } from './failures';

/**
 * The one vocabulary of error codes. `ERRORS` holds every code an HTTP client can see, with its
 * status and public message (clients switch on `code`); `INTERNAL_ERRORS` the codes that stay
 * between processes (Kafka replies, Temporal failure types). Code uses `Code.X` or a literal typed
 * by `ErrorCode`/`AnyErrorCode`, so the compiler refuses a code that is not defined here.
 */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  INVALID_CODE: { status: 400, message: 'The code is not valid.' },
  CODE_EXPIRED: { status: 410, message: 'The code has expired. Request a new one.' },
  WEAK_PASSWORD: { status: 400, message: 'The password is not acceptable.' },
  INVALID_CURRENT_PASSWORD: { status: 400, message: 'The current password is not correct.' },
  INVALID_TOKEN: { status: 400, message: 'This link is not valid or has expired.' },
  INVALID_CURSOR: { status: 400, message: 'The cursor is not one this listing gave out.' },
  UNKNOWN_AUDIENCE: { status: 400, message: 'No service with this audience takes our tokens.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Email or password is incorrect.' },
  UNAUTHENTICATED: { status: 401, message: 'You are not signed in.' },
  MFA_REQUIRED: { status: 401, message: 'Enter the code from your authenticator app (or a recovery code) to finish signing in.' },
  REAUTH_REQUIRED: { status: 401, message: 'Confirm your password (and second factor) again before this change.' },
  INVALID_MFA_CODE: { status: 400, message: 'The authentication code is not valid.' },
  MFA_ALREADY_ENABLED: { status: 409, message: 'A second factor is already enabled on this account.' },
  MFA_NOT_ENABLED: { status: 409, message: 'No second factor is enabled on this account.' },
  MFA_SETUP_EXPIRED: { status: 410, message: 'The authenticator setup expired. Start it again.' },
  PASSKEY_INVALID: { status: 400, message: 'The passkey could not be verified. Try again.' },
  PASSKEY_NOT_FOUND: { status: 404, message: 'No such passkey.' },
  PASSKEY_EXISTS: { status: 409, message: 'This passkey is already registered.' },
  FORBIDDEN_ORIGIN: { status: 403, message: 'This origin is not allowed.' },
  FORBIDDEN: { status: 403, message: 'This token does not allow this call.' },
  ACCOUNT_LOCKED: { status: 403, message: 'This account is locked. Contact support.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
  USER_NOT_FOUND: { status: 404, message: 'No such user.' },
  EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists. Sign in instead.' },
  ALREADY_VERIFIED: { status: 409, message: 'This code already verified your email and your account is ready. Sign in.' },
  PASSWORD_ALREADY_RESET: { status: 409, message: 'This code already reset your password. Sign in with the new password.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This path does not answer that method; see the Allow header.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json.' },
  TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many wrong codes. Request a new code.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests. Try again later.' },
  INTERNAL: { status: 500, message: 'Something went wrong.' },
  UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable. Try again shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

/** Codes that never reach an HTTP client as such: what they mean to the process that reads them. */
export const INTERNAL_ERRORS = {
  INVALID_REQUEST: 'A Kafka request or an activity input is malformed: retrying cannot help.',
  INVALID_REPLY: 'A Kafka reply does not match its schema.',
  ACCOUNT_GONE: 'The account is no longer at the address a change started from (changed or closed meanwhile).',
  SMTP_PERMANENT: 'The SMTP server refused the message for good (5xx).',
  SMTP_UNAVAILABLE: 'The SMTP server could not be reached or answered 4xx: retried.',
  CODE_GONE: 'The code expired before it could be mailed.',
  MAIL_BUDGET_SPENT: 'The mail retry budget of a signup is spent.',
  SEND_IN_PROGRESS: 'An earlier attempt is still sending this mail.',
} as const satisfies Record<string, string>;

export type InternalErrorCode = keyof typeof INTERNAL_ERRORS;
export type AnyErrorCode = ErrorCode | InternalErrorCode;

const allCodes = [...Object.keys(ERRORS), ...Object.keys(INTERNAL_ERRORS)] as AnyErrorCode[];

/** Each code as a value (`Code.EMAIL_TAKEN === 'EMAIL_TAKEN'`), for code that must not spell codes as strings. */
export const Code = Object.freeze(Object.fromEntries(allCodes.map((c) => [c, c]))) as { readonly [C in AnyErrorCode]: C };

/** The codes a DB-processor reply may carry (the `error.code` of a Kafka reply, common/kafka/messages.ts). */
export const ReplyErrorCode = z.enum([Code.EMAIL_TAKEN, Code.ACCOUNT_GONE, Code.INVALID_REQUEST, Code.UNAVAILABLE]);
export type ReplyErrorCode = z.infer<typeof ReplyErrorCode>;

/**
 * common/failures.ts and common/account-failures.ts spell the Temporal failure types themselves (workflow code imports it, and the
 * replay test freezes its source): this check keeps every one of them in the catalog above.
 */
type FailureType = (typeof Failure)[keyof typeof Failure] | (typeof AccountFailure)[keyof typeof AccountFailure];
export type FailureTypesAreCatalogued = FailureType extends AnyErrorCode ? true : never;
export const failureTypesAreCatalogued: FailureTypesAreCatalogued = true;

export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    // One code, one status, in every flow (the OpenAPI document and the web client rely on it).
    this.status = ERRORS[code].status;
  }

  toBody(): Record<string, unknown> {
    const message = this.status >= 500 ? ERRORS[this.code].message : this.message;
    return { code: this.code, message, ...(this.status >= 500 ? {} : this.details) };
  }
}

/** A dependency (Temporal, Kafka, Redis, Postgres) did not answer in time or refused: 503. */
export function unavailable(dependency: string, cause?: unknown): AppError {
  return new AppError('UNAVAILABLE', undefined, { dependency }, { cause });
}

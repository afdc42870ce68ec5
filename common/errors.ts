/** One catalog: code → HTTP status and the public message. Clients switch on `code`. */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  INVALID_CODE: { status: 400, message: 'The code is not valid.' },
  CODE_EXPIRED: { status: 410, message: 'The code has expired. Request a new one.' },
  WEAK_PASSWORD: { status: 400, message: 'The password is not acceptable.' },
  INVALID_CURRENT_PASSWORD: { status: 400, message: 'The current password is not correct.' },
  INVALID_TOKEN: { status: 400, message: 'This link is not valid or has expired.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Email or password is incorrect.' },
  UNAUTHENTICATED: { status: 401, message: 'You are not signed in.' },
  FORBIDDEN_ORIGIN: { status: 403, message: 'This origin is not allowed.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
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

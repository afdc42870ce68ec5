import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../common/errors';

/** Request and response bodies: the routes parse with these, and the OpenAPI document is built from them. */

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export const Email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .email()
  .meta({ description: 'Trimmed and lower-cased before anything else.', example: 'ada@example.com' });

export const Otp = z.string().regex(/^\d{6}$/, 'the code is 6 digits').meta({ example: '123456' });

/** Bounded only to stop abuse; the password policy (length in code points and bytes, common list) comes after. */
export const Password = z.string().min(1).max(1024).meta({ description: 'At least 8 characters, at most 72 bytes in UTF-8.' });

export const Name = z
  .string()
  .trim()
  .refine((s) => [...s].length >= 1 && [...s].length <= 100, 'the name is 1 to 100 characters')
  .refine((s) => !CONTROL_CHARS.test(s), 'the name must not contain control characters')
  .meta({ example: 'Ada Lovelace' });

export const SignupBody = z.object({ email: Email }).strict().meta({ id: 'SignupBody' });
export const ResendBody = z.object({ email: Email }).strict().meta({ id: 'ResendBody' });
export const VerifyBody = z.object({ email: Email, otp: Otp, password: Password, name: Name }).strict().meta({ id: 'VerifyBody' });
export const SigninBody = z.object({ email: Email, password: Password }).strict().meta({ id: 'SigninBody' });
export const EmptyBody = z.object({}).strict().meta({ id: 'EmptyBody' });
export const SessionIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'malformed session id') });

export const User = z.object({ id: z.string().uuid(), email: z.string(), name: z.string() }).meta({ id: 'User' });
export const Me = User.extend({ createdAt: z.string().meta({ format: 'date-time' }) }).meta({ id: 'Me' });

export const MessageResponse = z.object({ message: z.string() }).meta({ id: 'MessageResponse' });
export const UserResponse = z.object({ message: z.string(), user: User }).meta({ id: 'UserResponse' });
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

export const ErrorResponse = z
  .object({
    code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).meta({ example: 'VALIDATION_FAILED' }),
    message: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    attemptsLeft: z.number().int().optional(),
    retryAfterSeconds: z.number().int().optional(),
  })
  .meta({ id: 'ErrorResponse' });

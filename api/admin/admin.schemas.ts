import { z } from 'zod';
import { AuditAction, AuditOutcome } from '../../common/events/audit';

/** Request and answer shapes of the admin API (api/admin); the OpenAPI document is built from them. */

/** Any 8-4-4-4-12 hex id (what Postgres takes): an id of no account is 404, not 400. */
const Id = z.guid();

export const UserIdParams = z.object({ id: Id }).meta({ id: 'AdminUserIdParams' });

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 200;

/** An opaque position in the listing (base64url); only the `nextCursor` of an earlier page. */
const Cursor = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'malformed cursor');

export const AuditQuery = z
  .object({
    userId: Id.optional(),
    action: AuditAction.optional(),
    from: z.string().datetime({ offset: true }).optional().meta({ description: 'Inclusive lower bound of occurredAt (ISO 8601).' }),
    to: z.string().datetime({ offset: true }).optional().meta({ description: 'Exclusive upper bound of occurredAt (ISO 8601); not after `from`: no items.' }),
    limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE_DEFAULT),
    cursor: Cursor.optional().meta({ description: 'The `nextCursor` of the previous page (same filters).' }),
  })
  .strict()
  .meta({ id: 'AdminAuditQuery' });
export type AuditQuery = z.infer<typeof AuditQuery>;

const isoTime = z.string().meta({ format: 'date-time' });

export const AuditItem = z
  .object({
    id: z.string().uuid(),
    occurredAt: isoTime,
    actor: z.string().meta({ description: '`user`, `anonymous`, `system` or `admin:<name>`.' }),
    action: z.string(),
    subjectUserId: z.string().uuid().nullable(),
    requestId: z.string().nullable(),
    sourceIp: z.string().nullable().meta({ description: 'Truncated: an IPv4 /24 or an IPv6 /48.' }),
    outcome: AuditOutcome,
  })
  .meta({ id: 'AdminAuditItem' });

export const AuditPage = z
  .object({ items: z.array(AuditItem), nextCursor: z.string().nullable().meta({ description: 'null on the last page.' }) })
  .meta({ id: 'AdminAuditPage' });

const Lockout = z.object({ locked: z.boolean(), retryAfterSeconds: z.number().int().positive().nullable() });

export const AdminUserView = z
  .object({
    user: z.object({
      id: z.string().uuid(),
      state: z.enum(['active', 'locked', 'closing']).meta({ description: '`closing`: closed by its owner, erased after the grace period; `locked`: an operator locked it.' }),
      createdAt: isoTime,
      verified: z.boolean().meta({ description: 'The email address answered a code (every account, from signup on).' }),
      factors: z.object({
        password: z.literal(true),
        totp: z.object({ enabled: z.boolean(), enabledAt: isoTime.nullable(), recoveryCodesLeft: z.number().int().min(0) }),
        passkeys: z.object({ count: z.number().int().min(0) }),
      }),
      sessions: z.object({ count: z.number().int().min(0) }),
      locks: z.object({
        admin: z.object({ locked: z.boolean(), since: isoTime.nullable() }),
        rateLimits: z
          .object({ signin: Lockout, secondFactor: Lockout })
          .meta({ description: 'Limits that refuse the account wherever attempts come from: the per-email sign-in budget of the day and the second-factor budget.' }),
      }),
      closedAt: isoTime.nullable(),
    }),
  })
  .meta({ id: 'AdminUserView' });

export const SessionsRevoked = z.object({ userId: z.string().uuid(), sessionsRevoked: z.number().int().min(0) }).meta({ id: 'AdminSessionsRevoked' });

export const LockResult = z
  .object({
    userId: z.string().uuid(),
    locked: z.boolean(),
    changed: z.boolean().meta({ description: 'false: the account already was in this state.' }),
    sessionsRevoked: z.number().int().min(0),
  })
  .meta({ id: 'AdminLockResult' });

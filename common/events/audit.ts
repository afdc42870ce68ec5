import { isIPv4, isIPv6 } from 'node:net';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ipv6Groups } from '../ip';
import { AUTH_EVENT_TYPES } from './auth-events';

/**
 * The audit trail's vocabulary: every auth event type (the same names, from auth-events.ts) and the
 * security-relevant actions that change nothing another service needs to know.
 */
export const AUDIT_ONLY_ACTIONS = ['signup.requested', 'signup.resend_requested', 'signup.verify_failed', 'email.verify_failed', 'rate_limited', 'signin.locked'] as const;
/** What an operator did through the admin API (api/admin), and the minting of their token. */
export const ADMIN_ACTIONS = ['admin.token_minted', 'admin.user_read', 'admin.audit_read', 'admin.sessions_revoked', 'admin.user_locked', 'admin.user_unlocked'] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];
export const AuditAction = z.enum([...AUTH_EVENT_TYPES, ...AUDIT_ONLY_ACTIONS, ...ADMIN_ACTIONS]);
export type AuditAction = z.infer<typeof AuditAction>;

/** An operator's name as it appears in their admin token (`sub` = `admin:<name>`). */
const NAME = '[a-z0-9][a-z0-9._-]{0,63}';
export const ADMIN_NAME = new RegExp(`^${NAME}$`);
/** The actor of an operator's call: `admin:<name>`. */
export const AdminActor = z.string().regex(new RegExp(`^admin:${NAME}$`));
export type AdminActor = `admin:${string}`;
/**
 * `user` (the subject acting on their own account), `anonymous` (no session), `system` (a workflow,
 * a timer), `admin:<name>` (an operator, through the admin API or its CLI).
 */
export const AuditActor = z.union([z.enum(['user', 'anonymous', 'system']), AdminActor]);
export type AuditActor = z.infer<typeof AuditActor>;
export const AuditOutcome = z.enum(['success', 'failure', 'refused']);

/** One row of `audit_event`. No email, name, password, code or full IP address. */
export const AuditEntry = z
  .object({
    id: z.string().uuid(),
    occurredAt: z.string().datetime(),
    actor: AuditActor,
    action: AuditAction,
    subjectUserId: z.string().uuid().nullable(),
    requestId: z.string().max(128).nullable(),
    /** Truncated: an IPv4 /24 or an IPv6 /48 (`truncateIp`). */
    sourceIp: z.string().max(64).nullable(),
    outcome: AuditOutcome,
  })
  .strict();
export type AuditEntry = z.infer<typeof AuditEntry>;

export function newAuditEntry(e: Omit<AuditEntry, 'id' | 'occurredAt' | 'sourceIp' | 'requestId'> & { ip?: string | null; requestId?: string | null }): AuditEntry {
  return AuditEntry.parse({
    id: randomUUID(),
    occurredAt: new Date().toISOString(),
    actor: e.actor,
    action: e.action,
    subjectUserId: e.subjectUserId,
    requestId: e.requestId ?? null,
    sourceIp: e.ip ? truncateIp(e.ip) : null,
    outcome: e.outcome,
  });
}

/**
 * An address reduced to its network: IPv4 to its /24, IPv6 to its /48 (an IPv4-mapped address as
 * IPv4). Enough to see where attempts came from, not whom they came from.
 */
export function truncateIp(ip: string): string | null {
  const address = ip.split('%')[0];
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(address)) return null;
  const g = ipv6Groups(address);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.0/24`;
  return `${g.slice(0, 3).map((x) => x.toString(16)).join(':')}::/48`;
}

import type { Logger } from '../../common/logger';
import type { AuditTrail } from '../audit/audit-trail';

/** What a use-case may know about the HTTP request that called it (never req/res themselves). */
export interface RequestContext {
  requestId: string;
  ip: string;
  userAgent?: string;
  logger: Logger;
  /** The append-only audit trail (and the auth events of what lives in Redis). */
  trail: AuditTrail;
  /**
   * Whom the request is about, for the audit lines written outside the use-case (`rate_limited`,
   * by the error middleware): the signed-in user, or the keyed hash of the email the body names.
   * Set by the route layer (the session) and by the use-case (the email) before any limit is taken.
   */
  audit?: { userId?: string; emailHash?: string };
}

import type { Logger } from '../../common/logger';

/** What a use-case may know about the HTTP request that called it (never req/res themselves). */
export interface RequestContext {
  requestId: string;
  ip: string;
  userAgent?: string;
  logger: Logger;
}

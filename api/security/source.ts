/**
 * Where a request comes from, for counting: one implementation for the rate limits and the
 * signup workflow's per-source attempts (see source-key.ts: IPv4 as is, IPv6 by its /64).
 */
export { sourceKey as sourceOf } from './source-key';

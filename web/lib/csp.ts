/**
 * The Content-Security-Policy of every page: a strict, nonce-based policy (the CSP3 "strict CSP"
 * that Google and OWASP recommend). A script runs only if it carries this response's nonce, or was
 * loaded by one that did ('strict-dynamic'); inline handlers, `javascript:` URLs, injected
 * <script> tags and eval do not run, so an injected string cannot become code.
 *
 * Pure (no Next.js imports), so the root project's unit tests can check it.
 */

/** 128 random bits, base64: a fresh one for every response. */
export function makeNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

export interface CspOptions {
  nonce: string;
  /** The page's own origin parts, to allow the API on the same host (any port) as lib/api.ts assumes. */
  protocol: string;
  hostname: string;
  /** NEXT_PUBLIC_API_URL when the build fixed the API's address. */
  apiUrl?: string;
  /** `next dev` needs eval for React's debugging and a websocket for hot reload. */
  dev?: boolean;
}

const NONCE = /^[A-Za-z0-9+/]{16,}={0,2}$/;
const HOST = /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/;

export function buildCsp(o: CspOptions): string {
  if (!NONCE.test(o.nonce)) throw new Error('nonce must be base64 of at least 12 bytes');
  const scheme = o.protocol === 'https:' ? 'https:' : 'http:';
  const connect = ["'self'"];
  // lib/api.ts talks to <page protocol>//<page host>:<API port>: the same host, another port.
  if (HOST.test(o.hostname)) connect.push(`${scheme}//${o.hostname}:*`);
  if (o.apiUrl) {
    try {
      connect.push(new URL(o.apiUrl).origin);
    } catch {
      // An unparsable build-time URL adds nothing: the page then cannot reach it, which is visible.
    }
  }
  if (o.dev) connect.push(o.protocol === 'https:' ? 'wss:' : 'ws:');
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': [`'nonce-${o.nonce}'`, "'strict-dynamic'", ...(o.dev ? ["'unsafe-eval'"] : [])],
    'style-src': ["'self'", `'nonce-${o.nonce}'`],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    'connect-src': connect,
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    ...(scheme === 'https:' ? { 'upgrade-insecure-requests': [] } : {}),
  };
  return Object.entries(directives)
    .map(([k, v]) => [k, ...v].join(' '))
    .join('; ');
}

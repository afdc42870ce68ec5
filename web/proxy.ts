import { NextResponse, type NextRequest } from 'next/server';
import { buildCsp, makeNonce } from './lib/csp';

/**
 * Next.js 16 proxy (formerly middleware): a fresh nonce and CSP for every page request. Next reads
 * the CSP from the request headers and puts the nonce on every script it renders; the response
 * carries the same policy to the browser. Pages are rendered per request (see app/layout.tsx),
 * since a prerendered page cannot know a per-request nonce.
 */
export function proxy(request: NextRequest) {
  const nonce = makeNonce();
  // The host the browser asked for (nextUrl says "localhost" for 127.0.0.1): lib/api.ts calls the API there.
  const host = request.headers.get('host') ?? request.nextUrl.host;
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  const forwardedProto = request.headers.get('x-forwarded-proto')?.split(',')[0].trim();
  const csp = buildCsp({
    nonce,
    protocol: forwardedProto === 'https' ? 'https:' : request.nextUrl.protocol,
    hostname,
    apiUrl: process.env.NEXT_PUBLIC_API_URL,
    dev: process.env.NODE_ENV === 'development',
  });
  const headers = new Headers(request.headers);
  headers.set('x-nonce', nonce);
  headers.set('content-security-policy', csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set('content-security-policy', csp);
  return response;
}

export const config = {
  // Pages only: static assets, images and prefetches need no nonce (and no per-request work).
  matcher: [
    {
      source: '/((?!_next/static|_next/image|favicon.ico|icon.svg).*)',
      missing: [
        { type: 'header', key: 'next-router-prefetch' },
        { type: 'header', key: 'purpose', value: 'prefetch' },
      ],
    },
  ],
};

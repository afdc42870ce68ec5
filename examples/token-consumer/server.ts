/**
 * A minimal service of the broker (say, trading) that accepts our access tokens: it verifies each
 * one with the public keys from the auth API's JWKS and nothing else (no shared secret, no call to
 * the auth API per request). Run: `npx tsx examples/token-consumer/server.ts` with
 *   AUTH_JWKS_URL   http://127.0.0.1:3001/.well-known/jwks.json
 *   AUTH_ISSUER     cfd-broker-auth (the API's JWT_ISSUER)
 *   AUDIENCE        trading (this service's name in ACCESS_TOKEN_AUDIENCES)
 *   PORT            4100 (0: any free port; the first stdout line says which)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface ConsumerOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  port?: number;
  /** Seconds of clock difference tolerated on exp/iat; at most the API's ACCESS_TOKEN_CLOCK_SKEW_S. */
  clockToleranceS?: number;
}

/** The claims a handler may rely on once the token verified. */
export interface Caller {
  userId: string;
  sessionId: string;
  amr: string[];
  authTime: number;
}

export function createVerifier(opts: Pick<ConsumerOptions, 'jwksUrl' | 'issuer' | 'audience' | 'clockToleranceS'>) {
  // Fetched once and cached; a token signed by a key it has not seen yet makes it refetch (at most every 30 s).
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  return async (token: string): Promise<Caller> => {
    const { payload } = await jwtVerify<JWTPayload & { sid: string; amr: string[]; auth_time: number }>(token, jwks, {
      issuer: opts.issuer,
      audience: opts.audience,
      algorithms: ['ES256'],
      typ: 'at+jwt',
      clockTolerance: opts.clockToleranceS ?? 30,
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
    });
    return { userId: payload.sub!, sessionId: payload.sid, amr: payload.amr ?? [], authTime: payload.auth_time };
  };
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export async function start(opts: ConsumerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const verify = createVerifier(opts);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' || req.url !== '/whoami') return send(res, 404, { code: 'NOT_FOUND', message: 'Not found.' });
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return send(res, 401, { code: 'UNAUTHENTICATED', message: 'Send an access token.' }, { 'www-authenticate': 'Bearer' });
    verify(header.slice(7)).then(
      (caller) => send(res, 200, { caller }),
      (err: unknown) => {
        // A JWKS that cannot be fetched is our outage, not the caller's fault.
        if (err instanceof errors.JWKSTimeout || (err instanceof Error && !(err instanceof errors.JOSEError))) return send(res, 503, { code: 'UNAVAILABLE', message: 'Cannot check tokens right now.' });
        send(res, 401, { code: 'INVALID_TOKEN', message: 'The access token is not valid here.' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

if (require.main === module) {
  start({
    jwksUrl: process.env.AUTH_JWKS_URL ?? 'http://127.0.0.1:3001/.well-known/jwks.json',
    issuer: process.env.AUTH_ISSUER ?? 'cfd-broker-auth',
    audience: process.env.AUDIENCE ?? 'trading',
    port: Number(process.env.PORT ?? 4100),
  })
    .then(({ url }) => process.stdout.write(`${JSON.stringify({ listening: url })}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`token consumer: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}

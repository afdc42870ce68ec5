import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createAccount } from '../../testkit/accounts';
import { ApiClient } from '../../testkit/http';
import { ensureSigningKey } from '../../testkit/signing-keys';
import { startSystem, type System } from '../../testkit/system';

const ROOT = path.resolve(__dirname, '../..');

/** examples/token-consumer as its owners would run it: its own process, jose, our JWKS URL, nothing else. */
async function startConsumer(jwksUrl: string, issuer: string, audience: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/token-consumer/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: issuer, AUDIENCE: audience, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), once(child, 'exit').then(() => { throw new Error('the example exited'); })])) as [string];
  return { url: (JSON.parse(line) as { listening: string }).listening, child };
}

describe('examples/token-consumer against the real API', () => {
  let sys: System;
  let consumer: { url: string; child: ChildProcess };

  beforeAll(async () => {
    sys = await startSystem({});
    await ensureSigningKey(sys.config);
    consumer = await startConsumer(new URL('/.well-known/jwks.json', sys.api.url).toString(), sys.config.JWT_ISSUER, 'trading');
  });
  afterAll(async () => {
    consumer?.child.kill();
    await sys?.close();
  });

  const whoami = async (token: string) => {
    const res = await fetch(`${consumer.url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('a token minted for the service verifies there; one for another audience, or a session cookie, is refused', async () => {
    const acct = await createAccount(sys.apiUrl, 'consumer');
    const trading = await acct.client.post('/token', { audience: 'trading' });
    expect(trading.status).toBe(200);
    expect(await whoami(trading.body.access_token)).toEqual({ status: 200, body: { caller: { userId: acct.user.id, sessionId: expect.any(String), amr: ['otp'], authTime: expect.any(Number) } } });

    const payments = await acct.client.post('/token', { audience: 'payments' });
    expect(payments.status).toBe(200);
    expect(await whoami(payments.body.access_token)).toEqual({ status: 401, body: { code: 'INVALID_TOKEN', message: expect.any(String) } });

    // The session cookie is an HS256 JWT of ours too, but not an access token.
    const sessionJwt = acct.client.cookie!.slice(acct.client.cookie!.indexOf('=') + 1);
    expect((await whoami(sessionJwt)).status).toBe(401);
    // A token whose signature was tampered with.
    const t = trading.body.access_token as string;
    const tampered = t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await whoami(tampered)).status).toBe(401);
  });

  it('after logout no token is minted for the session', async () => {
    const acct = await createAccount(sys.apiUrl, 'consumer-logout');
    const cookie = acct.client.cookie!;
    const before = await acct.client.post('/token', { audience: 'trading' });
    expect((await whoami(before.body.access_token)).status).toBe(200);
    expect((await acct.client.post('/logout', {})).status).toBe(204);
    const after = await new ApiClient(sys.apiUrl).post('/token', { audience: 'trading' }, { cookie });
    expect(after.status).toBe(401);
    expect(after.body.access_token).toBeUndefined();
  });
});

import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { deriveKeys } from '../../common/crypto';
import { allKeys, keyPolicy, RotationError, rotateSigningKey } from '../../api/tokens/signing-keys';
import { createAccount } from '../../testkit/accounts';
import { testConfig } from '../../testkit/env';
import { isolatedKeyDatabase, resetSigningKeys, withKeysOrm } from '../../testkit/signing-keys';
import { startSystem, type System } from '../../testkit/system';
import { eventually, sleep } from '../../testkit/wait';

/**
 * Short lifetimes: tokens live 3 s, a new key is published 8 s before it signs (JWKS max-age 2 s),
 * the API re-reads keys every 200 ms, and a retired key stays 1 s past its last token.
 */
const LIFETIMES = { ACCESS_TOKEN_TTL_S: '3', SIGNING_KEY_PUBLISH_LEAD_S: '8', SIGNING_KEY_REFRESH_MS: '200', ACCESS_TOKEN_CLOCK_SKEW_S: '1' };

interface Minted {
  token: string;
  kid: string;
  exp: number;
}

describe('signing key rotation while tokens are in flight', () => {
  let sys: System;
  let keysDb: string;

  beforeAll(async () => {
    const shared = testConfig();
    keysDb = await isolatedKeyDatabase(shared, 'keyrot');
    // The API reads its keys from the rotation's own database; the DB processor keeps the shared one.
    sys = await startSystem({ env: { ...LIFETIMES, DATABASE_URL: keysDb }, dbProcessorEnv: { DATABASE_URL: shared.DATABASE_URL } });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('every token verifies through the JWKS until its own expiry, and with any copy of the JWKS a consumer may still cache', async () => {
    const jwksUrl = new URL('/.well-known/jwks.json', sys.api.url);
    const jwks = async () => {
      const res = await fetch(jwksUrl);
      const body = (await res.json()) as { keys: { kid: string }[] };
      return { maxAge: Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]), body, kids: body.keys.map((k) => k.kid) };
    };
    const { maxAge } = await jwks();
    expect(maxAge).toBe(2);
    const acct = await createAccount(sys.apiUrl, 'rotation');
    const minted: Minted[] = [];
    const failures: string[] = [];
    // Copies of the JWKS as consumers fetch them: each may be used for max-age after it arrived.
    const copies: { at: number; keys: JWTVerifyGetKey }[] = [];
    const options = { audience: 'trading', issuer: sys.config.JWT_ISSUER, algorithms: ['ES256'] };

    /** Mints a token and checks it at once with every copy of the JWKS still within its max-age. */
    const mint = async (): Promise<Minted> => {
      const at = Date.now();
      const r = await acct.client.post('/token', { audience: 'trading' });
      if (r.status !== 200) throw new Error(`POST /token answered ${r.status}: ${r.text}`);
      const token = r.body.access_token as string;
      const m = { token, kid: decodeProtectedHeader(token).kid!, exp: decodeJwt(token).exp! };
      for (const copy of copies.filter((c) => c.at <= at && at < c.at + maxAge * 1000)) {
        await jwtVerify(token, copy.keys, options).catch((err: Error) => {
          failures.push(`a JWKS copy ${at - copy.at} ms old, new token of ${m.kid.slice(0, 8)}: ${err.message}`);
        });
      }
      minted.push(m);
      return m;
    };
    /** Every token not yet expired, checked with a JWKS fetched now. */
    const verifyLive = async () => {
      const fresh = createRemoteJWKSet(jwksUrl);
      for (const m of minted) {
        if (m.exp * 1000 - Date.now() < 150) continue; // expired, or about to be before the check ends
        await jwtVerify(m.token, fresh, options).catch((err: Error) => {
          failures.push(`a fresh JWKS, token of ${m.kid.slice(0, 8)} expiring in ${m.exp * 1000 - Date.now()} ms: ${err.message}`);
        });
      }
    };

    copies.push({ at: Date.now(), keys: createLocalJWKSet((await jwks()).body as never) });
    const before = (await mint()).kid;
    const { next } = await withKeysOrm(keysDb, (em) => rotateSigningKey(em, deriveKeys(sys.config), keyPolicy(sys.config)));
    expect(next.kid).not.toBe(before);
    const activation = next.activatesAt.getTime();

    // Mint and verify every live token until the new key has signed for a while.
    while (Date.now() < activation + 1500) {
      copies.push({ at: Date.now(), keys: createLocalJWKSet((await jwks()).body as never) });
      const m = await mint();
      if (m.kid === next.kid) expect(Date.now()).toBeGreaterThanOrEqual(activation); // never signs before its time
      await verifyLive();
      await sleep(200);
    }
    // The last tokens of each key, checked until each expires.
    while (minted.some((m) => m.exp * 1000 - Date.now() >= 150)) {
      await verifyLive();
      await sleep(250);
    }

    expect(failures).toEqual([]);
    expect([...new Set(minted.map((m) => m.kid))]).toEqual([before, next.kid]);
    expect(minted.filter((m) => m.kid === before).length).toBeGreaterThan(10);
    // Once its last token has expired (plus the skew), the old key leaves the JWKS.
    await eventually(async () => ((await jwks()).kids.includes(before) ? undefined : true), 10_000, 'the old key retired');
    expect((await jwks()).kids).toEqual([next.kid]);
  });

  it('a second rotation while a key is still pending is refused and changes nothing', async () => {
    await resetSigningKeys(keysDb, sys.config);
    const policy = keyPolicy(sys.config);
    const keys = deriveKeys(sys.config);
    const before = await withKeysOrm(keysDb, async (em) => (await rotateSigningKey(em, keys, policy)).next);
    const snapshot = () => withKeysOrm(keysDb, async (em) => (await allKeys(em)).map((k) => [k.kid, k.activatesAt.toISOString(), k.retiresAt?.toISOString() ?? null]));
    const rows = await snapshot();
    await expect(withKeysOrm(keysDb, (em) => rotateSigningKey(em, keys, policy))).rejects.toThrow(RotationError);
    expect(await snapshot()).toEqual(rows);
    expect(rows.find(([kid]) => kid === before.kid)).toEqual([before.kid, before.activatesAt.toISOString(), null]);
  });

  it('npm run keys: rotate publishes the next key and prints when it signs, list shows each state, a second rotate exits 3', async () => {
    await resetSigningKeys(keysDb, sys.config);
    const keysCli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/keys-cli.ts', ...args], {
        cwd: path.resolve(__dirname, '../..'),
        // A lead long enough that the key is still pending when the next command (seconds later) runs.
        env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: keysDb, ...LIFETIMES, SIGNING_KEY_PUBLISH_LEAD_S: '600' },
        encoding: 'utf8',
      });
    const rotated = keysCli('rotate');
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/^published \S+; it signs from \S+ \(in 600 s; the JWKS max-age is 150 s\)$/m);
    expect(rotated.stdout).toMatch(/ pending /);
    expect(rotated.stdout).toMatch(/ signing /);
    const again = keysCli('rotate');
    expect(again.status).toBe(3);
    expect(again.stderr).toMatch(/not rotated: key \S+ is already waiting to sign/);
    const list = keysCli('list');
    expect(list.status).toBe(0);
    expect(list.stdout.trim().split('\n')).toHaveLength(3); // header, pending, signing
    expect(keysCli('bogus').status).toBe(2);
    await resetSigningKeys(keysDb, sys.config);
  });
});

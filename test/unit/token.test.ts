import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { signSessionToken, tokenConfig, verifySessionToken } from '../../api/sessions/token';

const base = { JWT_ISSUER: 'cfd-broker-auth', JWT_AUDIENCE: 'cfd-broker' };
const OLD = 'old-secret-'.repeat(4);
const NEW = 'new-secret-'.repeat(4);
const claims = { sub: 'user-1', sid: 'session-1' };

describe('session token keys: kid header and rotation', () => {
  it('names its signing key in the kid header', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    const token = signSessionToken(cfg, claims, 60);
    expect(jwt.decode(token, { complete: true })!.header.kid).toBe(cfg.keyId);
    expect(cfg.keyId).not.toBe(tokenConfig({ ...base, JWT_SECRET: OLD }).keyId);
  });

  it('after a rotation, tokens of the previous key verify while it is listed, and not after', () => {
    const before = tokenConfig({ ...base, JWT_SECRET: OLD });
    const token = signSessionToken(before, claims, 60);
    const during = tokenConfig({ ...base, JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: [OLD] });
    expect(verifySessionToken(during, token)).toEqual(claims);
    expect(verifySessionToken(during, signSessionToken(during, claims, 60))).toEqual(claims);
    const after = tokenConfig({ ...base, JWT_SECRET: NEW });
    expect(verifySessionToken(after, token)).toBeUndefined();
  });

  it('a kid naming no key of the ring, or a kid pointing at the wrong key, is refused', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: [OLD] });
    const opts = { algorithm: 'HS256' as const, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE, subject: claims.sub, expiresIn: 60 };
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, keyid: 'unknown1' }))).toBeUndefined();
    const oldId = tokenConfig({ ...base, JWT_SECRET: OLD }).keyId;
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, keyid: oldId }))).toBeUndefined();
  });

  it('a token from before key ids (no kid) verifies under the current key only', () => {
    const opts = { algorithm: 'HS256' as const, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE, subject: claims.sub, expiresIn: 60 };
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: [OLD] });
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, opts))).toEqual(claims);
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, OLD, opts))).toBeUndefined();
  });

  it('a well-signed token without a session id, or with a header that is no JSON object, is refused', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    const opts = { algorithm: 'HS256' as const, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE, expiresIn: 60, keyid: cfg.keyId };
    expect(verifySessionToken(cfg, jwt.sign({}, NEW, { ...opts, subject: claims.sub }))).toBeUndefined();
    expect(verifySessionToken(cfg, jwt.sign({ sid: 42 }, NEW, { ...opts, subject: claims.sub }))).toBeUndefined();
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, opts))).toBeUndefined();
    const [, body, sig] = signSessionToken(cfg, claims, 60).split('.');
    for (const header of ['"HS256"', 'null', '42']) {
      expect(verifySessionToken(cfg, `${Buffer.from(header).toString('base64url')}.${body}.${sig}`)).toBeUndefined();
    }
    expect(verifySessionToken(cfg, `.${body}.${sig}`)).toBeUndefined();
    expect(verifySessionToken(cfg, 'no-dots-at-all')).toBeUndefined();
  });

  it('a token for another issuer or audience is refused', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    const opts = { algorithm: 'HS256' as const, expiresIn: 60, keyid: cfg.keyId, subject: claims.sub };
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, issuer: 'someone-else', audience: base.JWT_AUDIENCE }))).toBeUndefined();
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, issuer: base.JWT_ISSUER, audience: 'another-app' }))).toBeUndefined();
    expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE }))).toEqual(claims);
  });

  it('a key id is the same from release to release (tokens in circulation name it)', () => {
    expect(tokenConfig({ ...base, JWT_SECRET: NEW }).keyId).toBe('4F8pvEUH');
    expect(tokenConfig({ ...base, JWT_SECRET: OLD }).keyId).toBe('f-7J4y_l');
    // Without previous secrets the ring holds the current key alone.
    expect([...tokenConfig({ ...base, JWT_SECRET: NEW }).keys.byId.keys()]).toEqual(['4F8pvEUH']);
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: [OLD, NEW] });
    expect([...cfg.keys.byId.keys()]).toEqual(['4F8pvEUH', 'f-7J4y_l']);
    expect(cfg.key).toBe(cfg.keys.byId.get(cfg.keyId));
    expect(cfg.key.export().toString('utf8')).toBe(NEW);
  });

  it('a signed token is HS256 and carries the subject, session, issuer, audience and its expiry', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    const decoded = jwt.decode(signSessionToken(cfg, claims, 600), { complete: true })!;
    expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT', kid: cfg.keyId });
    const payload = decoded.payload as jwt.JwtPayload;
    expect(payload).toEqual({ sid: claims.sid, sub: claims.sub, iss: base.JWT_ISSUER, aud: base.JWT_AUDIENCE, iat: expect.any(Number), exp: expect.any(Number) });
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('an expired token is refused', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    expect(verifySessionToken(cfg, signSessionToken(cfg, claims, -10))).toBeUndefined();
  });

  it('a token under the right key and kid but another algorithm (HS384, HS512) is refused', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    for (const algorithm of ['HS384', 'HS512'] as const) {
      const token = jwt.sign({ sid: claims.sid }, NEW, { algorithm, keyid: cfg.keyId, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE, subject: claims.sub, expiresIn: 60 });
      expect(verifySessionToken(cfg, token)).toBeUndefined();
    }
  });

  it('a well-signed token whose subject is not a string is refused', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    const token = jwt.sign({ sid: claims.sid, sub: 42 }, NEW, { algorithm: 'HS256', keyid: cfg.keyId, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE, expiresIn: 60 });
    expect(verifySessionToken(cfg, token)).toBeUndefined();
  });

  describe('the verifier (own HS256 check, no JSON before the signature)', () => {
    const cfg = tokenConfig({ ...base, JWT_SECRET: NEW });
    const opts = { algorithm: 'HS256' as const, keyid: cfg.keyId, issuer: base.JWT_ISSUER, audience: base.JWT_AUDIENCE, subject: claims.sub };
    const good = signSessionToken(cfg, claims, 60);
    const [h, p, sig] = good.split('.');
    /** A token of ours with `body` as its payload, signed by hand (jsonwebtoken refuses to sign odd payloads). */
    const signed = (body: string) => {
      const seg = Buffer.from(body).toString('base64url');
      return `${h}.${seg}.${createHmac('sha256', NEW).update(`${h}.${seg}`).digest('base64url')}`;
    };

    it('refuses a changed signature, payload or header, and one more segment', () => {
      expect(verifySessionToken(cfg, good)).toEqual(claims);
      const flip = (c: string) => (c === 'A' ? 'B' : 'A');
      expect(verifySessionToken(cfg, `${h}.${p}.${sig.slice(0, -1)}${flip(sig.slice(-1))}`)).toBeUndefined();
      expect(verifySessionToken(cfg, `${h}.${p}.${flip(sig[0])}${sig.slice(1)}`)).toBeUndefined();
      expect(verifySessionToken(cfg, `${h}.${p}.${sig}=`)).toBeUndefined();
      expect(verifySessionToken(cfg, `${h}.${p}.`)).toBeUndefined();
      const other = Buffer.from(JSON.stringify({ ...jwt.decode(good) as object, sub: 'user-2' })).toString('base64url');
      expect(verifySessionToken(cfg, `${h}.${other}.${sig}`)).toBeUndefined();
      expect(verifySessionToken(cfg, `${good}.${sig}`)).toBeUndefined();
    });

    it('refuses alg none and a header that says HS256 in other words', () => {
      const none = Buffer.from('{"alg":"none","typ":"JWT","kid":"' + cfg.keyId + '"}').toString('base64url');
      expect(verifySessionToken(cfg, `${none}.${p}.`)).toBeUndefined();
      const spaced = Buffer.from('{"alg": "HS256","typ":"JWT","kid":"' + cfg.keyId + '"}').toString('base64url');
      expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, expiresIn: 60 }).replace(/^[^.]+/, spaced))).toBeUndefined();
    });

    it('requires exp, honours nbf, and takes an audience list that holds ours', () => {
      expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, opts))).toBeUndefined();
      expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, expiresIn: 60, notBefore: 30 }))).toBeUndefined();
      expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, { ...opts, expiresIn: 60, notBefore: 0 }))).toEqual(claims);
      const list = { ...opts, audience: ['another-app', base.JWT_AUDIENCE], expiresIn: 60 };
      expect(verifySessionToken(cfg, jwt.sign({ sid: claims.sid }, NEW, list))).toEqual(claims);
      const exp = Math.floor(Date.now() / 1000) + 60;
      expect(verifySessionToken(cfg, signed(JSON.stringify({ ...claims, iss: base.JWT_ISSUER, aud: base.JWT_AUDIENCE, exp })))).toEqual(claims);
      expect(verifySessionToken(cfg, signed(JSON.stringify({ ...claims, iss: base.JWT_ISSUER, aud: base.JWT_AUDIENCE, exp, iat: 'yesterday' })))).toBeUndefined();
    });

    it('refuses a payload that is not a JSON object', () => {
      for (const body of ['[1]', '"x"', 'null', '{oops']) expect(verifySessionToken(cfg, signed(body))).toBeUndefined();
    });
  });
});

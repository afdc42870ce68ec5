import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SealContext, unseal, type Keys } from '../../common/crypto';
import { unavailable } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { SigningKey } from '../../entities/signing-key.entity';

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

interface CachedKey {
  kid: string;
  jwk: PublicJwk;
  activatesAt: number;
  retiresAt: number;
  privateKey: KeyObject;
}

/**
 * The published signing keys in memory, re-read every `refreshMs`: no database hop per token nor
 * per JWKS request. Which key signs and which are published is decided from the stored times at
 * the moment of the request, so every instance switches keys at the same instant whatever its
 * last refresh. Keys older than `maxStaleMs` are not used: a token signed from a stale view could
 * outlive its key's publication (then 503 until the database answers again).
 */
export class SigningKeyCache {
  private keys: CachedKey[] = [];
  private loadedAt = 0;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;

  constructor(
    private readonly load: () => Promise<SigningKey[]>,
    private readonly sealKeys: Keys,
    private readonly opts: { refreshMs: number; maxStaleMs: number; logger: Logger },
  ) {}

  /** Loads once (a failure is logged, not thrown: the API starts and answers 503 until it loads), then keeps refreshing. */
  async start(): Promise<void> {
    await this.refresh().catch(() => undefined);
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.opts.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-reads the keys now (a refresh already under way is shared). */
  refresh(): Promise<void> {
    this.refreshing ??= this.reload().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async reload(): Promise<void> {
    try {
      const rows = await this.load();
      const known = new Map(this.keys.map((k) => [k.kid, k]));
      this.keys = rows.map((row) => ({
        kid: row.kid,
        jwk: { ...row.publicJwk, kid: row.kid, alg: 'ES256', use: 'sig' },
        activatesAt: row.activatesAt.getTime(),
        retiresAt: row.retiresAt ? row.retiresAt.getTime() : Number.POSITIVE_INFINITY,
        privateKey: known.get(row.kid)?.privateKey ?? this.open(row),
      }));
      this.loadedAt = Date.now();
    } catch (err) {
      this.opts.logger.warn({ err: { message: (err as Error).message } }, 'signing keys not refreshed');
      throw err;
    }
  }

  private open(row: SigningKey): KeyObject {
    const der = Buffer.from(unseal(this.sealKeys, row.privateKeySealed, SealContext.signingKey(row.kid)), 'base64');
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }

  private fresh(now: number): void {
    if (this.loadedAt === 0 || now - this.loadedAt > this.opts.maxStaleMs) throw unavailable('postgres');
  }

  /** The key that signs at `now`: the newest activated one that is not retired. */
  signingKey(now = Date.now()): { kid: string; privateKey: KeyObject } {
    this.fresh(now);
    let best: CachedKey | undefined;
    for (const k of this.keys) {
      if (k.activatesAt <= now && k.retiresAt > now && (!best || k.activatesAt > best.activatesAt)) best = k;
    }
    if (!best) throw unavailable('signing-key');
    return best;
  }

  /** The public keys to publish at `now`: every key not yet retired, the pending one included. */
  published(now = Date.now()): PublicJwk[] {
    this.fresh(now);
    return this.keys.filter((k) => k.retiresAt > now).map((k) => k.jwk);
  }
}

import bcrypt from 'bcrypt';
import { percentile } from './load';

export interface BcryptFloor {
  cost: number;
  hash_ms: number;
  compare_ms: number;
  hash_samples: number;
  compare_samples: number;
  /** Compares per second with `parallel` compares in flight (libuv's pool of 4 on this machine's cores). */
  compares_per_s_parallel: number;
  parallel: number;
  /** Where the headline figures come from (the load on the shared cores drifts during a run). */
  measured?: string;
  at_start?: { hash_ms: number; compare_ms: number; compares_per_s_parallel: number };
}

const PASSWORD = 'bench-floor-password-0123';

/** The median of `n` timed runs of `fn`, in ms. */
async function medianOf(n: number, fn: () => Promise<unknown>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    xs.push(ms(t0));
  }
  return med(xs);
}

export async function medianHash(cost: number, n: number): Promise<number> {
  return medianOf(n, () => bcrypt.hash(PASSWORD, cost));
}

export async function medianCompare(cost: number, n: number): Promise<number> {
  const hash = await bcrypt.hash(PASSWORD, cost);
  return medianOf(n, () => bcrypt.compare(PASSWORD, hash));
}

/** Compares per second with `parallel` in flight for `seconds`. */
export async function parallelCompares(cost: number, seconds: number, parallel = 4): Promise<number> {
  const hash = await bcrypt.hash(PASSWORD, cost);
  let done = 0;
  const t0 = process.hrtime.bigint();
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() < until) {
        await bcrypt.compare(PASSWORD, hash);
        done += 1;
      }
    }),
  );
  return Math.round((done / (ms(t0) / 1000)) * 100) / 100;
}

function med(xs: number[]): number {
  return Math.round((percentile([...xs].sort((a, b) => a - b), 50) ?? 0) * 100) / 100;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** The physical floor, measured in this process with the same bcrypt module the services use. */
export async function measureBcrypt(cost: number, opts: { hashes: number; compares: number; parallelS: number; parallel?: number }): Promise<BcryptFloor> {
  const password = 'bench-floor-password-0123';
  await bcrypt.hash(password, 4); // load the binding
  const hashTimes: number[] = [];
  let hash = '';
  for (let i = 0; i < opts.hashes; i++) {
    const t0 = process.hrtime.bigint();
    hash = await bcrypt.hash(password, cost);
    hashTimes.push(ms(t0));
  }
  const compareTimes: number[] = [];
  for (let i = 0; i < opts.compares; i++) {
    const t0 = process.hrtime.bigint();
    await bcrypt.compare(password, hash);
    compareTimes.push(ms(t0));
  }
  const parallel = opts.parallel ?? 4;
  let done = 0;
  const t0 = process.hrtime.bigint();
  const until = Date.now() + opts.parallelS * 1000;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() < until) {
        await bcrypt.compare(password, hash);
        done += 1;
      }
    }),
  );
  const elapsed = ms(t0) / 1000;
  const med = (xs: number[]) => Math.round((percentile([...xs].sort((a, b) => a - b), 50) ?? 0) * 100) / 100;
  return {
    cost,
    hash_ms: med(hashTimes),
    compare_ms: med(compareTimes),
    hash_samples: hashTimes.length,
    compare_samples: compareTimes.length,
    compares_per_s_parallel: Math.round((done / elapsed) * 100) / 100,
    parallel,
  };
}

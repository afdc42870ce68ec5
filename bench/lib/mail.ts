import { sleep } from './procs';

/**
 * MailDev's JSON API. The benchmark never empties the shared inbox (other sessions and tests read it):
 * it finds its own messages by a run-unique address prefix (`/api/email/summary?search=`, whose
 * `preview` holds the start of the text, where the code is) and deletes only those at the end.
 */
export interface Found {
  id: string;
  to: string;
  code?: string;
  time: string;
}

interface SummaryPage {
  items: { id: string; time: string; to?: { address: string }[]; preview?: string }[];
  total: number;
}

const CODE = /\b(\d{6})\b/;

export class MailDev {
  constructor(readonly url: string) {}

  private async page(search: string, skip: number, limit: number): Promise<SummaryPage> {
    const q = new URLSearchParams({ search, skip: String(skip), limit: String(limit), sort: 'asc' });
    const res = await fetch(`${this.url}/api/email/summary?${q}`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`MailDev summary answered ${res.status}`);
    return (await res.json()) as SummaryPage;
  }

  /** How many messages match `search` (one cheap call). */
  async count(search: string): Promise<number> {
    return (await this.page(search, 0, 1)).total;
  }

  /** Every message matching `search`, with the 6-digit code of its text. */
  async list(search: string): Promise<Found[]> {
    const out: Found[] = [];
    for (let skip = 0; ; skip += 200) {
      const p = await this.page(search, skip, 200);
      for (const m of p.items) {
        out.push({ id: m.id, to: (m.to?.[0]?.address ?? '').toLowerCase(), code: CODE.exec(m.preview ?? '')?.[1], time: m.time });
      }
      if (p.items.length < 200 || skip + 200 >= p.total) break;
    }
    return out;
  }

  /** Waits until every address in `want` has a code (the latest one wins); returns address → code. */
  async waitCodes(search: string, want: Iterable<string>, timeoutMs: number): Promise<Map<string, string>> {
    const need = new Set([...want].map((a) => a.toLowerCase()));
    const got = new Map<string, string>();
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      for (const m of await this.list(search)) if (m.code && need.has(m.to)) got.set(m.to, m.code);
      if (got.size >= need.size) return got;
      await sleep(250);
    }
    return got;
  }

  /** Deletes every message matching `search`; returns how many. */
  async deleteMatching(search: string, maxMs = 60_000): Promise<number> {
    let deleted = 0;
    const until = Date.now() + maxMs;
    while (Date.now() < until) {
      const p = await this.page(search, 0, 200);
      if (p.items.length === 0) break;
      const res = await fetch(`${this.url}/api/email/delete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids: p.items.map((m) => m.id) }),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) break;
      deleted += ((await res.json()) as { deleted: string[] }).deleted.length;
    }
    return deleted;
  }
}

/**
 * One poller for many waiters (signup_to_verified at concurrency 50): polls `search` every
 * `everyMs` and resolves each address's waiter with its code.
 */
export class CodeWatcher {
  private readonly waiters = new Map<string, (code: string) => void>();
  private readonly seen = new Set<string>();
  /** Codes that arrived before anyone waited for them. */
  private readonly early = new Map<string, string>();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly mail: MailDev,
    private readonly search: string,
    private readonly everyMs = 50,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        if (this.waiters.size > 0) {
          try {
            for (const m of await this.mail.list(this.search)) {
              if (!m.code || this.seen.has(m.id)) continue;
              this.seen.add(m.id);
              const w = this.waiters.get(m.to);
              if (w) {
                this.waiters.delete(m.to);
                w(m.code);
              } else {
                this.early.set(m.to, m.code);
              }
            }
          } catch {
            // MailDev busy: try again
          }
        }
        await sleep(this.everyMs);
      }
    })();
  }

  wait(address: string, timeoutMs: number): Promise<string> {
    const key = address.toLowerCase();
    const already = this.early.get(key);
    if (already) {
      this.early.delete(key);
      return Promise.resolve(already);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`no code for ${address} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(key, (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

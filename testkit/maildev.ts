import { MAILDEV_URL } from './env';
import { eventually, sleep } from './wait';

/**
 * The one MailDev client of tests, bench, chaos and web/e2e. MailDev's inbox is shared (other tests,
 * other runs, an `npm start`): nobody empties it; each reader finds its own messages by a unique
 * address (or run-unique address prefix) with the server-side search of `/api/email/summary`, and
 * reads only those.
 */
export interface Mail {
  id: string;
  to: { address: string }[];
  subject: string;
  text: string;
  html: string;
  time: string;
}

/** A summary row: one recipient, the 6-digit code of its text (from the preview) when it has one. */
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
const LINK_TOKEN = /[?&]token=([A-Za-z0-9._-]+)/;

/** The code of a mail's text; throws when it has none. */
export function codeOf(mail: Pick<Mail, 'text' | 'subject'>): string {
  const m = CODE.exec(mail.text);
  if (!m) throw new Error(`no code in mail "${mail.subject}"`);
  return m[1];
}

export class MailDev {
  constructor(readonly url: string = MAILDEV_URL.replace(/\/+$/, '')) {}

  private async getJson<T>(pathAndQuery: string, timeoutMs = 10_000): Promise<T> {
    const res = await fetch(`${this.url}${pathAndQuery}`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`MailDev ${pathAndQuery.split('?')[0]} answered ${res.status}`);
    return (await res.json()) as T;
  }

  private page(search: string, skip: number, limit: number, sort: 'asc' | 'desc' = 'asc'): Promise<SummaryPage> {
    const q = new URLSearchParams({ search, skip: String(skip), limit: String(limit), sort });
    return this.getJson<SummaryPage>(`/api/email/summary?${q}`);
  }

  /** How many messages match `search` (one cheap call). */
  async count(search: string): Promise<number> {
    return (await this.page(search, 0, 1)).total;
  }

  /** Every message matching `search` (oldest first), with the 6-digit code of its text. */
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

  /** The newest `limit` messages in full (subject, text): for readers that keep their own copy. */
  recent(limit: number, timeoutMs = 5_000): Promise<Mail[]> {
    return this.getJson<Mail[]>(`/api/email?sort=desc&limit=${limit}`, timeoutMs);
  }

  /** Every message in full: the fallback of a reader whose messages may have left the newest page. */
  all(timeoutMs = 20_000): Promise<Mail[]> {
    return this.getJson<Mail[]>('/api/email', timeoutMs);
  }

  /** The messages to exactly this address, oldest first, in full. */
  async mailsTo(address: string): Promise<Mail[]> {
    const want = address.toLowerCase();
    const found = (await this.list(want)).filter((m) => m.to === want);
    return Promise.all(found.map((m) => this.getJson<Mail>(`/api/email/${encodeURIComponent(m.id)}`)));
  }

  /** Waits for the `n`-th mail (1-based) to an address. */
  waitForMail(address: string, n = 1, timeoutMs = 30_000): Promise<Mail> {
    return eventually(async () => (await this.mailsTo(address))[n - 1], timeoutMs, `mail #${n} to ${address}`);
  }

  /** The code in the `n`-th mail to an address. */
  async waitForCode(address: string, n = 1, timeoutMs = 30_000): Promise<string> {
    return codeOf(await this.waitForMail(address, n, timeoutMs));
  }

  /** Waits until every address in `want` has a code (the latest one wins); returns address → code. */
  async waitCodes(search: string, want: Iterable<string>, timeoutMs: number): Promise<Map<string, string>> {
    const need = new Set([...want].map((a) => a.toLowerCase()));
    const got = new Map<string, string>();
    await eventually(async () => {
      for (const m of await this.list(search)) if (m.code && need.has(m.to)) got.set(m.to, m.code);
      return got.size >= need.size ? true : undefined;
    }, timeoutMs, 'codes', 250).catch(() => undefined);
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

const defaultMailDev = new MailDev();

/** The messages to exactly this address on the stack's MailDev (MAILDEV_URL), oldest first. */
export const mailsTo = (address: string) => defaultMailDev.mailsTo(address);
/** Waits for the `n`-th mail (1-based) to an address on the stack's MailDev. */
export const waitForMail = (address: string, n = 1, timeoutMs = 30_000) => defaultMailDev.waitForMail(address, n, timeoutMs);
/**
 * The `n`-th mail (1-based) to an address with exactly this subject, waiting until it arrives.
 * Safer than counting every mail: notices (a new sign-in, say) arrive asynchronously, in any order.
 */
export const mailWithSubject = (address: string, subject: string, n = 1, timeoutMs = 30_000, pollMs?: number): Promise<Mail> =>
  eventually(async () => (await mailsTo(address)).filter((m) => m.subject === subject)[n - 1], timeoutMs, `"${subject}" #${n} to ${address}`, pollMs);
/** The code in the `n`-th mail to an address on the stack's MailDev. */
export const waitForCode = (address: string, n = 1, timeoutMs = 30_000) => defaultMailDev.waitForCode(address, n, timeoutMs);
/** Every code of `want` (addresses containing `search`) on the stack's MailDev, found by one poller. */
export const waitCodes = (search: string, want: Iterable<string>, timeoutMs: number) => defaultMailDev.waitCodes(search, want, timeoutMs);

/**
 * One poller for many waiters (bench: signup_to_verified at concurrency 50): polls `search` every
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

export interface ArchivedMail {
  key: string;
  to: string;
  subject: string;
  code?: string;
  /** The token of a one-time link in the mail (an email change's undo, a closure's restore). */
  token?: string;
  receivedAt: number;
}

/**
 * Keeps every mail MailDev received for the addresses we watch (chaos). MailDev holds mail in
 * memory and forgets it when it restarts (the SMTP outage scenario restarts it): we poll its
 * newest messages often and keep our own copy.
 */
export class MailArchive {
  private readonly mails = new Map<string, ArchivedMail>();
  private readonly watched = new Set<string>();
  private readonly maildev: MailDev;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private lastPollAt = 0;
  pollErrors = 0;

  constructor(maildevUrl: string, readonly pageSize = 400) {
    this.maildev = new MailDev(maildevUrl);
  }

  watch(emails: Iterable<string>): void {
    for (const e of emails) this.watched.add(e.toLowerCase());
  }

  start(intervalMs = 700): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** One poll (never two at once). `full` reads the whole mailbox; otherwise the newest page. */
  poll(full = false): Promise<void> {
    if (this.polling) return this.polling.then(() => (full ? this.poll(true) : undefined));
    this.polling = this.doPoll(full).finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async doPoll(full: boolean): Promise<void> {
    const since = this.lastPollAt;
    const startedAt = Date.now();
    try {
      const list = full ? await this.maildev.all() : await this.maildev.recent(this.pageSize);
      for (const m of list) this.add(m);
      this.lastPollAt = startedAt;
      // A full page whose oldest mail is newer than our last poll may have pushed ours out.
      if (!full && list.length >= this.pageSize) {
        const oldest = Math.min(...list.map((m) => Date.parse(m.time ?? '') || Infinity));
        if (oldest > since - 2_000) await this.doPoll(true);
      }
    } catch {
      this.pollErrors += 1; // MailDev down (SMTP outage) or slow: the next poll catches up
    }
  }

  private add(m: Partial<Mail> & { id: string }): void {
    const to = (m.to ?? []).map((t) => t.address.toLowerCase()).find((a) => this.watched.has(a));
    if (!to) return;
    const receivedAt = Date.parse(m.time ?? '') || Date.now();
    const key = `${m.id}|${receivedAt}`;
    if (this.mails.has(key)) return;
    const code = CODE.exec(m.text ?? '')?.[1];
    const token = LINK_TOKEN.exec(m.text ?? '')?.[1];
    this.mails.set(key, { key, to, subject: m.subject ?? '', code, token, receivedAt });
  }

  mailsTo(email: string): ArchivedMail[] {
    const e = email.toLowerCase();
    return [...this.mails.values()].filter((m) => m.to === e).sort((a, b) => a.receivedAt - b.receivedAt);
  }

  /** Codes mailed to an address (only in mails with that subject, when given), oldest first. */
  codesFor(email: string, subject?: string): string[] {
    return this.mailsTo(email).flatMap((m) => (m.code && (subject === undefined || m.subject === subject) ? [m.code] : []));
  }
}

/**
 * Keeps every mail MailDev received for the addresses we watch. MailDev holds mail in memory and
 * forgets it when it restarts (the SMTP outage scenario restarts it), and other runs share it: we
 * poll its newest messages often and keep our own copy.
 */
export interface ArchivedMail {
  key: string;
  to: string;
  subject: string;
  code?: string;
  receivedAt: number;
}

interface RawMail {
  id: string;
  time?: string;
  date?: string;
  subject?: string;
  text?: string;
  to?: { address: string }[];
}

const CODE = /\b(\d{6})\b/;

export class MailArchive {
  private readonly mails = new Map<string, ArchivedMail>();
  private readonly watched = new Set<string>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private lastPollAt = 0;
  pollErrors = 0;

  constructor(readonly maildevUrl: string, readonly pageSize = 400) {}

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
      const url = full ? `${this.maildevUrl}/api/email` : `${this.maildevUrl}/api/email?sort=desc&limit=${this.pageSize}`;
      const res = await fetch(url, { signal: AbortSignal.timeout(full ? 20_000 : 5_000) });
      if (!res.ok) throw new Error(`maildev answered ${res.status}`);
      const list = (await res.json()) as RawMail[];
      for (const m of list) this.add(m);
      this.lastPollAt = startedAt;
      // A full page whose oldest mail is newer than our last poll may have pushed ours out.
      if (!full && list.length >= this.pageSize) {
        const oldest = Math.min(...list.map((m) => Date.parse(m.time ?? m.date ?? '') || Infinity));
        if (oldest > since - 2_000) await this.doPoll(true);
      }
    } catch {
      this.pollErrors += 1; // MailDev down (SMTP outage) or slow: the next poll catches up
    }
  }

  private add(m: RawMail): void {
    const to = (m.to ?? []).map((t) => t.address.toLowerCase()).find((a) => this.watched.has(a));
    if (!to) return;
    const receivedAt = Date.parse(m.time ?? m.date ?? '') || Date.now();
    const key = `${m.id}|${receivedAt}`;
    if (this.mails.has(key)) return;
    const code = CODE.exec(m.text ?? '')?.[1];
    this.mails.set(key, { key, to, subject: m.subject ?? '', code, receivedAt });
  }

  mailsTo(email: string): ArchivedMail[] {
    const e = email.toLowerCase();
    return [...this.mails.values()].filter((m) => m.to === e).sort((a, b) => a.receivedAt - b.receivedAt);
  }

  /** Codes mailed to an address, oldest first. */
  codesFor(email: string): string[] {
    return this.mailsTo(email).flatMap((m) => (m.code ? [m.code] : []));
  }
}

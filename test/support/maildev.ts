import { eventually, MAILDEV_URL } from './env';

export interface Mail {
  id: string;
  to: { address: string }[];
  subject: string;
  text: string;
  html: string;
  time: string;
}

export async function listMail(): Promise<Mail[]> {
  const res = await fetch(`${MAILDEV_URL}/api/email`);
  if (!res.ok) throw new Error(`maildev answered ${res.status}`);
  return (await res.json()) as Mail[];
}

export async function mailsTo(email: string): Promise<Mail[]> {
  return (await listMail()).filter((m) => m.to.some((t) => t.address.toLowerCase() === email.toLowerCase()));
}

/** Waits for the `n`-th mail (1-based) to an address. */
export async function waitForMail(email: string, n = 1, timeoutMs = 30_000): Promise<Mail> {
  return eventually(async () => (await mailsTo(email))[n - 1], timeoutMs, `mail #${n} to ${email}`);
}

export function codeOf(mail: Mail): string {
  const m = /\b(\d{6})\b/.exec(mail.text);
  if (!m) throw new Error(`no code in mail "${mail.subject}"`);
  return m[1];
}

/** The code in the `n`-th mail to an address. */
export async function waitForCode(email: string, n = 1, timeoutMs = 30_000): Promise<string> {
  return codeOf(await waitForMail(email, n, timeoutMs));
}

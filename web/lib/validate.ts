/** Checks done in the page before a request, so obvious slips get an instant answer. The API checks everything again. */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function emailProblem(email: string): string | undefined {
  if (!email.trim()) return 'Enter your email address.';
  if (!EMAIL.test(email.trim())) return 'Enter an email address like name@example.com.';
  return undefined;
}

export function codeProblem(code: string): string | undefined {
  if (!code.trim()) return 'Enter the 6-digit code from the email.';
  if (!/^\d{6}$/.test(code.trim())) return 'The code is 6 digits.';
  return undefined;
}

export function nameProblem(name: string): string | undefined {
  if (!name.trim()) return 'Enter your name.';
  if ([...name.trim()].length > 100) return 'Your name can be at most 100 characters.';
  return undefined;
}

export const MIN_PASSWORD = 8;

export function newPasswordProblem(password: string): string | undefined {
  if (!password) return 'Choose a password.';
  if ([...password].length < MIN_PASSWORD) return `The password must be at least ${MIN_PASSWORD} characters long.`;
  return undefined;
}

export function passwordProblem(password: string): string | undefined {
  return password ? undefined : 'Enter your password.';
}

export function currentPasswordProblem(password: string): string | undefined {
  return password ? undefined : 'Enter your current password.';
}

/** Only the problems that exist, or undefined when there are none. */
export function problems(all: Record<string, string | undefined>): Record<string, string> | undefined {
  const found = Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => Boolean(e[1])));
  return Object.keys(found).length ? found : undefined;
}

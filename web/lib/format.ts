/** Display helpers for the account page. */

/** "Chrome on Linux" from a User-Agent string; the raw string (shortened) when it is not a browser we know. */
export function describeUserAgent(ua: string | null | undefined): string {
  if (!ua) return 'Unknown device';
  const browser =
    /Edg(?:e|A|iOS)?\//.test(ua) ? 'Edge'
    : /OPR\/|Opera/.test(ua) ? 'Opera'
    : /Firefox\/|FxiOS\//.test(ua) ? 'Firefox'
    : /HeadlessChrome\//.test(ua) ? 'Headless Chrome'
    : /Chrome\/|CriOS\/|Chromium\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) && /Version\//.test(ua) ? 'Safari'
    : undefined;
  const os =
    /Windows NT/.test(ua) ? 'Windows'
    : /iPhone|iPad|iPod/.test(ua) ? 'iOS'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /Android/.test(ua) ? 'Android'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : undefined;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  const first = ua.split(/[\s(]/)[0] ?? ua;
  return first.length > 40 ? `${first.slice(0, 40)}…` : first || 'Unknown device';
}

/** True for a phone or tablet User-Agent (the session list shows a phone icon). */
export function isMobileUserAgent(ua: string | null | undefined): boolean {
  return !!ua && /iPhone|iPad|iPod|Android|Mobile/.test(ua);
}

/** This device first, then the most recently active. */
export function sortSessions<T extends { current: boolean; lastSeenAt: string }>(sessions: T[]): T[] {
  const time = (iso: string) => {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? 0 : t;
  };
  return [...sessions].sort((a, b) => Number(b.current) - Number(a.current) || time(b.lastSeenAt) - time(a.lastSeenAt));
}

function asDate(iso: string): Date | undefined {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function formatDateTime(iso: string): string {
  const d = asDate(iso);
  return d ? new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(d) : 'unknown';
}

export function formatDate(iso: string): string {
  const d = asDate(iso);
  return d ? new Intl.DateTimeFormat(undefined, { dateStyle: 'long' }).format(d) : 'unknown';
}

/** "just now", "5 minutes ago", "yesterday". */
export function formatRelative(iso: string, now = Date.now()): string {
  const d = asDate(iso);
  if (!d) return 'unknown';
  const seconds = Math.round((d.getTime() - now) / 1000);
  if (Math.abs(seconds) < 60) return 'just now';
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return 'just now';
}

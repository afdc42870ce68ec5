/** A duration in words for messages and mails: the largest whole unit, e.g. "7 days", "72 hours", "20 seconds". */
export function inWords(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second']];
  for (const [size, name] of units) {
    const n = ms / size;
    if (n >= 1 && Number.isInteger(n)) return `${n} ${name}${n === 1 ? '' : 's'}`;
  }
  const s = Math.max(1, Math.round(ms / 1000));
  return `${s} second${s === 1 ? '' : 's'}`;
}

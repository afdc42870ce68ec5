/**
 * Looks for secrets or personal data in anything a test can read raw: exported Temporal
 * histories, Kafka message bytes, log lines. Payloads hide inside base64 and JSON strings, so every
 * string is searched as it is, base64-decoded and JSON-parsed, recursively.
 */
export interface Finding {
  canary: string;
  path: string;
}

const BASE64 = /^[A-Za-z0-9+/_-]{8,}={0,2}$/;
const MAX_DEPTH = 6;

function decodings(s: string): string[] {
  const out: string[] = [];
  const compact = s.trim();
  if (BASE64.test(compact) && compact.length % 4 !== 1) {
    const decoded = Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
    const text = decoded.toString('utf8');
    // Only text-like decodings are worth another look (random bytes decode to mojibake).
    if (text.length > 0 && !/\uFFFD/.test(text)) out.push(text);
    else out.push(decoded.toString('latin1'));
  }
  return out;
}

export function findCanaries(value: unknown, canaries: string[], path = '$', depth = 0, found: Finding[] = []): Finding[] {
  if (depth > MAX_DEPTH || value === null || value === undefined) return found;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    for (const c of canaries) if (lower.includes(c.toLowerCase())) found.push({ canary: c, path });
    for (const d of decodings(value)) findCanaries(d, canaries, `${path}<base64>`, depth + 1, found);
    const t = value.trim();
    if ((t.startsWith('{') || t.startsWith('[') || t.startsWith('"')) && t.length > 1) {
      try {
        findCanaries(JSON.parse(t), canaries, `${path}<json>`, depth + 1, found);
      } catch {
        // not JSON after all
      }
    }
    return found;
  }
  if (value instanceof Uint8Array) return findCanaries(Buffer.from(value).toString('utf8'), canaries, `${path}<bytes>`, depth + 1, found);
  if (Array.isArray(value)) {
    value.forEach((v, i) => findCanaries(v, canaries, `${path}[${i}]`, depth, found));
    return found;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) findCanaries(v, canaries, `${path}.${k}`, depth, found);
  }
  return found;
}

/** Unique, recognisable personal data for one test: nothing else in the system contains it. */
export function canary(tag: string): { email: string; name: string } {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return { email: `canary-${tag}-${id}@leak.example.com`, name: `Canary Name ${id}` };
}

/**
 * Searches raw bytes for canaries the way a reader of a topic (or a log, or a history) would: the
 * text itself, every JSON string inside it, and whatever base64 / base64url / hex in it decodes to,
 * recursively. Returns where each canary was found, so a failure says which layer leaked.
 */
export function findCanaries(sources: Array<{ where: string; data: Buffer | string | null | undefined }>, canaries: string[]): string[] {
  const needles = canaries.map((c) => c.toLowerCase());
  const hits: string[] = [];
  const visit = (text: string, where: string, depth: number) => {
    if (depth > 6 || text.length === 0) return;
    const lower = text.toLowerCase();
    for (const n of needles) if (lower.includes(n)) hits.push(`${where}: ${n}`);
    try {
      walkJson(JSON.parse(text), (s, path) => visit(s, `${where} json${path}`, depth + 1));
    } catch {
      // not JSON
    }
    for (const token of text.match(/[A-Za-z0-9+/_=-]{8,}/g) ?? []) {
      for (const part of token.split(/[.]/)) {
        const decoded = decodeAny(part);
        for (const d of decoded) visit(d, `${where} decoded`, depth + 1);
      }
    }
    // Sealed values join base64url parts with dots: decode each part too.
    for (const part of text.split('.')) if (part !== text && part.length >= 8) for (const d of decodeAny(part)) visit(d, `${where} part`, depth + 1);
  };
  for (const s of sources) {
    if (s.data === null || s.data === undefined) continue;
    const buf = Buffer.isBuffer(s.data) ? s.data : Buffer.from(s.data, 'utf8');
    visit(buf.toString('utf8'), s.where, 0);
    visit(buf.toString('latin1'), `${s.where} latin1`, 1);
  }
  return [...new Set(hits)];
}

function walkJson(v: unknown, fn: (s: string, path: string) => void, path = ''): void {
  if (typeof v === 'string') fn(v, path);
  else if (Array.isArray(v)) v.forEach((x, i) => walkJson(x, fn, `${path}[${i}]`));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) {
    fn(k, `${path}.<key>`);
    walkJson(x, fn, `${path}.${k}`);
  }
}

/** Text-like decodings of a token: base64, base64url and hex, when they give mostly printable text. */
function decodeAny(token: string): string[] {
  const out: string[] = [];
  const printable = (b: Buffer) => b.length > 0 && [...b].filter((c) => c >= 32 && c < 127).length / b.length > 0.85;
  const candidates: Buffer[] = [];
  if (/^[A-Za-z0-9+/]+=*$/.test(token)) candidates.push(Buffer.from(token, 'base64'));
  if (/^[A-Za-z0-9_-]+$/.test(token)) candidates.push(Buffer.from(token, 'base64url'));
  if (/^([0-9a-fA-F]{2})+$/.test(token)) candidates.push(Buffer.from(token, 'hex'));
  for (const b of candidates) if (printable(b)) out.push(b.toString('utf8'));
  return out;
}

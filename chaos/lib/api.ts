/** A JSON call to the API that never throws: network errors and timeouts come back as status 0. */
export interface Reply {
  status: number;
  body: any;
  error?: string;
  ms: number;
  /** `name=value` of every cookie the answer set (an empty value clears it). */
  setCookies?: string[];
}

export async function call(base: string, method: string, path: string, body?: unknown, timeoutMs = 15_000, cookie?: string): Promise<Reply> {
  const t0 = Date.now();
  try {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (cookie) headers.cookie = cookie;
    const res = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, ms: Date.now() - t0, setCookies: res.headers.getSetCookie().map((c) => c.split(';')[0]) };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const error = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message);
    return { status: 0, body: undefined, error, ms: Date.now() - t0 };
  }
}

export const API_BASE_PATH = '/api/v1/auth';

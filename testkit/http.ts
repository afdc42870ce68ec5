import { uniqueIp } from './env';

/** A small HTTP client for tests: JSON in and out, and a cookie jar of one cookie (auth_token). */
export interface HttpResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export class ApiClient {
  cookie?: string;
  constructor(readonly base: string, readonly defaultHeaders: Record<string, string> = {}) {}

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResponse<T>> {
    const h: Record<string, string> = { ...this.defaultHeaders, ...headers };
    if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    if (this.cookie && !h.cookie) h.cookie = this.cookie;
    const res = await fetch(this.base + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const pair = setCookie.split(';')[0];
      this.cookie = pair.endsWith('=') ? undefined : pair;
    }
    const text = await res.text();
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  }

  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.call<T>('POST', path, body ?? {}, headers);
  }
  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.call<T>('GET', path, undefined, headers);
  }
  del<T = any>(path: string, headers?: Record<string, string>) {
    return this.call<T>('DELETE', path, undefined, headers);
  }
}

/** The device cookie a sign-in answer set, as a `name=value` pair for a Cookie header. */
export function deviceCookieOf(r: HttpResponse): string {
  const pair = r.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('auth_device='));
  if (!pair) throw new Error(`no device cookie in ${JSON.stringify(r.headers.getSetCookie())}`);
  return pair;
}

/** A client whose requests come from a source address no other test uses: rate limits of its own. */
export const fromNewSource = (base: string): ApiClient => new ApiClient(base, { 'x-forwarded-for': uniqueIp() });

/** The session id inside a client's session cookie (the JWT's `sid`), for reading the session in Redis. */
export function sessionIdOf(client: ApiClient): string {
  const token = client.cookie!.split('=')[1]!;
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string }).sid;
}

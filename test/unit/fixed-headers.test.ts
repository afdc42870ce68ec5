import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { fixedHeaders } from '../../api/http/middleware';

/** The headers a middleware sets on a response that records them. */
function headersSetBy(mw: RequestHandler): Record<string, string> {
  const set: Record<string, string> = {};
  const res = { setHeader: (n: string, v: unknown) => void (set[n.toLowerCase()] = String(v)), removeHeader: () => undefined } as unknown as Response;
  let nexted = false;
  mw({} as Request, res, () => void (nexted = true));
  expect(nexted).toBe(true);
  return set;
}

describe('fixedHeaders (helmet computed once)', () => {
  it('sets exactly the headers helmet sets, on every request', () => {
    const expected = headersSetBy(helmet());
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(10);
    expect(expected['content-security-policy']).toContain("default-src 'self'");
    const fixed = fixedHeaders(helmet());
    expect(headersSetBy(fixed)).toEqual(expected);
    expect(headersSetBy(fixed)).toEqual(expected);
  });

  it('refuses a middleware whose headers depend on the request or that does not go on', () => {
    expect(() => fixedHeaders((req, res, next) => { res.setHeader('x-path', req.path); next(); })).toThrow(/reads req.path/);
    expect(() => fixedHeaders((_req, res) => void res.setHeader('x-a', '1'))).toThrow(/did not call next/);
    expect(() => fixedHeaders(helmet({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", (req) => String((req as Request).path)] } } }))).toThrow(/reads req/);
  });
});

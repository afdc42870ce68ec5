import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { AppError } from '../../common/errors';
import { routeIndex } from '../../api/http/middleware';

/**
 * routeIndex against Express itself: the same app served once by an Express router and once by the
 * index must answer every request alike (path case, trailing slash, HEAD, 405 with Allow, handlers
 * in turn, thrown and rejected errors, parameter routes left to Express).
 */
describe('routeIndex answers as Express routing does', () => {
  const tag = (name: string): RequestHandler => (_req, res, next) => { res.append('x-chain', name); next(); };
  const routes = [
    { path: '/me', method: 'get', handlers: [tag('a'), tag('b'), (_req, res) => void res.json({ me: true })] as RequestHandler[] },
    { path: '/me', method: 'delete', handlers: [(_req, res) => void res.status(202).json({ closed: true })] as RequestHandler[] },
    { path: '/signup', method: 'post', handlers: [async () => { throw new AppError('RATE_LIMITED'); }] as RequestHandler[] },
    { path: '/boom', method: 'post', handlers: [() => { throw new AppError('VALIDATION_FAILED'); }] as RequestHandler[] },
    { path: '/items/register', method: 'post', handlers: [(_req, res) => void res.json({ literal: true })] as RequestHandler[] },
    { path: '/items/:id', method: 'delete', handlers: [(req, res) => void res.json({ id: req.params.id })] as RequestHandler[] },
  ];
  const errors: ErrorRequestHandler = (err, _req, res, _next) => void res.status((err as AppError).status ?? 500).json({ code: (err as AppError).code });
  const notFound: RequestHandler = (_req, res) => void res.status(404).json({ code: 'NOT_FOUND' });

  async function serve(useIndex: boolean): Promise<{ url: string; close(): void }> {
    const app = express();
    if (useIndex) {
      const index = routeIndex(routes);
      app.use('/api', index.methodCheck);
      app.use('/api', index.dispatch, index.router);
    } else {
      const { methodNotAllowed } = jest.requireActual('../../api/http/middleware');
      app.use('/api', methodNotAllowed(routes));
      const router = express.Router();
      for (const r of routes) router[r.method as 'get' | 'post' | 'delete'](r.path, ...r.handlers);
      app.use('/api', router);
    }
    app.use(notFound);
    app.use(errors);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, close: () => server.close() };
  }

  it('every request gets the same status, body, Allow and chain from both', async () => {
    const [plain, indexed] = await Promise.all([serve(false), serve(true)]);
    try {
      const requests: [string, string][] = [
        ['GET', '/me'], ['GET', '/ME'], ['GET', '/me/'], ['GET', '/me//'], ['HEAD', '/me'], ['DELETE', '/me'], ['PUT', '/me'], ['POST', '/me'],
        ['POST', '/signup'], ['GET', '/signup'], ['POST', '/boom'], ['GET', '/nowhere'], ['GET', '/m%65'],
        ['POST', '/items/register'], ['DELETE', '/items/register'], ['DELETE', '/items/42'], ['POST', '/items/42'], ['GET', '/items'],
      ];
      for (const [method, path] of requests) {
        const answer = async (base: string) => {
          const r = await fetch(base + path, { method });
          return { status: r.status, allow: r.headers.get('allow'), chain: r.headers.get('x-chain'), body: await r.text() };
        };
        expect({ method, path, ...(await answer(indexed.url)) }).toEqual({ method, path, ...(await answer(plain.url)) });
      }
    } finally {
      plain.close();
      indexed.close();
    }
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import type { Config } from '../common/config';
import { createLogger, type Logger } from '../common/logger';
import { runProcess } from '../common/process';
import { EncryptionCodec, payloadKeyring } from '../temporal-config/payload-codec';

/**
 * Temporal's remote codec protocol for operators who hold the payload keys: Temporal UI (started
 * with --ui-codec-endpoint) and `temporal workflow show --codec-endpoint` post encoded payloads to
 * /decode and read them in clear. Loopback only; CORS admits the Temporal UI's origin alone.
 */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_BODY = 4 * 1024 * 1024;

const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface CodecServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function start(config: Config, logger: Logger = createLogger('codec-server', config.LOG_LEVEL)): Promise<CodecServer> {
  const codec = new EncryptionCodec(payloadKeyring(config));
  const uiOrigin = new URL(config.TEMPORAL_UI_URL).origin;

  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const server: Server = createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin === uiOrigin) {
      res.setHeader('access-control-allow-origin', uiOrigin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'POST');
      res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
      res.setHeader('access-control-max-age', '600');
      return send(res, origin === uiOrigin ? 204 : 403);
    }
    if (origin !== undefined && origin !== uiOrigin) return send(res, 403, { code: 'FORBIDDEN_ORIGIN', message: 'This origin is not allowed.' });
    const op = req.url === '/decode' ? 'decode' : req.url === '/encode' ? 'encode' : undefined;
    if (!op) return send(res, 404, { code: 'NOT_FOUND', message: 'POST /decode or /encode.' });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST, OPTIONS');
      return send(res, 405, { code: 'METHOD_NOT_ALLOWED', message: 'Use POST.' });
    }
    readBody(req)
      .then(async (text) => {
        let body: { payloads?: JsonPayload[] };
        try {
          body = JSON.parse(text) as { payloads?: JsonPayload[] };
        } catch {
          return send(res, 400, { code: 'MALFORMED_JSON', message: 'The request body is not valid JSON.' });
        }
        if (!Array.isArray(body?.payloads)) return send(res, 400, { code: 'VALIDATION_FAILED', message: 'Expected { payloads: [...] }.' });
        try {
          const out = await codec[op](body.payloads.map(toPayload));
          // Who decoded what, without the contents: an operator reading data is an audit event.
          logger.info({ event: `codec_${op}`, count: out.length, namespace: req.headers['x-namespace'] }, `payloads ${op}d`);
          send(res, 200, { payloads: out.map(toJson) });
        } catch (err) {
          send(res, 400, { code: 'UNDECODABLE', message: (err as Error).message });
        }
      })
      .catch((err: { status?: number }) => send(res, err.status ?? 400, { code: 'VALIDATION_FAILED', message: 'The request body could not be read.' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.CODEC_SERVER_PORT, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, uiOrigin }, 'codec server listening');
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (require.main === module) runProcess('codec-server', (config, logger) => start(config, logger));

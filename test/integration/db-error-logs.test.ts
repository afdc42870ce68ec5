/**
 * "No SQL values in any log": the DB processor's error log of a failed query names the error class
 * and SQLSTATE, never the statement's parameters. Provoked for real: Postgres refuses a text value
 * with a NUL byte, so a user.find for such an address fails inside the driver (MikroORM's message
 * would read `select ... where "u0"."email" = '<the value>' ... - invalid message format`).
 */
import pino from 'pino';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { EnvelopeSecurity } from '../../common/kafka/envelope-security';
import { KafkaRequester, RemoteError } from '../../common/kafka/request-reply';
import { rawKafka } from '../support/kafka';
import { quietLogger } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { startSystem, type System } from '../../testkit/system';

describe('DB processor logs carry no SQL parameter values', () => {
  let sys: System;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    sys = await startSystem({ withWorker: false, logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('a query the database refuses is logged without the value it carried', async () => {
    const canary = `sqlcanary${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const security = EnvelopeSecurity.fromConfig(sys.config);
    const requester = new KafkaRequester(rawKafka(sys.config, 'db-error-logs'), { role: 'test', timeoutMs: 20_000, logger: quietLogger(), security });
    await requester.start();
    try {
      const email = `${canary}\u0000@test.example.com`;
      const err = await requester.request('user.find', { email }, { key: email }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).code).toBe('UNAVAILABLE');
    } finally {
      await requester.close();
    }
    const failed = await eventually(async () => lines.find((l) => l.includes('request failed')), 10_000, 'the error log line');
    // The line says what failed (class and SQLSTATE; pg answers 08P01 to the NUL byte) ...
    expect(JSON.parse(failed).err).toMatchObject({ name: 'DriverException', code: expect.stringMatching(/^[0-9A-Z]{5}$/) });
    // ... and no line says with which value.
    expect(lines.filter((l) => l.includes(canary))).toEqual([]);
  });
});

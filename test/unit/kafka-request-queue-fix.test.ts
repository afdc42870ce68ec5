import { applyRequestQueueFix, PATCHED_KAFKAJS_VERSION } from '../../common/kafka/request-queue-fix';

// The real kafkajs class every broker connection uses (common/kafka/request-queue-fix.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue');

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const queues: { throttleCheckTimeoutId: NodeJS.Timeout | null }[] = [];
const newQueue = () => {
  const q = new RequestQueue({ maxInFlightRequests: 5, requestTimeout: 1000, enforceRequestTimeout: true, clientId: 't', broker: '127.0.0.1:1', logger: silent });
  queues.push(q);
  return q;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kafkajs request queue: no timer spinning on an idle connection (tulios/kafkajs#1704)', () => {
  beforeAll(() => applyRequestQueueFix());
  // Without the fix a queue re-arms its timer for ever: stop each one so a failing run still ends.
  afterEach(() => {
    for (const q of queues.splice(0)) clearTimeout(q.throttleCheckTimeoutId ?? undefined);
  });

  it('is written for the kafkajs in the tree', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('kafkajs/package.json').version).toBe(PATCHED_KAFKAJS_VERSION);
  });

  it('an idle queue that has just answered arms no timer, and does not check itself again', async () => {
    const q = newQueue();
    const check = jest.spyOn(q, 'checkPendingRequests');
    // What every answer from the broker does: fulfillRequest → checkPendingRequests.
    q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(q.throttleCheckTimeoutId).toBeNull();
    await sleep(100);
    // Unfixed: re-armed every ~1 ms, so dozens of checks in 100 ms.
    expect(check).toHaveBeenCalledTimes(1);
  });

  it('still checks a queue that has pending requests, and one that is throttled, when it should', async () => {
    const pending = newQueue();
    pending.pending.push({ fake: 'a request waiting for a free slot' });
    pending.canSendSocketRequestImmediately = () => false;
    const check = jest.spyOn(pending, 'checkPendingRequests');
    pending.scheduleCheckPendingRequests();
    expect(pending.throttleCheckTimeoutId).not.toBeNull();
    await sleep(60);
    expect(check.mock.calls.length).toBeGreaterThanOrEqual(1);
    pending.pending.length = 0;
    await sleep(30);
    expect(pending.throttleCheckTimeoutId).toBeNull();

    const throttled = newQueue();
    throttled.throttledUntil = Date.now() + 40;
    const checkThrottled = jest.spyOn(throttled, 'checkPendingRequests');
    throttled.scheduleCheckPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
    await sleep(120);
    expect(checkThrottled).toHaveBeenCalled();
    expect(throttled.throttleCheckTimeoutId).toBeNull();
  });
});

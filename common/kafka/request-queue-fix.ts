/**
 * kafkajs 2.2.4 (pinned; unmaintained) re-arms a timer on every broker connection each time it
 * checks its queue of pending requests, whether or not anything is pending, and with no client-side
 * throttling the delay is `-1 - Date.now()`, which Node runs after 1 ms: each connection wakes the
 * event loop about a thousand times a second for ever, in every process (tulios/kafkajs#1704; on
 * Node 24 it also prints a TimeoutNegativeWarning at start, #1751). The fix its maintainers have not
 * released: nothing pending and not throttled → no timer; a later push schedules its own check.
 * Otherwise as before (throttled → at the end of the throttle; pending → every 10 ms).
 *
 * Applied once, by common/kafka/client.ts, to the RequestQueue class every connection uses.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue') as { prototype: RequestQueueLike };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const KAFKAJS_VERSION = (require('kafkajs/package.json') as { version: string }).version;

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own interval for re-checking a non-empty queue (src/network/requestQueue). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

export const PATCHED_KAFKAJS_VERSION = '2.2.4';

let applied = false;

export function applyRequestQueueFix(): void {
  if (applied) return;
  // Another kafkajs may have fixed it, or changed the class: refuse to guess (the unit test says so).
  if (KAFKAJS_VERSION !== PATCHED_KAFKAJS_VERSION) throw new Error(`common/kafka/request-queue-fix.ts is written for kafkajs ${PATCHED_KAFKAJS_VERSION}, found ${KAFKAJS_VERSION}: check tulios/kafkajs#1704 and drop or adapt the fix`);
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueLike) {
    if (this.throttleCheckTimeoutId) return;
    const throttledFor = this.throttledUntil - Date.now();
    if (this.pending.length === 0 && throttledFor <= 0) return;
    const delay = throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delay);
  };
  applied = true;
}

import { unavailable } from '../../common/errors';
import { RequestTimeoutError } from '../../common/kafka/request-reply';

/** A DB-processor request that fails or times out is a 503 naming Kafka (no reply in time) or the processor. */
export async function fromDbProcessor<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw unavailable(err instanceof RequestTimeoutError ? 'kafka' : 'db-processor', err);
  }
}

/** A Redis call that fails is a 503. */
export async function fromRedisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw unavailable('redis', err);
  }
}

import net from 'node:net';
import { startProxy, type ProxyMode, type TcpProxy } from './tcp-proxy';

/** Kafka API keys whose responses name a broker's address (host and port). */
const METADATA = 3;
const FIND_COORDINATOR = 10;

/**
 * Splits a stream of Kafka frames (a 4-byte big-endian size, then that many bytes) and hands each
 * whole frame, size included, to `onFrame`.
 */
function frameReader(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) return;
      onFrame(pending.subarray(0, 4 + size));
      pending = pending.subarray(4 + size);
    }
  };
}

/**
 * A loopback proxy in front of the stack's Kafka broker, so a test can take Kafka away from one
 * process (forward, refuse, hold: as testkit/tcp-proxy.ts) while every other process keeps it.
 * A plain TCP proxy is not enough for Kafka: a client connects to the bootstrap address only to
 * read the cluster's metadata, then to the address each broker advertises. So the proxy rewrites
 * the broker's advertised port to its own in the Metadata and FindCoordinator responses (the port
 * is a 4-byte field after the host name: the frame keeps its size); every other byte passes as is,
 * SASL included.
 */
export function startKafkaProxy(broker: string, mode: ProxyMode = 'forward'): Promise<TcpProxy> {
  const [host, portText] = broker.split(':');
  const targetPort = Number(portText);
  const advertised = Buffer.concat([Buffer.from(host, 'utf8'), Buffer.alloc(4)]);
  advertised.writeInt32BE(targetPort, host.length);

  const rewrite = (frame: Buffer, ownPort: number): Buffer => {
    const out = Buffer.from(frame);
    for (let at = out.indexOf(advertised); at >= 0; at = out.indexOf(advertised, at + advertised.length)) {
      out.writeInt32BE(ownPort, at + host.length);
    }
    return out;
  };

  return startProxy((client, ownPort) => {
    const upstream = net.connect(targetPort, host);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    // Which API each correlation id asked, so only the responses that carry addresses are rewritten.
    const asked = new Map<number, number>();
    client.on(
      'data',
      frameReader((frame) => {
        if (frame.length >= 12) asked.set(frame.readInt32BE(8), frame.readInt16BE(4));
        upstream.write(frame);
      }),
    );
    upstream.on(
      'data',
      frameReader((frame) => {
        const correlationId = frame.length >= 8 ? frame.readInt32BE(4) : -1;
        const apiKey = asked.get(correlationId);
        asked.delete(correlationId);
        client.write(apiKey === METADATA || apiKey === FIND_COORDINATOR ? rewrite(frame, ownPort) : frame);
      }),
    );
    return upstream;
  }, mode);
}

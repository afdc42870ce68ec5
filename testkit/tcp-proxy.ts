import net from 'node:net';

export type ProxyMode = 'forward' | 'refuse' | 'hold';

export interface TcpProxy {
  port: number;
  /** forward: pass bytes through; refuse: close new connections at once; hold: accept and stall them. */
  setMode(mode: ProxyMode): void;
  /** Connections accepted so far (a send in progress shows here before it completes). */
  readonly accepted: number;
  close(): Promise<void>;
}

/**
 * Connects one accepted client to the service and wires the bytes both ways; returns the upstream
 * socket (the proxy closes it with the client, and on refuse and close). `proxyPort` is the
 * proxy's own port, for protocols that name addresses (testkit/kafka-proxy.ts).
 */
export type Wire = (client: net.Socket, proxyPort: number) => net.Socket;

/** A loopback proxy with the forward, refuse and hold modes; `wire` decides what passes. */
export async function startProxy(wire: Wire, mode: ProxyMode = 'forward'): Promise<TcpProxy> {
  let current = mode;
  let accepted = 0;
  let port = 0;
  const sockets = new Set<net.Socket>();
  const held: net.Socket[] = [];
  const pipe = (client: net.Socket) => {
    const upstream = wire(client, port);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  };
  const server = net.createServer((client) => {
    accepted += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (current === 'refuse') return void client.destroy();
    if (current === 'hold') return void held.push(client);
    pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get accepted() {
      return accepted;
    },
    setMode(next) {
      current = next;
      if (next === 'refuse') for (const s of sockets) s.destroy();
      if (next === 'forward') for (const s of held.splice(0)) if (!s.destroyed) pipe(s);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A loopback TCP proxy in front of a real service (SMTP, Redis), so a test can take the service
 * away from one process, or stall it, without stopping it for everybody else.
 */
export function startTcpProxy(targetPort: number, mode: ProxyMode = 'forward'): Promise<TcpProxy> {
  return startProxy((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    return upstream;
  }, mode);
}

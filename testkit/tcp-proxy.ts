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
 * A loopback TCP proxy in front of a real service (SMTP, Redis), so a test can take the service
 * away from one process, or stall it, without stopping it for everybody else.
 */
export async function startTcpProxy(targetPort: number, mode: ProxyMode = 'forward'): Promise<TcpProxy> {
  let current = mode;
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const held: net.Socket[] = [];
  const pipe = (client: net.Socket) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
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
  return {
    port: (server.address() as net.AddressInfo).port,
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

/**
 * The production-topology Temporal server (`TEMPORAL_TOPOLOGY=server`): the server built from source
 * on the project's PostgreSQL (`postgres12` plugin) with a configurable number of history shards,
 * instead of the CLI dev server (one shard on SQLite). scripts/stack.sh writes these files with
 * `tsx temporal-config/server-config.ts <dir>`; kept out of index.ts, which workflows import.
 *
 * The files are JSON, which is YAML: the server and the UI server read them as YAML.
 */

export interface TemporalServerOptions {
  /** Frontend gRPC port (TEMPORAL_PORT). The other services' ports are derived from it, see serverPorts. */
  port: number;
  /** The server's Prometheus metrics on 127.0.0.1 (TEMPORAL_METRICS_PORT); 0 leaves them off. */
  metricsPort: number;
  /** Fixed when the persistence schema is first used: changing it needs a new database. */
  historyShards: number;
  db: { host: string; port: number; user: string; password: string; database: string; visibilityDatabase: string };
  /** Absolute path of the dynamic config file (written next to the config). */
  dynamicConfigPath: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * Every port the four services bind, all on 127.0.0.1. Derived from the frontend port so that a
 * checkout that moves TEMPORAL_PORT (a second stack, the bench) moves them all: gRPC of history,
 * matching and worker at +1, +2, +6 and the frontend's HTTP API at +10 (as the defaults 7233/7234/
 * 7235/7239/7243), membership (ringpop) 20 above each gRPC port. All within 27 ports, so stacks
 * 100 ports apart never collide (the server's own default puts membership 300 below, which would
 * land on a stack 300 ports lower).
 */
export function serverPorts(port: number) {
  const grpc = { frontend: port, history: port + 1, matching: port + 2, worker: port + 6 };
  const membership = Object.fromEntries(Object.entries(grpc).map(([k, v]) => [k, v + 20])) as typeof grpc;
  return { grpc, membership, frontendHttp: port + 10 };
}

/** Every port serverPorts binds, for a free-port check before starting. */
export function allServerPorts(port: number): number[] {
  const p = serverPorts(port);
  return [...Object.values(p.grpc), ...Object.values(p.membership), p.frontendHttp];
}

export function temporalServerConfig(opts: TemporalServerOptions): Record<string, unknown> {
  const ports = serverPorts(opts.port);
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${opts.db.host}:${opts.db.port}`,
      connectProtocol: 'tcp',
      user: opts.db.user,
      password: opts.db.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (name: keyof typeof ports.grpc) => ({
    rpc: {
      grpcPort: ports.grpc[name],
      membershipPort: ports.membership[name],
      bindOnLocalHost: true,
      ...(name === 'frontend' ? { httpPort: ports.frontendHttp } : {}),
    },
  });
  return {
    log: { stdout: true, level: opts.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: opts.historyShards,
      datastores: {
        'postgres-default': datastore(opts.db.database, 20),
        'postgres-visibility': datastore(opts.db.visibilityDatabase, 4),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      ...(opts.metricsPort
        ? { metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${opts.metricsPort}` } } }
        : {}),
    },
    services: { frontend: service('frontend'), history: service('history'), matching: service('matching'), worker: service('worker') },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${opts.port}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: opts.dynamicConfigPath, pollInterval: '10s' },
  };
}

/**
 * Dynamic config, the same behaviour the dev server gets from its flags (dev-server.ts): eager
 * activities skip a matching round trip per activity.
 */
export function temporalServerDynamicConfig(): Record<string, { value: unknown }[]> {
  return {
    'system.enableActivityEagerExecution': [{ value: true }],
  };
}

/** The UI server (`ui-server`): its own config file, bound to 127.0.0.1, pointed at the frontend. */
export function temporalUiConfig(opts: { uiPort: number; temporalPort: number; codecEndpoint?: string }): Record<string, unknown> {
  return {
    temporalGrpcAddress: `127.0.0.1:${opts.temporalPort}`,
    host: '127.0.0.1',
    port: opts.uiPort,
    enableUi: true,
    cors: { allowOrigins: [], cookieInsecure: true },
    defaultNamespace: 'default',
    ...(opts.codecEndpoint ? { codec: { endpoint: opts.codecEndpoint } } : {}),
  };
}

/**
 * The env of `scripts/stack.sh temporal-up|temporal-down|temporal-build` for a second Temporal of
 * the server topology beside this checkout's stack: ports 50 above the stack's Temporal (frontend,
 * UI, metrics; the rest derive from the frontend), its own data dir and app database (its Temporal
 * databases are named after it), so the stack everything else uses is untouched. Used by the bench's
 * topology scenario and the topology test.
 */
export function secondServerTopologyEnv(opts: { shards: number; databaseUrl: string; dataDir: string }, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const above = (name: string, dflt: number) => String(Number(env[name] || dflt) + 50);
  return {
    ...env,
    TEMPORAL_TOPOLOGY: 'server',
    TEMPORAL_HISTORY_SHARDS: String(opts.shards),
    TEMPORAL_PORT: above('TEMPORAL_PORT', 7233),
    TEMPORAL_UI_PORT: above('TEMPORAL_UI_PORT', 8233),
    TEMPORAL_METRICS_PORT: above('TEMPORAL_METRICS_PORT', 9466),
    TEMPORAL_ADDRESS: '',
    TEMPORAL_UI_URL: '',
    DATABASE_URL: opts.databaseUrl,
    CFD_DATA_DIR: opts.dataDir,
  };
}

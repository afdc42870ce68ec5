import { allServerPorts, serverPorts, temporalServerConfig, temporalUiConfig } from '../../temporal-config/server';

const db = { host: '127.0.0.1', port: 5432, user: 'cfd_auth', password: 'pw', database: 'cfd_auth_temporal', visibilityDatabase: 'cfd_auth_temporal_visibility' };

describe('the production-topology Temporal config (temporal-config/server.ts)', () => {
  it('derives every port from the frontend port, as the server defaults are laid out', () => {
    expect(serverPorts(7233)).toEqual({
      grpc: { frontend: 7233, history: 7234, matching: 7235, worker: 7239 },
      membership: { frontend: 7253, history: 7254, matching: 7255, worker: 7259 },
      frontendHttp: 7243,
    });
  });

  it('gives two stacks a few hundred ports apart disjoint port sets (a second checkout, the bench)', () => {
    for (const other of [7333, 7433, 7533, 7633]) {
      const a = new Set(allServerPorts(7233));
      expect(allServerPorts(other).filter((p) => a.has(p))).toEqual([]);
    }
  });

  it('binds every service to loopback, on postgres12 with the given shards, databases and metrics port', () => {
    const c = temporalServerConfig({ port: 7233, metricsPort: 9466, historyShards: 8, db, dynamicConfigPath: '/x/dynamicconfig.yaml' }) as any;
    for (const svc of ['frontend', 'history', 'matching', 'worker']) expect(c.services[svc].rpc.bindOnLocalHost).toBe(true);
    expect(c.global.membership.broadcastAddress).toBe('127.0.0.1');
    expect(c.global.metrics.prometheus.listenAddress).toBe('127.0.0.1:9466');
    expect(c.persistence.numHistoryShards).toBe(8);
    const stores = c.persistence.datastores;
    expect(stores[c.persistence.defaultStore].sql).toMatchObject({ pluginName: 'postgres12', databaseName: 'cfd_auth_temporal', connectAddr: '127.0.0.1:5432', user: 'cfd_auth' });
    expect(stores[c.persistence.visibilityStore].sql).toMatchObject({ pluginName: 'postgres12', databaseName: 'cfd_auth_temporal_visibility' });
    expect(c.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7233');
    expect(c.dynamicConfigClient.filepath).toBe('/x/dynamicconfig.yaml');
    // No pprof listener (it would bind 0.0.0.0 on its default port) and no archival.
    expect(c.global.pprof).toBeUndefined();
    expect(c.archival).toBeUndefined();
  });

  it('leaves metrics off with port 0', () => {
    const c = temporalServerConfig({ port: 7233, metricsPort: 0, historyShards: 1, db, dynamicConfigPath: '/x' }) as any;
    expect(c.global.metrics).toBeUndefined();
  });

  it('points the UI server at the frontend, on loopback, with the codec server', () => {
    expect(temporalUiConfig({ uiPort: 8233, temporalPort: 7233, codecEndpoint: 'http://127.0.0.1:8234' })).toMatchObject({
      temporalGrpcAddress: '127.0.0.1:7233',
      host: '127.0.0.1',
      port: 8233,
      codec: { endpoint: 'http://127.0.0.1:8234' },
    });
  });
});

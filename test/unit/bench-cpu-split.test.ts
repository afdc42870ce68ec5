import { spawn } from 'node:child_process';
import { cpuPerUnit, cpuSnapshot, STACK_SERVICES } from '../../bench/lib/rss';
import { cpuLine, pgids, type Throughput } from '../../bench/scenarios/signup';
import type { SupervisedProcess } from '../../testkit/supervisor';

const throughput = (cpu: Throughput['cpu_ms_per_signup']): Throughput => ({
  system: 'ours', concurrency: 50, duration_s: 60, accepted: 100, sent: 100, errors: 0, signups_per_s: 1.7, delivered: 100,
  all_codes_delivered_s: 1, delivered_per_s_end_to_end: 1.6, drain_bound_s: 120, duplicate_codes: 0, cpu_ms_per_signup: cpu,
});

describe('the sustained run\'s CPU split (bench: where a signup\'s work goes)', () => {
  it('divides each process\'s CPU between two snapshots by the signups, and knows what it could not read', () => {
    const before = { api: 1000, worker: 5000, temporal: 200, redis: null, machine: 10_000 };
    const after = { api: 1400, worker: 7000, temporal: 1400, redis: 50, machine: 15_000 };
    expect(cpuPerUnit(before, after, 100)).toEqual({ api: 4, worker: 20, temporal: 12, redis: null, machine: 50 });
    expect(cpuPerUnit(before, after, 0).worker).toBeNull();
  });

  it('names each process that ran, the rest of the machine and the largest share', () => {
    expect(cpuLine(throughput({ api: 4, worker: 20, temporal: 12, 'temporal-server': 0, redis: null, machine: 50 }), 'on the dev server')).toBe(
      "- ours on the dev server, CPU per accepted signup from the load's start to its last code (ms): api 4, worker 20, temporal 12, rest of the machine 14; whole machine 50, of which worker 40 %.",
    );
    expect(cpuLine(throughput(undefined))).toBeUndefined();
  });

  it('counts a twin\'s processes under our processes\' names, and only running ones', () => {
    const procs = [{ name: 'api-srv', pid: 11, running: true }, { name: 'worker-srv', pid: 12, running: false }, { name: 'api', pid: 13, running: true }] as unknown as SupervisedProcess[];
    expect(pgids(procs, ['api', 'worker'], '-srv')).toEqual({ api: 11, worker: undefined });
    expect(pgids(procs, ['api'])).toEqual({ api: 13 });
  });

  it('finds the CPU a service used by its command line, and a process group by its id', async () => {
    // A busy child whose command line looks like the stack's Redis: the snapshot must see its CPU grow
    // (by a fifth of the second at least: the cores may be shared with the rest of the suite).
    const child = spawn('bash', ['-c', 'exec -a redis-server-bench-test node -e "const t = Date.now(); while (Date.now() - t < 3000);"'], { detached: true, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const services = { redis: STACK_SERVICES.redis };
      const before = cpuSnapshot({ child: child.pid }, services);
      await new Promise((r) => setTimeout(r, 1000));
      const after = cpuSnapshot({ child: child.pid }, services);
      expect(after.child! - before.child!).toBeGreaterThan(200);
      expect(after.redis! - before.redis!).toBeGreaterThan(200);
      expect(after.machine! - before.machine!).toBeGreaterThan(200);
    } finally {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});

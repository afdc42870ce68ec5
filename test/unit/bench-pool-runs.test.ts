import { estimatedAtRatio, poolRuns } from '../../bench/scenarios/observability';

describe('poolRuns (bench observability: the runs of one mode as one)', () => {
  const steady = { latencies: [40, 41, 42, 43, 44, 45, 46, 47, 48, 49], ok: 10, durationS: 0.5, cpuMs: 100 };
  const stalled = { latencies: [1700], ok: 1, durationS: 2, cpuMs: 40 };

  it('takes the p50 over every latency, so a run left with one slow request weighs as one request', () => {
    // The mean of the two runs' p50s would be (44 + 1700) / 2 = 872 ms.
    expect(poolRuns([steady, stalled]).p50_ms).toBe(45);
  });

  it('gives req/s and CPU per request as totals over totals', () => {
    const p = poolRuns([steady, stalled]);
    expect(p.rps).toBeCloseTo(11 / 2.5, 6);
    expect(p.cpu_ms_per_request).toBeCloseTo(140 / 11, 6);
  });

  it('has no CPU figure when a run could not be measured, and no figures without requests', () => {
    expect(poolRuns([steady, { ...stalled, cpuMs: null }]).cpu_ms_per_request).toBeNull();
    expect(poolRuns([{ latencies: [], ok: 0, durationS: 0, cpuMs: 0 }])).toEqual({ p50_ms: null, rps: null, cpu_ms_per_request: null });
  });
});

describe('estimatedAtRatio (bench observability: the default sampling from every request traced)', () => {
  it('adds the ratio of what a traced request adds, to CPU per request', () => {
    // Every /me traced costs 1.6 × off: at 5 % kept, 1 + 0.05 × 0.6.
    expect(estimatedAtRatio(0.05, 1.6, true)).toBeCloseTo(1.03, 9);
    expect(estimatedAtRatio(1, 1.6, true)).toBeCloseTo(1.6, 9);
    expect(estimatedAtRatio(0, 1.6, true)).toBe(1);
  });

  it('works on the inverse of a throughput: req/s at half of off is twice the cost per request', () => {
    expect(estimatedAtRatio(0.05, 0.5, false)).toBeCloseTo(1 / 1.05, 9);
    expect(estimatedAtRatio(1, 0.5, false)).toBeCloseTo(0.5, 9);
  });

  it('has no estimate without a measure', () => {
    expect(estimatedAtRatio(0.05, null, true)).toBeNull();
    expect(estimatedAtRatio(0.05, 0, false)).toBeNull();
  });
});

import { summariseSoak, type SoakSample } from '../../bench/scenarios/memory';

/** Samples every 15 s; `worker` gives the worker's RSS, the rest fixed. */
const samples = (worker: number[], delivered: (i: number) => number | null = (i) => i * 10): SoakSample[] =>
  worker.map((w, i) => ({ t_s: i * 15, api: 200, worker: w, 'db-processor': 150, heap_mb: { worker: 80, 'db-processor': null }, accepted: i * 10, delivered: delivered(i) }));

describe('summariseSoak (bench --soak: growth read from the samples)', () => {
  it('reads a sawtooth whose peaks do not rise as no higher in its second half, though its slope from a trough is positive', () => {
    // Warm-up until 30 s; then troughs at 30 and 90 s (a major GC), peaks of 700 in both halves (75 and 135 s).
    const s = summariseSoak(samples([400, 500, 550, 600, 650, 700, 600, 640, 680, 700, 620]), 30);
    expect(s.summary.worker.after_warmup_mb).toBe(550);
    expect(s.summary.worker.max_first_half_mb).toBe(700);
    expect(s.summary.worker.max_second_half_mb).toBe(700);
    expect(s.summary.worker.slope_mb_per_min).toBeGreaterThan(0);
  });

  it('reads steady growth as a higher second half', () => {
    const s = summariseSoak(samples([300, 310, 320, 330, 340, 350, 360, 370, 380]), 30);
    expect(s.summary.worker.max_second_half_mb).toBeGreaterThan(s.summary.worker.max_first_half_mb as number);
    expect(s.summary.worker.slope_mb_per_min).toBeCloseTo(40, 6);
  });

  it('skips samples a process could not be read in, and keeps the accepted and delivered counts of the first sample after the warm-up and the last', () => {
    const s = summariseSoak(samples([300, 310, 320, 330], (i) => (i === 3 ? null : i * 10 - 5)), 15);
    expect(s.heap_summary['db-processor']).toEqual({ after_warmup_mb: null, end_mb: null, max_mb: null, slope_mb_per_min: null, max_first_half_mb: null, max_second_half_mb: null });
    expect(s.backlog).toEqual({ after_warmup: { accepted: 10, delivered: 5 }, end: { accepted: 30, delivered: null } });
  });
});

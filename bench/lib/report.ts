import type { ScenarioResult, System } from './load';

export const SYSTEMS: System[] = ['ours', 'direct', 'better-auth'];
export const SCENARIO_ORDER = ['signup', 'signup_smtp_stalled', 'signup_to_verified', 'verify', 'signin', 'me', 'logout', 'signup_throughput'];

export interface TargetRow {
  name: string;
  target: string;
  value: number | null;
  unit: string;
  met: boolean | null;
  detail?: string;
}

const fmt = (v: number | null | undefined, d = 1) => (v === null || v === undefined ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(d));

export function sortScenarios(rows: ScenarioResult[]): ScenarioResult[] {
  const idx = (n: string) => {
    const i = SCENARIO_ORDER.indexOf(n);
    return i < 0 ? 99 : i;
  };
  return [...rows].sort((a, b) => idx(a.name) - idx(b.name) || a.concurrency - b.concurrency || SYSTEMS.indexOf(a.system) - SYSTEMS.indexOf(b.system));
}

export function scenarioTable(rows: ScenarioResult[], floor: { hash_ms: number; compare_ms: number }): string {
  const head = '| scenario | conc. | system | p50 ms | p95 ms | p99 ms | max ms | req/s | errors | p50 − bcrypt floor |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|';
  const lines = sortScenarios(rows).map((r) => {
    const ge = r.timeouts > 0 ? '≥' : '';
    const floorMs = r.name === 'signin' ? floor.compare_ms : r.name === 'verify' ? floor.hash_ms : null;
    const minus = floorMs !== null && r.p50_ms !== null ? `${fmt(r.p50_ms - floorMs)} (${r.name === 'signin' ? 'compare' : 'hash'})` : '';
    const errs = r.errors ? `${r.errors}${r.timeouts ? ` (${r.timeouts} timeouts)` : ''}` : '0';
    return `| ${r.name} | ${r.concurrency} | ${r.system} | ${ge}${fmt(r.p50_ms)} | ${ge}${fmt(r.p95_ms)} | ${ge}${fmt(r.p99_ms)} | ${ge}${fmt(r.max_ms)} | ${fmt(r.rps)} | ${errs} | ${minus} |`;
  });
  return [head, ...lines].join('\n');
}

export type Ratios = Record<string, Partial<Record<Exclude<System, 'ours'>, { p50: number | null; p99: number | null; rps: number | null }>>>;

/** ours ÷ peer for every scenario and concurrency both ran: < 1 is better for latency, > 1 for req/s. */
export function ratios(rows: ScenarioResult[]): Ratios {
  const out: Ratios = {};
  const r = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : Math.round((a / b) * 1000) / 1000);
  for (const o of rows.filter((x) => x.system === 'ours')) {
    const key = `${o.name}@${o.concurrency}`;
    for (const peer of ['direct', 'better-auth'] as const) {
      const p = rows.find((x) => x.system === peer && x.name === o.name && x.concurrency === o.concurrency);
      if (!p) continue;
      (out[key] ??= {})[peer] = { p50: r(o.p50_ms, p.p50_ms), p99: r(o.p99_ms, p.p99_ms), rps: r(o.rps, p.rps) };
    }
  }
  return out;
}

export function ratioTable(rt: Ratios): string {
  const head = '| scenario@conc. | p50 ours/direct | p50 ours/better-auth | p99 ours/direct | p99 ours/better-auth | req/s ours/direct | req/s ours/better-auth |\n|---|---:|---:|---:|---:|---:|---:|';
  const f = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));
  const lines = Object.entries(rt).map(
    ([k, v]) => `| ${k} | ${f(v.direct?.p50)} | ${f(v['better-auth']?.p50)} | ${f(v.direct?.p99)} | ${f(v['better-auth']?.p99)} | ${f(v.direct?.rps)} | ${f(v['better-auth']?.rps)} |`,
  );
  return [head, ...lines].join('\n');
}

export function targetTable(ts: TargetRow[]): string {
  const head = '| target | wanted | measured | met |\n|---|---|---:|:---:|';
  const lines = ts.map((t) => `| ${t.name} | ${t.target} | ${t.value === null ? '–' : `${fmt(t.value, 2)} ${t.unit}`}${t.detail ? ` (${t.detail})` : ''} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`);
  return [head, ...lines].join('\n');
}

const COLORS: Record<System, string> = { ours: '#2563eb', direct: '#ea580c', 'better-auth': '#16a34a' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Grouped bars, log scale: per scenario and concurrency, per system a p50 bar and a lighter p99 bar. */
export function chartSvg(rows: ScenarioResult[], title: string): string {
  const sorted = sortScenarios(rows).filter((r) => r.p50_ms !== null);
  const groups: { key: string; rows: ScenarioResult[] }[] = [];
  for (const r of sorted) {
    const key = `${r.name} c=${r.concurrency}`;
    let g = groups.find((x) => x.key === key);
    if (!g) groups.push((g = { key, rows: [] }));
    g.rows.push(r);
  }
  const values = sorted.flatMap((r) => [r.p50_ms ?? 0, r.p99_ms ?? 0]).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.01, Math.min(...values, 1)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 10))));
  const bar = 9;
  const groupW = SYSTEMS.length * (2 * bar + 3) + 18;
  const left = 70;
  const top = 50;
  const plotH = 360;
  const width = left + groups.length * groupW + 120;
  const height = top + plotH + 150;
  const y = (v: number) => top + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="600">${esc(title)}</text>`);
  out.push(`<text x="${left}" y="38" fill="#555">Latency in ms, log scale. Solid: p50; light: p99. "≥" marks runs whose requests timed out (value = client timeout).</text>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const yy = y(d);
    out.push(`<line x1="${left}" x2="${width - 20}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" fill="#444">${d >= 1 ? d.toFixed(0) : d}</text>`);
  }
  out.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#444">ms</text>`);
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + 9;
    SYSTEMS.forEach((sys, si) => {
      const r = g.rows.find((x) => x.system === sys);
      if (!r) return;
      const x = gx + si * (2 * bar + 3);
      const p50 = r.p50_ms ?? 0;
      const p99 = r.p99_ms ?? p50;
      const tip = `${r.system} ${r.name} c=${r.concurrency}: p50 ${p50} ms, p99 ${p99} ms, ${r.rps} req/s, ${r.errors} errors`;
      out.push(`<rect x="${x}" y="${y(p50)}" width="${bar}" height="${top + plotH - y(p50)}" fill="${COLORS[sys]}"><title>${esc(tip)}</title></rect>`);
      out.push(`<rect x="${x + bar}" y="${y(p99)}" width="${bar}" height="${top + plotH - y(p99)}" fill="${COLORS[sys]}" fill-opacity="0.35"><title>${esc(tip)}</title></rect>`);
      if (r.timeouts > 0) out.push(`<text x="${x + bar}" y="${y(p99) - 3}" text-anchor="middle" font-size="10">≥</text>`);
    });
    const lx = gx + (SYSTEMS.length * (2 * bar + 3)) / 2;
    out.push(`<text transform="translate(${lx} ${top + plotH + 10}) rotate(40)" fill="#222">${esc(g.key)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${width - 20}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  SYSTEMS.forEach((sys, i) => {
    const lx = left + i * 130;
    const ly = height - 18;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[sys]}"/><text x="${lx + 17}" y="${ly}">${sys}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { metricsRegistry } from '../../common/metrics';
import { COMPOSE_CONFIGS, PROMETHEUS_DIR } from '../../scripts/prometheus-config';

const ROOT = path.resolve(__dirname, '../..');
const ALERTS = path.join(PROMETHEUS_DIR, 'alerts.yml');

/** promtool ships with the Debian prometheus package that scripts/stack.sh installs. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool could not run (${r.error.message}): scripts/stack.sh up installs the prometheus package`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alert rules and configuration', () => {
  it('promtool accepts the alert rules', () => {
    const r = promtool('check', 'rules', ALERTS);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('the alert unit tests pass (dead letters, signups stuck while mail fails, mail failure rate, 5xx rate)', () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('the alert rules name the alerts the runbook and the issue ask for', () => {
    const rules = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(rules).toEqual(expect.arrayContaining([
      'SignupsStuckWhileMailFails', 'MailFailureRateHigh', 'DeadLettersPresent', 'Api5xxRateHigh',
      'TemporalWorkflowTaskScheduleToStartSlow', 'TemporalActivityScheduleToStartSlow', 'KafkaConsumerLagHigh',
    ]));
  });

  it('every cfd_ metric an alert or the README uses is one the processes define', async () => {
    const defined = new Set<string>();
    for (const role of ['api', 'worker', 'db-processor'] as const) {
      for (const m of await metricsRegistry(role).getMetricsAsJSON()) defined.add(m.name);
    }
    const used = (text: string) => [...text.matchAll(/\bcfd_(?!auth)[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));
    const missing = [...used(readFileSync(ALERTS, 'utf8')), ...used(readFileSync(path.join(ROOT, 'README.md'), 'utf8'))].filter((n) => !defined.has(n));
    expect([...new Set(missing)]).toEqual([]);
  });

  it('the compose configurations are valid and generated from scripts/prometheus-config.ts', () => {
    for (const file of Object.keys(COMPOSE_CONFIGS)) {
      const r = promtool('check', 'config', file);
      expect(r.output).toContain('SUCCESS');
      expect(r.status).toBe(0);
    }
    const check = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/prometheus-config.ts', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});

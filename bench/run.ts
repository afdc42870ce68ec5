/**
 * `npm run bench` (`--quick` for a short run): our system against the bcrypt floor and two peers,
 * in one run, on this machine's local stack. See bench/README.md.
 *
 *   npm run bench                 default run (< 20 min): bench/results/latest.{json,md,svg}
 *   npm run bench -- --quick      short run (< 4 min):    bench/results/quick.{json,md,svg}
 *   options: --out NAME (results file name), --cpu-prof (profile our API; .cpuprofile files in
 *            bench/results/tmp/<run>/prof), --no-peers (ours and the floor only), --no-topology
 *            (ours on the stack's Temporal only, not also on the production topology)
 *            --soak (ours alone under steady load for SOAK_MINUTES (10), signups offered at
 *            SOAK_SIGNUP_RATE a second (12; 0: unpaced), RSS, V8 heap and mail backlog sampled:
 *            results/soak.{json,md}), --clean (removes what earlier runs left: accounts, sessions, peer
 *            tables, workflows, emails, the server topology's databases, run logs; then exits)
 *   env:     BENCH_PORT_BASE (3100), BCRYPT_COST (12, as in common/config.ts; --quick: 10), MAILDEV_URL, SOAK_MINUTES,
 *            SOAK_SIGNUP_RATE
 */
import os from 'node:os';
import path from 'node:path';
import { killAllSupervised, REPO_ROOT } from '../testkit/supervisor';
import { createBench, parseOptions, type Bench } from './context';
import { endStalled, ensureStack, openWorkflows, oursEnv, startAll, stopAll, terminateBenchWorkflows } from './infra';
import { drain } from './lib/drain';
import { measureBcrypt, medianCompare, medianHash, parallelCompares } from './lib/floor';
import type { System } from './lib/load';
import { buildOutput, markdown, writeResults, writeSoak } from './output';
import { scenarioMe, scenarioLogout, scenarioSignin } from './scenarios/sessions';
import { OBSERVABILITY_RUNS as MODES_RUNS, scenarioObservability } from './scenarios/observability';
import { OURS_PROCS, pgids, scenarioSignup, scenarioThroughput, type Throughput } from './scenarios/signup';
import { preparePending, scenarioSignupToVerified, scenarioVerify, type PendingSignup } from './scenarios/verify';
import { buildServerTopology, scenarioTopology, startServerTopology } from './scenarios/temporal-topology';
import { makeSuts } from './systems';
import { cleanBench } from './clean';
import { rssOfOurs, soak, soakMarkdown } from './scenarios/memory';

/**
 * The systems in a different order for each scenario step (ours first, then second, then third...),
 * so a slow moment of the shared machine, or what one run leaves behind, does not always fall on the
 * same system.
 */
function rotator(): <T>(xs: T[]) => T[] {
  let rotation = 0;
  return <T>(xs: T[]) => {
    const k = rotation++ % xs.length;
    return [...xs.slice(k), ...xs.slice(0, k)];
  };
}

/** Runs a step when about `needS` seconds are left before the reserve; records it as skipped otherwise. */
async function step(ctx: Bench, what: string, needS: number, fn: () => Promise<void>): Promise<void> {
  if (ctx.remainingS() < needS) {
    ctx.skipped.push(`${what} (needs ~${Math.ceil(needS)} s, ${Math.max(0, Math.floor(ctx.remainingS()))} s left in the time budget)`);
    ctx.log(`skipped ${what}: not enough time left`);
    return;
  }
  await fn();
}

/** The safety net of a run: past ctx.plan.hardS every process it started is killed and it exits 3. */
function armHardStop(ctx: Bench): NodeJS.Timeout {
  const hardStop = setTimeout(() => {
    ctx.log(`hard time bound of ${ctx.plan.hardS} s reached: stopping every process this run started`);
    killAllSupervised();
    process.exit(3);
  }, ctx.plan.hardS * 1000);
  hardStop.unref();
  return hardStop;
}

async function cleanMain(ctx: Bench): Promise<void> {
  ctx.log('clean: removing what benchmark runs left on this stack');
  for (const line of await cleanBench(ctx)) ctx.log(`clean: ${line}`);
}

async function soakMain(ctx: Bench): Promise<void> {
  const minutes = Number(process.env.SOAK_MINUTES || 10);
  // Below what this machine mails end to end while /me runs beside (about 15 codes a second; 25 with
  // signups alone, bench/README), so a backlog does not grow; 0 offers signups as fast as 20 connections go.
  const rate = Number(process.env.SOAK_SIGNUP_RATE ?? 12);
  if (!Number.isFinite(rate) || rate < 0) throw new Error(`SOAK_SIGNUP_RATE must be a number of signups a second, 0 for unpaced (got ${process.env.SOAK_SIGNUP_RATE})`);
  ctx.plan.hardS = minutes * 60 + 360;
  const hardStop = armHardStop(ctx);
  await ensureStack(ctx);
  const [ours] = makeSuts(ctx);
  await startAll(ctx, [ours]);
  await endStalled(ctx);
  // Sessions for the /me half of the load.
  const pool = await preparePending(ctx, ours, 10, 'sp');
  await scenarioVerify(ctx, ours, 1, pool);
  ctx.log(`soak: ${minutes} min of signups (${rate ? `${rate}/s over ` : ''}20 connections) and /me (10) on ours, memory every 15 s`);
  const report = await soak(ctx, ours, minutes, rate || null);
  const md = soakMarkdown(report);
  writeSoak(ctx, report, md);
  process.stdout.write(md + '\n');
  await stopAll(ctx);
  try {
    await terminateBenchWorkflows(ctx, [ctx.queue, ctx.queueStalled]);
    await ctx.mail.deleteMatching(`b-${ctx.run}-`, 120_000);
  } catch (err) {
    ctx.log(`cleanup: ${(err as Error).message}`);
  }
  ctx.log(`done in ${ctx.elapsedS().toFixed(0)} s: bench/results/${ctx.outName}.{json,md}`);
  clearTimeout(hardStop);
}

async function main(ctx: Bench): Promise<void> {
  if (ctx.clean) return cleanMain(ctx);
  if (ctx.soak) return soakMain(ctx);
  // Building the server topology (minutes, once per machine) is not part of the run's time bound.
  if (!ctx.noTopology) await buildServerTopology(ctx);
  ctx.restartClock();
  const hardStop = armHardStop(ctx);

  ctx.log(`run ${ctx.run} (${ctx.quick ? 'quick' : 'default'}, bound ${ctx.plan.hardS} s), bcrypt cost ${ctx.cost}, logs in ${path.relative(REPO_ROOT, ctx.tmp)}`);
  const load0 = os.loadavg();
  const rotated = rotator();
  await ensureStack(ctx);
  ctx.openWorkflowsAtStart = await openWorkflows(ctx);
  if ((ctx.openWorkflowsAtStart ?? 0) > 500) ctx.log(`the Temporal server holds ${ctx.openWorkflowsAtStart} open workflows from earlier runs: they load it (npm run bench -- --clean ends the bench's; README "Benchmark")`);
  const suts = makeSuts(ctx);
  const startup = await startAll(ctx, suts);
  ctx.log(`processes ready after ${startup.startup_s.toFixed(1)} s`);

  const [c1, cN] = ctx.plan.concurrency;
  // Pending signups for `verify`, made first so their mail is delivered before anything is timed.
  const pools = new Map<System, PendingSignup[]>();
  await Promise.all(suts.map(async (sut) => pools.set(sut.system, await preparePending(ctx, sut, ctx.plan.verify[0] + ctx.plan.verify[1], 'vp'))));
  ctx.log(`pending signups ready: ${suts.map((s) => `${s.system} ${pools.get(s.system)!.length}`).join(', ')}`);

  const floor = await measureBcrypt(ctx.cost, ctx.plan.floor);
  ctx.log(`bcrypt cost ${ctx.cost}: hash ${floor.hash_ms} ms, compare ${floor.compare_ms} ms, ${floor.compares_per_s_parallel} compares/s with ${floor.parallel} in parallel`);

  const slack = 1.5;
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(ctx, `signup ${sut.system} c=${c}`, (c === 1 ? ctx.plan.c1S : ctx.plan.cNS) + slack, () => scenarioSignup(ctx, sut, c, false));
  await drain(ctx, suts, Math.max(3, Math.min(ctx.quick ? 5 : 60, ctx.remainingS() - 60)));
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(ctx, `signup_smtp_stalled ${sut.system} c=${c}`, ctx.plan.stallS + slack, () => scenarioSignup(ctx, sut, c, true));
  await endStalled(ctx);
  for (const [i, c] of [c1, cN].entries()) {
    if (ctx.plan.s2v[i] <= 0) {
      ctx.skipped.push(`signup_to_verified c=${c} (not part of the ${ctx.quick ? 'quick' : 'default'} plan)`);
      continue;
    }
    for (const sut of rotated(suts)) await step(ctx, `signup_to_verified ${sut.system} c=${c}`, c === 1 ? 3 : 8, () => scenarioSignupToVerified(ctx, sut, c, ctx.plan.s2v[i]));
  }
  // The headline floor is measured right next to the runs it is subtracted from.
  floor.at_start = { hash_ms: floor.hash_ms, compare_ms: floor.compare_ms, compares_per_s_parallel: floor.compares_per_s_parallel };
  floor.hash_ms = await medianHash(ctx.cost, ctx.plan.floor.hashes);
  for (const sut of rotated(suts)) await step(ctx, `verify ${sut.system} c=${c1}`, 3, () => scenarioVerify(ctx, sut, c1, pools.get(sut.system)!));
  for (const sut of rotated(suts)) await step(ctx, `verify ${sut.system} c=${cN}`, Math.min(ctx.plan.boxS, 8) + slack, () => scenarioVerify(ctx, sut, cN, pools.get(sut.system)!));
  floor.compare_ms = await medianCompare(ctx.cost, ctx.plan.floor.compares);
  // What bcrypt alone allows: the best of the measurements, so the signin-throughput target is judged strictly.
  floor.compares_per_s_parallel = Math.max(floor.compares_per_s_parallel, await parallelCompares(ctx.cost, ctx.plan.floor.parallelS, floor.parallel));
  floor.measured = 'hash_ms right before the verify runs; compare_ms right before the signin runs; compares_per_s_parallel: the best of the measurements at the start and right before the signin runs; at_start: the first measurement';
  ctx.log(`bcrypt next to the runs: hash ${floor.hash_ms} ms, compare ${floor.compare_ms} ms, ${floor.compares_per_s_parallel} compares/s`);
  for (const sut of rotated(suts)) await step(ctx, `signin ${sut.system} c=${c1}`, ctx.plan.signinC1S + slack, () => scenarioSignin(ctx, sut, c1));
  for (const sut of rotated(suts)) await step(ctx, `signin ${sut.system} c=${cN}`, Math.min(ctx.plan.boxS, 8) + slack, () => scenarioSignin(ctx, sut, cN));
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(ctx, `me ${sut.system} c=${c}`, (c === 1 ? ctx.plan.c1S : ctx.plan.cNS) + slack, () => scenarioMe(ctx, sut, c));
  if (ctx.observed) {
    const obs = ctx.observed;
    await step(ctx, 'observability overhead (ours, tracing and metrics on ÷ off)', (MODES_RUNS + 2) * (ctx.plan.c1S + ctx.plan.cNS) + 8 * slack, () => scenarioObservability(ctx, suts[0], obs.exporter));
    // The twins have done their part: their pollers and consumers would only share the cores with what follows.
    await Promise.all(obs.procs.map((p) => p.stop()));
  }
  for (const c of [c1, cN]) for (const sut of rotated(suts)) await step(ctx, `logout ${sut.system} c=${c}`, 2, () => scenarioLogout(ctx, sut, c));

  // Sustained signups: ours for the full window; the peers for a shorter one when time allows.
  let oursTp: Throughput | undefined;
  const peerTp: Throughput[] = [];
  const peerShare = (suts.length - 1) * (ctx.plan.peerThroughputS > 0 ? ctx.plan.peerThroughputS + 15 : 0);
  await step(ctx, `signup_throughput ours ${ctx.plan.throughputS} s`, ctx.plan.throughputS + 5, async () => {
    const drain = Math.max(3, Math.min(ctx.plan.drainMaxS, ctx.remainingS() - ctx.plan.throughputS - 2 - peerShare));
    oursTp = await scenarioThroughput(ctx, suts[0], ctx.plan.throughputS, drain, pgids(ctx.procs, OURS_PROCS));
  });
  // Memory of our processes right after the sustained run (the worker's target: ≤ 300 MB).
  if (oursTp) ctx.memory = rssOfOurs(ctx);
  for (const sut of suts.slice(1)) {
    if (ctx.plan.peerThroughputS <= 0) continue;
    await step(ctx, `signup_throughput ${sut.system} ${ctx.plan.peerThroughputS} s`, ctx.plan.peerThroughputS + 8, async () => {
      peerTp.push(await scenarioThroughput(ctx, sut, ctx.plan.peerThroughputS, Math.max(3, Math.min(30, ctx.remainingS() - ctx.plan.peerThroughputS - 2)), pgids(ctx.procs, [sut.system])));
    });
  }

  // Ours again on the production-topology Temporal, alternated with the dev server.
  if (!ctx.noTopology && ctx.canTopology) {
    // Start-up, eight alternated runs with the mail of each drained before the next (~10 s each here), two sustained runs.
    const needS = 45 + 2 * (ctx.plan.c1S + ctx.plan.cNS + 2 * slack) * 2 + 80 + (ctx.plan.topologySustainedS > 0 ? 2 * (ctx.plan.topologySustainedS + ctx.plan.drainMaxS / 3) : 0);
    await step(ctx, 'temporal topology (ours on the server topology)', needS, async () => {
      const server = await startServerTopology(ctx, oursEnv(ctx));
      if (!server) return;
      try {
        await scenarioTopology(ctx, suts[0], server, ctx.plan.topologySustainedS);
      } finally {
        await server.stop();
      }
    });
  }

  // Results first (a cleanup that overruns must not lose them), then cleanup, then again with its outcome.
  let out = buildOutput(ctx, floor, startup.startup_s, load0, oursTp, peerTp, []);
  writeResults(ctx, out, markdown(ctx, out, floor, oursTp, peerTp));
  ctx.log('cleanup: stopping processes, ending this run\'s open workflows, deleting its emails');
  await stopAll(ctx);
  const cleanup: string[] = [];
  try {
    cleanup.push(await terminateBenchWorkflows(ctx, [ctx.queue, ctx.queueStalled, `${ctx.queue}-obs`, `${ctx.queue}-obs-off`]));
  } catch (err) {
    cleanup.push(`workflow cleanup failed: ${(err as Error).message}`);
  }
  try {
    const budget = Math.max(3, ctx.plan.hardS - ctx.elapsedS() - 4);
    cleanup.push(`${await ctx.mail.deleteMatching(`b-${ctx.run}-`, budget * 1000)} of this run's emails deleted from MailDev`);
  } catch (err) {
    cleanup.push(`MailDev cleanup failed: ${(err as Error).message}`);
  }
  out = buildOutput(ctx, floor, startup.startup_s, load0, oursTp, peerTp, cleanup);
  const md = markdown(ctx, out, floor, oursTp, peerTp);
  writeResults(ctx, out, md);
  process.stdout.write(md + '\n');
  ctx.log(`done in ${ctx.elapsedS().toFixed(0)} s: bench/results/${ctx.outName}.{json,md,svg}`);
  clearTimeout(hardStop);
}

function runFromCommandLine(): void {
  // A local benchmark: development secrets unless the environment says otherwise (children inherit it).
  process.env.NODE_ENV ??= 'development';
  const ctx = createBench(parseOptions(process.argv.slice(2)));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      ctx.log(`${sig}: stopping every process this run started`);
      killAllSupervised();
      process.exit(130);
    });
  }
  process.once('exit', () => killAllSupervised());

  main(ctx).then(() => process.exit(0), async (err) => {
    ctx.log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    await stopAll(ctx).catch(() => undefined);
    process.exit(1);
  });
}

if (require.main === module) runFromCommandLine();

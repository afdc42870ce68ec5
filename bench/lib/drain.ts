import { sleep } from '../../testkit/wait';
import type { Bench } from '../context';
import type { Sut } from '../systems';

/** Waits, up to `maxS` in all, until MailDev holds every email the systems' earlier signups owe (ctx.owed), then clears what they owe. */
export async function drain(ctx: Bench, suts: Sut[], maxS: number): Promise<void> {
  const t0 = Date.now();
  const until = t0 + maxS * 1000;
  for (const sut of suts) {
    for (const o of ctx.owed.get(sut.system) ?? []) {
      for (;;) {
        let n = 0;
        try {
          n = await ctx.mail.count(o.needle);
        } catch {
          // MailDev busy
        }
        if (n >= o.expected) break;
        if (Date.now() >= until) {
          ctx.log(`drain: ${sut.system} still owes ${o.expected - n} emails (${o.needle}); going on after ${maxS.toFixed(0)} s`);
          break;
        }
        await sleep(250);
      }
    }
    ctx.owed.set(sut.system, []);
  }
  const waited = (Date.now() - t0) / 1000;
  if (waited > 1) ctx.log(`drain: waited ${waited.toFixed(1)} s for earlier signups' emails`);
}

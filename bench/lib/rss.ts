import { readdirSync, readFileSync } from 'node:fs';

/**
 * Resident memory of a supervised process, from /proc (Linux): the sum over its process group (a
 * SupervisedProcess is a group leader), in MB; null when it is not running or /proc is unreadable.
 */
export function groupRssMb(pgid: number | undefined): number | null {
  if (!pgid) return null;
  let kb = 0;
  let found = false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces), closed by the last ')': state, ppid, pgrp.
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== pgid) continue;
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) {
        kb += Number(rss[1]);
        found = true;
      }
    } catch {
      // gone meanwhile
    }
  }
  return found ? Math.round((kb / 1024) * 10) / 10 : null;
}

/** Least-squares slope of (t, y) pairs, in y units per t unit; null with fewer than 3 points. */
export function slope(points: readonly { t: number; y: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? null : num / den;
}

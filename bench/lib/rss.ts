import { readdirSync, readFileSync } from 'node:fs';

/**
 * The /proc entries (Linux) of a process group's members: a SupervisedProcess is a group leader, and
 * tsx starts a second node process in it. Each with its stat fields after the command name (which
 * may hold spaces, closed by the last ')'): state, ppid, pgrp, … utime (11), stime (12).
 */
function groupMembers(pgid: number): { pid: string; fields: string[] }[] | null {
  return processes((_pid, fields) => Number(fields[2]) === pgid);
}

/** The /proc entries of every process `keep` accepts (given its pid and stat fields). */
function processes(keep: (pid: string, fields: string[]) => boolean): { pid: string; fields: string[] }[] | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const members: { pid: string; fields: string[] }[] = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (keep(pid, fields)) members.push({ pid, fields });
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

/** Resident memory of a supervised process, the sum over its process group, in MB; null when it is not running or /proc is unreadable. */
export function groupRssMb(pgid: number | undefined): number | null {
  if (!pgid) return null;
  let kb = 0;
  let found = false;
  for (const { pid } of groupMembers(pgid) ?? []) {
    try {
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

/** CPU time (user + system) a supervised process's group has used so far, in ms; null when it is not running or /proc is unreadable. */
export function groupCpuMs(pgid: number | undefined): number | null {
  if (!pgid) return null;
  const members = groupMembers(pgid);
  if (!members || members.length === 0) return null;
  return cpuMsOf(members);
}

/** CPU time (user + system) so far, in ms, of every process whose command line `match` accepts (NULs between arguments). */
export function cpuMsMatching(match: (cmdline: string) => boolean): number | null {
  const found = processes((pid) => {
    try {
      return match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });
  return found ? cpuMsOf(found) : null;
}

// Clock ticks; 100 per second on Linux (USER_HZ).
const cpuMsOf = (members: { fields: string[] }[]) => members.reduce((ms, m) => ms + (Number(m.fields[11]) + Number(m.fields[12])) * 10, 0);

/**
 * The stack's shared services, by the command lines scripts/stack.sh (or the bench's server
 * topology) starts them with, NULs between arguments.
 */
export const STACK_SERVICES = {
  temporal: (c: string) => c.includes('temporal\0server\0start-dev'),
  // The production topology's server (TEMPORAL_TOPOLOGY=server), when the bench runs one.
  'temporal-server': (c: string) => c.includes('temporal-server/bin/server'),
  kafka: (c: string) => c.includes('kafka.Kafka'),
  postgres: (c: string) => c.startsWith('postgres') || c.includes('bin/postgres'),
  redis: (c: string) => c.startsWith('redis-server'),
  maildev: (c: string) => c.includes('.bin/maildev'),
} satisfies Record<string, (cmdline: string) => boolean>;

export type CpuSnapshot = Record<string, number | null>;

/**
 * CPU time used so far (ms) by each named process group (null: no such group running), each of
 * `services` and the whole machine (`machine`); all null when /proc is unreadable. One pass over
 * /proc, each command line read once.
 */
export function cpuSnapshot(groups: Record<string, number | undefined>, services: Record<string, (cmdline: string) => boolean> = STACK_SERVICES): CpuSnapshot {
  const groupOf = new Map(Object.entries(groups).flatMap(([name, pgid]) => (pgid ? [[pgid, name] as const] : [])));
  const ms = new Map<string, number>();
  const add = (name: string, fields: string[]) => ms.set(name, (ms.get(name) ?? 0) + cpuMsOf([{ fields }]));
  const scanned = processes((pid, fields) => {
    const group = groupOf.get(Number(fields[2]));
    if (group) add(group, fields);
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return false; // gone meanwhile
    }
    for (const [name, match] of Object.entries(services)) if (match(cmdline)) add(name, fields);
    return false;
  });
  const snap: CpuSnapshot = {};
  for (const name of Object.keys(groups)) snap[name] = scanned ? ms.get(name) ?? null : null;
  for (const name of Object.keys(services)) snap[name] = scanned ? ms.get(name) ?? 0 : null;
  snap.machine = machineBusyMs();
  return snap;
}

/** CPU (ms) per unit of work of each entry between two snapshots; null where either side is unknown or there was no work. */
export function cpuPerUnit(before: CpuSnapshot, after: CpuSnapshot, units: number): CpuSnapshot {
  return Object.fromEntries(Object.entries(after).map(([name, end]) => {
    const start = before[name];
    return [name, end === null || start === null || start === undefined || units <= 0 ? null : Math.round(((end - start) / units) * 100) / 100];
  }));
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

/** CPU time the whole machine has been busy so far (all cores, everything but idle and I/O wait), in ms; null when /proc/stat is unreadable. */
export function machineBusyMs(): number | null {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = ticks;
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return null;
  }
}

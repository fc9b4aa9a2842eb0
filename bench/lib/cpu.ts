/**
 * CPU time per process, for bench:proxy's split of where a request's CPU goes (the gateway under test,
 * DynamoDB Local, the bench's own process with the client and the simulated provider). On a 2-core machine
 * every process shares the same cores, so a path's throughput follows the CPU all of them spend per request.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/** User + system CPU (ms) used so far by process `pid`, from /proc; null where /proc is not there. */
export function processCpuMs(pid: number): number | null {
  try {
    // Fields after the command name (which may contain spaces, hence the split on ") "): utime is the 12th, stime the 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S;
  } catch {
    return null;
  }
}

/** This process's CPU (ms), from Node itself. */
export const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export type CpuProbes = Record<string, () => number | null>;

/** Starts a measurement over `probes`; the returned function gives each probe's CPU ms per request (null: unknown). */
export function cpuPerRequest(probes: CpuProbes): (requests: number) => Record<string, number | null> {
  const start = Object.fromEntries(Object.entries(probes).map(([k, read]) => [k, read()]));
  return (requests) =>
    Object.fromEntries(
      Object.entries(probes).map(([k, read]) => {
        const a = start[k];
        const b = read();
        return [k, a === null || a === undefined || b === null || requests <= 0 ? null : (b - a) / requests];
      }),
    );
}

// Lab namespaces are named nfc-<owner pid>t<owner start time>-<run id>-<host>, so that a later
// run can tell whether the owner is still alive (and still the same process: pids are reused)
// and reap what a crash left behind. Labs made by `nfconform lab up` have a run id that starts
// with "m" (made by hand): `lab down` and `lab exec` address only those.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const PREFIX = 'nfc';

export function newRunId(handMade = false): string {
  return `${handMade ? 'm' : ''}${randomBytes(3).toString('hex')}`;
}

/** Field 22 of /proc/PID/stat (starttime, in clock ticks since boot): with the pid, names one process for good. */
export function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": comm may hold spaces and parentheses, so count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[22 - 3]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

let ownStart: number | undefined;

export function nsName(pid: number, runId: string, host: string): string {
  const start = pid === process.pid ? (ownStart ??= startTimeOf(pid)) : startTimeOf(pid);
  return `${PREFIX}-${pid}${start === undefined ? '' : `t${start}`}-${runId}-${host}`;
}

export interface NsOwner {
  pid: number;
  /** the owner's start time; undefined in names made before it was recorded */
  start?: number;
  runId: string;
  host: string;
  /** made by `nfconform lab up` */
  handMade: boolean;
}

export function parseNsName(name: string): NsOwner | undefined {
  const m = /^nfc-(\d+)(?:t(\d+))?-(m?[0-9a-f]+)-(.+)$/.exec(name);
  if (!m) return undefined;
  const out: NsOwner = { pid: Number(m[1]), runId: m[3]!, host: m[4]!, handMade: m[3]!.startsWith('m') };
  if (m[2] !== undefined) out.start = Number(m[2]);
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The owner of a lab still runs: its pid is alive and, when recorded, started when the lab's owner did. */
export function ownerAlive(o: Pick<NsOwner, 'pid' | 'start'>): boolean {
  if (!pidAlive(o.pid)) return false;
  return o.start === undefined || startTimeOf(o.pid) === o.start;
}

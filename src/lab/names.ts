// Lab namespaces are named nfc-<owner pid>-<run id>-<host>, so that a later run
// can tell whether the owner is still alive and reap what a crash left behind.
import { randomBytes } from 'node:crypto';

export const PREFIX = 'nfc';

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

export function nsName(pid: number, runId: string, host: string): string {
  return `${PREFIX}-${pid}-${runId}-${host}`;
}

export function parseNsName(name: string): { pid: number; runId: string; host: string } | undefined {
  const m = /^nfc-(\d+)-([0-9a-f]+)-(.+)$/.exec(name);
  return m ? { pid: Number(m[1]), runId: m[2]!, host: m[3]! } : undefined;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

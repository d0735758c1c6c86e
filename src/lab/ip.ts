// iproute2 calls: argument arrays through execa, batched with `ip -batch` to
// keep process spawns (6-20 ms each here) few.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';

export class LabCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (exit ${code}): ${stderr.trim()}`);
    this.name = 'LabCommandError';
  }
}

export async function ip(args: readonly string[], stdin?: string): Promise<string> {
  const r = await execa('ip', args, { input: stdin ?? '', reject: false });
  if (r.exitCode !== 0) throw new LabCommandError(['ip', ...args], r.exitCode ?? 1, String(r.stderr));
  return String(r.stdout);
}

export async function listNetns(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter(Boolean);
}

export function listNetnsSync(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0]!)
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Kills every process inside the namespaces, then deletes them. Synchronous: usable in exit handlers. */
export function destroyNamespacesSync(names: readonly string[]): void {
  for (const ns of names) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number);
      for (const pid of pids)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
    } catch {
      /* namespace gone */
    }
  }
  if (names.length === 0) return;
  try {
    execFileSync('ip', ['-force', '-batch', '-'], {
      input: names.map((n) => `netns del ${n}`).join('\n') + '\n',
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  } catch {
    /* -force keeps going; leftovers are reported by the caller */
  }
}

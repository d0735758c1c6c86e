// iproute2 calls: argument arrays through execa, batched with `ip -batch` to
// keep process spawns (6-20 ms each here) few.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';

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

/**
 * What may stand in an `ip -batch` line or an `ip` argument built from a topology: names
 * (src/model/net/names.ts), formatted addresses and CIDRs, keywords. Nothing that ends a line,
 * starts a comment or a quote. Topologies are checked when loaded; this is the second wall.
 */
const SAFE_TOKEN = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/;

export class UnsafeArgumentError extends Error {
  constructor(token: string) {
    super(`refused to pass ${JSON.stringify(token.slice(0, 80))} to ip: not a checked name or address`);
    this.name = 'UnsafeArgumentError';
  }
}

/** One `ip -batch` line from tokens, each checked against SAFE_TOKEN. */
export function batchLine(...tokens: readonly (string | number)[]): string {
  for (const t of tokens) if (!SAFE_TOKEN.test(String(t))) throw new UnsafeArgumentError(String(t));
  return tokens.join(' ');
}

/** Arguments for one `ip` process: none may hold a line break or a NUL (ip -batch and netns names). */
export function checkArgs(args: readonly string[]): void {
  for (const a of args) if (/[\n\r\0]/.test(a)) throw new UnsafeArgumentError(a);
}

/** Where `ip netns add` keeps a named namespace (iproute2 NETNS_RUN_DIR); `ip netns list` lists this folder. */
const NETNS_DIR = '/run/netns';

/** The named namespaces: the folder read, no `ip netns list` process (one per lab build). */
export async function listNetns(): Promise<string[]> {
  try {
    return (await readdir(NETNS_DIR)).sort();
  } catch {
    return [];
  }
}

/** The processes inside these namespaces, as `ip netns pids` finds them (ip/ipnetns.c netns_pids: /proc/PID/ns/net
 *  and the namespace's file are the same nsfs inode), for all of them in one pass over /proc, no process spawned. */
async function pidsIn(names: readonly string[]): Promise<number[]> {
  const ids = new Set<string>();
  for (const n of names)
    try {
      const s = await stat(`${NETNS_DIR}/${n}`);
      ids.add(`${s.dev}:${s.ino}`);
    } catch {
      /* gone already */
    }
  if (ids.size === 0) return [];
  const pids: number[] = [];
  for (const e of await readdir('/proc'))
    if (/^\d+$/.test(e))
      try {
        const s = await stat(`/proc/${e}/ns/net`);
        if (ids.has(`${s.dev}:${s.ino}`)) pids.push(Number(e));
      } catch {
        /* exited meanwhile */
      }
  return pids;
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

/** Kills every process inside the namespaces, then deletes them: as destroyNamespacesSync, without blocking the
 * event loop (a lab's teardown in a campaign must not stop the other labs' probes and their timeouts). */
export async function destroyNamespaces(names: readonly string[]): Promise<void> {
  for (const pid of await pidsIn(names))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  // a name another tool made may not fit a batch line: such names get a process of their own
  for (const n of names.filter((x) => !SAFE_TOKEN.test(x))) await execa('ip', ['netns', 'del', n], { reject: false });
  const lines = names.filter((n) => SAFE_TOKEN.test(n)).map((n) => batchLine('netns', 'del', n));
  // -force keeps going; leftovers are reported by the caller
  if (lines.length) await execa('ip', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n', reject: false });
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
  // a name another tool made may not fit a batch line: such names get a process of their own
  const odd = names.filter((n) => !SAFE_TOKEN.test(n));
  for (const n of odd)
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      /* reported by the caller */
    }
  const lines = names.filter((n) => SAFE_TOKEN.test(n)).map((n) => batchLine('netns', 'del', n));
  if (lines.length === 0) return;
  try {
    execFileSync('ip', ['-force', '-batch', '-'], {
      input: lines.join('\n') + '\n',
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  } catch {
    /* -force keeps going; leftovers are reported by the caller */
  }
}

// Every lab registers here; on normal exit, SIGINT and SIGTERM its namespaces
// and agents are removed. Labs of dead owners (SIGKILL, crash) are reaped at the next start.
import { listNetns, listNetnsSync, destroyNamespacesSync } from './ip.ts';
import { parseNsName, ownerAlive, PREFIX } from './names.ts';

/** run id -> synchronous teardown (exit handlers cannot wait) */
const live = new Map<string, () => void>();
let installed = false;

function teardownAll(): void {
  const all = [...live.values()];
  live.clear();
  for (const f of all) {
    try {
      f();
    } catch {
      /* keep tearing down the others */
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', teardownAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      teardownAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export function registerLab(id: string, teardownSync: () => void): void {
  install();
  live.set(id, teardownSync);
}

export function unregisterLab(id: string): void {
  live.delete(id);
}

/** Deletes namespaces whose owner is gone (its pid dead, or reused by a process that started later). Returns what was
 * reaped. */
export async function reapStale(): Promise<string[]> {
  const stale = (await listNetns()).filter((n) => {
    const p = parseNsName(n);
    return p !== undefined && p.pid !== process.pid && !ownerAlive(p);
  });
  destroyNamespacesSync(stale);
  return stale;
}

/** Every nfconform namespace, owned by anyone (for `doctor --cleanup` and hygiene checks). */
export function ownNamespacesSync(): string[] {
  return listNetnsSync().filter((n) => n.startsWith(`${PREFIX}-`));
}

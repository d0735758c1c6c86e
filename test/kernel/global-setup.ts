// The kernel project must leave the host as it found it: the root namespace's
// iptables (nft and legacy) unchanged, and no nfconform namespace behind.
import { execFileSync } from 'node:child_process';

function rootRules(): string {
  const out: string[] = [];
  for (const cmd of ['iptables-nft-save', 'iptables-legacy-save']) {
    try {
      out.push(
        execFileSync(cmd, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .split('\n')
          .filter((l) => !l.startsWith('#'))
          // packet counters move with the host's own traffic; only the rules and policies must stay
          .map((l) => l.replace(/\[\d+:\d+\]/g, '[*]'))
          .join('\n'),
      );
    } catch {
      out.push(`${cmd}: unavailable`);
    }
  }
  return out.join('\n---\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** nfconform namespaces whose owner is gone: what this run (or a crash) left. Live owners are other runs
 * on the same machine (a concurrent job), whose labs are theirs to remove. */
function orphanNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => {
        const m = /^nfc-(\d+)(?:t\d+)?-/.exec(n);
        return m !== null && !alive(Number(m[1]));
      });
  } catch {
    return [];
  }
}

/** Lab containers still there whose owner is gone (none when no Docker daemon answers). */
function orphanContainers(): string[] {
  try {
    return execFileSync(
      'docker',
      ['ps', '-a', '--filter', 'label=org.nfconform.lab', '--format', '{{.ID}} {{.Label "org.nfconform.owner-pid"}}'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 },
    )
      .split('\n')
      .filter(Boolean)
      .filter((l) => !alive(Number(l.split(' ')[1])))
      .map((l) => l.split(' ')[0]!);
  } catch {
    return [];
  }
}

export default function setup(): () => Promise<void> {
  const before = rootRules();
  return async () => {
    // AutoRemove takes a moment after a container stops
    for (let i = 0; i < 20 && orphanContainers().length; i++) await new Promise((r) => setTimeout(r, 250));
    const containers = orphanContainers();
    if (containers.length) throw new Error(`kernel tests left lab containers behind: ${containers.join(' ')}`);
    const after = rootRules();
    if (after !== before)
      throw new Error(
        `the root namespace's iptables changed during the kernel tests:\n--- before\n${before}\n--- after\n${after}`,
      );
    const left = orphanNamespaces();
    if (left.length) throw new Error(`kernel tests left namespaces behind: ${left.join(' ')}`);
  };
}

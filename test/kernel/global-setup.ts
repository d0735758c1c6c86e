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
          .join('\n'),
      );
    } catch {
      out.push(`${cmd}: unavailable`);
    }
  }
  return out.join('\n---\n');
}

function ownNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith('nfc-'));
  } catch {
    return [];
  }
}

/** Lab containers still there (none when no Docker daemon answers). */
function ownContainers(): string[] {
  try {
    return execFileSync('docker', ['ps', '-aq', '--filter', 'label=org.nfconform.lab'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

export default function setup(): () => Promise<void> {
  const before = rootRules();
  return async () => {
    // AutoRemove takes a moment after a container stops
    for (let i = 0; i < 20 && ownContainers().length; i++) await new Promise((r) => setTimeout(r, 250));
    const containers = ownContainers();
    if (containers.length) throw new Error(`kernel tests left lab containers behind: ${containers.join(' ')}`);
    const after = rootRules();
    if (after !== before)
      throw new Error(
        `the root namespace's iptables changed during the kernel tests:\n--- before\n${before}\n--- after\n${after}`,
      );
    const left = ownNamespaces();
    if (left.length) throw new Error(`kernel tests left namespaces behind: ${left.join(' ')}`);
  };
}

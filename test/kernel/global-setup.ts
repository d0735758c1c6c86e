// The kernel project must leave the host as it found it: the root namespace's
// iptables (nft and legacy) unchanged, and no nfconform namespace behind.
import { execFileSync } from 'node:child_process';

function rootRules(): string {
  const out: string[] = [];
  for (const cmd of ['iptables-nft-save', 'iptables-legacy-save']) {
    try {
      out.push(execFileSync(cmd, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => !l.startsWith('#')).join('\n'));
    } catch {
      out.push(`${cmd}: unavailable`);
    }
  }
  return out.join('\n---\n');
}

function ownNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('nfc-'));
  } catch {
    return [];
  }
}

export default function setup(): () => void {
  const before = rootRules();
  return () => {
    const after = rootRules();
    if (after !== before) throw new Error(`the root namespace's iptables changed during the kernel tests:\n--- before\n${before}\n--- after\n${after}`);
    const left = ownNamespaces();
    if (left.length) throw new Error(`kernel tests left namespaces behind: ${left.join(' ')}`);
  };
}

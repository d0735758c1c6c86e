// Why the kernel lab cannot run here, if it cannot (not root, no netns, tools missing).
import { execFileSync } from 'node:child_process';

export function kernelSkipReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  for (const bin of ['ip', 'iptables-nft-restore', 'iptables-legacy-restore', 'conntrack']) {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', bin], { stdio: 'ignore' });
    } catch {
      return `${bin} is not installed (run scripts/setup.sh)`;
    }
  }
  return canCreateNetns() ? undefined : 'cannot create network namespaces';
}

/** Creates and deletes a throwaway namespace. */
export function canCreateNetns(): boolean {
  const ns = `nfc-check-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

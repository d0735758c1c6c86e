// Can kernel tests run here? They need root and network namespaces; otherwise they
// are reported as skipped, with the reason in the test name.
import { execFileSync } from 'node:child_process';

function probeReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  for (const bin of ['ip', 'iptables-nft-restore', 'iptables-legacy-restore', 'conntrack']) {
    try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }); } catch { return `${bin} is not installed (run scripts/setup.sh)`; }
  }
  const ns = `nfc-check-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    return 'cannot create network namespaces';
  }
  return undefined;
}

export const skipReason = probeReason();
export const kernelDescribe = (name: string) => (skipReason ? `${name} [skipped: ${skipReason}]` : name);

// Why the kernel lab cannot run here, if it cannot (not root, no netns, tools missing).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { LabRuntime } from './site.ts';
import { dockerSkipReason } from './docker-site.ts';

/** Why a lab of this runtime cannot run here: the netns lab needs root and the tools, the Docker lab a daemon and the
 * image. */
export async function labSkipReason(runtime: LabRuntime = 'netns'): Promise<string | undefined> {
  return runtime === 'docker' ? dockerSkipReason() : kernelSkipReason();
}

export function kernelSkipReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  for (const bin of ['ip', 'iptables-nft-restore', 'iptables-legacy-restore', 'conntrack', 'nsenter']) {
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

/**
 * Whether LOG (and iptables-legacy's TRACE) in a lab namespace writes nothing to the kernel log: only
 * init_net logs unless net.netfilter.nf_log_all_netns is on (nf_log_syslog.c nf_log_allowed). Read, never
 * written; unreadable counts as not quiet.
 */
export function kernelLogQuiet(): boolean {
  try {
    return readFileSync('/proc/sys/net/netfilter/nf_log_all_netns', 'utf8').trim() === '0';
  } catch {
    return false;
  }
}

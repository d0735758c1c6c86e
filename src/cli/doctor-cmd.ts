// `nfconform doctor [--cleanup]`: are the kernel lab's prerequisites here? Exact install hints.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pc from 'picocolors';
import { reapStale, ownNamespacesSync } from '../lab/cleanup.ts';
import { canCreateNetns } from '../lab/prereq.ts';
import { dockerSkipReason, ownContainers, sweepStaleContainers, findImage } from '../lab/docker-site.ts';
import { readFlags } from './args.ts';

interface Check {
  name: string;
  ok: boolean;
  hint: string;
}

function has(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** package.json's engines.node, ">=X.Y": the one place the minimum Node.js version is written. */
export function minimumNode(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string };
  };
  return pkg.engines.node.replace(/^>=\s*/, '');
}

/** Whether version a.b.c is at least min (x.y[.z]). */
export function atLeast(version: string, min: string): boolean {
  const a = version.replace(/^v/, '').split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

export async function doctorCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values } = readFlags(argv, { cleanup: { type: 'boolean', default: false } });
  const apt = (pkg: string) => `apt-get update && apt-get install -y ${pkg}   (or: bash scripts/setup.sh)`;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const minNode = minimumNode();
  const checks: Check[] = [
    {
      name: `Node.js >= ${minNode} (this is ${process.version})`,
      ok: atLeast(process.versions.node, minNode),
      hint:
        `install Node.js 20 (>= ${minNode}) or 22 LTS, e.g. nvm install 22, or the Node.js` +
        ` project's Debian packages; Debian 12's own nodejs is 18`,
    },
    {
      name: 'running as root',
      ok: root,
      hint: 'run as root (sudo -E nfconform ...): the lab creates network namespaces',
    },
    { name: 'iproute2 (ip)', ok: has('ip', ['-V']), hint: apt('iproute2') },
    {
      name: 'network namespaces',
      ok: root && canCreateNetns(),
      hint: 'needs root and a kernel with CONFIG_NET_NS; in a container add --cap-add NET_ADMIN --cap-add SYS_ADMIN',
    },
    { name: 'iptables-nft', ok: has('iptables-nft'), hint: apt('iptables') },
    { name: 'iptables-legacy', ok: has('iptables-legacy'), hint: apt('iptables') },
    { name: 'conntrack', ok: has('conntrack'), hint: apt('conntrack') },
    { name: 'nft', ok: has('nft'), hint: apt('nftables') },
    { name: 'socat', ok: has('socat', ['-V']), hint: apt('socat') },
    { name: 'ping', ok: has('ping', ['-V']), hint: apt('iputils-ping') },
    { name: "python3 (the lab agent's ICMP helper)", ok: has('python3'), hint: apt('python3') },
  ];
  for (const c of checks)
    write(`${c.ok ? pc.green('✓') : pc.red('✗')} ${c.name}${c.ok ? '' : pc.dim(`  → ${c.hint}`)}`);
  const labs = ownNamespacesSync();
  write(`${labs.length} nfconform namespace(s) present${labs.length ? `: ${labs.join(' ')}` : ''}`);
  // a browser is needed only by the HTML pages' test (test/browser): reported, not required to run labs
  write(
    has('chromium')
      ? `${pc.green('✓')} chromium (the HTML pages' browser test)`
      : `${pc.yellow('·')} chromium missing (the HTML pages' browser test)${pc.dim(`  → ${apt('chromium')}`)}`,
  );
  // the Docker lab is optional: reported, never required
  const docker = await dockerSkipReason();
  write(
    docker
      ? `${pc.yellow('·')} Docker lab (--runtime docker) unavailable${pc.dim(`  → ${docker}`)}`
      : `${pc.green('✓')} Docker lab (--runtime docker): image ${await findImage()}`,
  );
  if (!docker) {
    const containers = await ownContainers();
    write(`${containers.length} nfconform lab container(s) present`);
  }
  if (values.cleanup) {
    const reaped = await reapStale();
    write(
      reaped.length ? `removed ${reaped.length} stale namespace(s): ${reaped.join(' ')}` : 'no stale labs to remove',
    );
    if (!docker) {
      const swept = await sweepStaleContainers();
      write(swept.length ? `removed ${swept.length} stale lab container(s)` : 'no stale lab containers to remove');
    }
  }
  return checks.every((c) => c.ok) ? 0 : 1;
}

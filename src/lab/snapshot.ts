// `nfconform snapshot`: reads, and only reads, what the model needs from a live host (spec/snapshot.md).
// Every command is an argument array through execa; none writes anything: the *-save tools, `ip ... show`
// in JSON, grep over /proc/sys. A tool that is not installed is recorded as absent, never a crash.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot, type CommandRecord } from '../model/index.ts';

/** the per-interface sysctls the packet path reads (src/model/net/topology.ts Sysctls; spec/semantics.md §3) */
export const CONF_SYSCTLS = [
  'rp_filter',
  'accept_local',
  'route_localnet',
  'send_redirects',
  'accept_redirects',
  'arp_ignore',
  'arp_announce',
  'arp_filter',
];
/** the namespace-wide ones, and the kernel's release */
export const GLOBAL_SYSCTLS = ['net/ipv4/ip_forward', 'net/bridge/bridge-nf-call-iptables', 'kernel/osrelease'];

/** Is `tool` on PATH (as `ip netns exec` would find it)? Only PATH is read from the environment. */
function onPath(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export interface SnapshotOptions {
  /** a named network namespace (`ip netns exec NAME`); the caller's own namespace when absent */
  netns?: string;
}

export async function takeSnapshot(opts: SnapshotOptions = {}): Promise<Snapshot> {
  const commands: CommandRecord[] = [];
  const prefix = opts.netns === undefined ? [] : ['ip', 'netns', 'exec', opts.netns];
  if (opts.netns !== undefined && !onPath('ip')) throw new Error('--netns needs iproute2 (`ip`), which is absent');
  /** runs one read-only command; its stdout, or null when the tool is absent or the command failed */
  const run = async (argv: string[], partialOk = false): Promise<string | null> => {
    const rec: CommandRecord = { argv, status: 'ok' };
    commands.push(rec);
    if (!onPath(argv[0]!)) {
      rec.status = 'absent';
      return null;
    }
    const full = [...prefix, ...argv];
    const r = await execa(full[0]!, full.slice(1), { reject: false, stdin: 'ignore', timeout: 60_000 });
    if (r.exitCode !== 0 && !(partialOk && String(r.stdout) !== '')) {
      rec.status = 'failed';
      rec.error = String(r.stderr).split('\n')[0]?.slice(0, 300) || `exit ${r.exitCode ?? 'signal'}`;
      return null;
    }
    return String(r.stdout);
  };
  const json = async (argv: string[]): Promise<unknown[] | null> => {
    const text = await run(argv);
    if (text === null) return null;
    try {
      const v: unknown = JSON.parse(text.trim() === '' ? '[]' : text);
      return Array.isArray(v) ? v : null;
    } catch {
      commands[commands.length - 1]!.status = 'failed';
      commands[commands.length - 1]!.error = 'output is not JSON';
      return null;
    }
  };
  const link = await json(['ip', '-j', '-d', 'link', 'show']);
  const addr = await json(['ip', '-j', 'addr', 'show']);
  const route = await json(['ip', '-j', 'route', 'show', 'table', 'main']);
  const rule = await json(['ip', '-j', 'rule', 'show']);
  const ifnames = (link ?? [])
    .map((l) => (l as { ifname?: unknown }).ifname)
    .filter((n): n is string => typeof n === 'string' && !n.includes('/') && n !== '.' && n !== '..');
  const files = [
    ...GLOBAL_SYSCTLS,
    ...['all', 'default', ...ifnames].flatMap((i) => CONF_SYSCTLS.map((k) => `net/ipv4/conf/${i}/${k}`)),
  ].map((k) => `/proc/sys/${k}`);
  // grep -H prints "path:value" for each file it can read, in one process (-s: a missing file is silent)
  // (grep exits 2 when a file is missing, br_netfilter absent say, though it printed the others)
  const sysText = await run(['grep', '-H', '-s', '', ...files], true);
  const sysctls: Record<string, string> = {};
  for (const line of (sysText ?? '').split('\n')) {
    const m = /^\/proc\/sys\/([^:]+):(.*)$/.exec(line);
    if (m) sysctls[m[1]!] = m[2]!.trim();
  }
  const nft = await run(['iptables-nft-save', '-c']);
  const legacy = await run(['iptables-legacy-save', '-c']);
  const ipset = await run(['ipset', 'save']);
  const version = await run(['iptables', '--version']);
  const nftRuleset = await run(['nft', 'list', 'ruleset']);
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    taken: new Date().toISOString(),
    netns: opts.netns ?? null,
    kernel: sysctls['kernel/osrelease'] ?? null,
    iptablesVersion: version?.trim() || null,
    iptables: { nft, legacy },
    ipset,
    nft: nftRuleset,
    ip: { link, addr, route, rule },
    sysctls,
    commands,
  };
}

// A topology from one host's `ip -j -d link`, `ip -j addr` and `ip -j route` output (spec/snapshot.md
// "A topology from `ip -j` output"): the host itself, with a synthesized neighbour on each link (a
// container or pod behind each bridge port, the gateway behind each route), exactly as for a snapshot,
// whose reading this reuses. Sysctls are not in `ip` output: `sysctl -a` text may be given; what is not
// given takes the kernel's defaults for a new namespace, with a note. Pure.
import { InputError } from '../errors.ts';
import type { JsonChecker, JsonPath } from '../json.ts';
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot } from './snapshot.ts';
import { topologyFromSnapshots } from './from-snapshot.ts';
import type { TopologySpec } from './topology.ts';

/** What one host's `ip -j` commands printed, parsed (each an array, as `ip -j` prints). */
export interface IpJson {
  link: unknown[];
  addr: unknown[];
  route: unknown[];
  /** sysctl key in slash form (net/ipv4/ip_forward) -> value, e.g. from readSysctlText */
  sysctls?: Record<string, string>;
}

export interface IpJsonTopology {
  spec: TopologySpec;
  /** neighbour host -> what it stands for */
  synthesized: Map<string, string>;
  notes: string[];
}

/** the host the `ip -j` output describes, as `--snapshot` names it */
export const IP_JSON_HOST = 'node';

/** The fields of an ip capture file (spec/snapshot.md): the three `ip -j` outputs, and sysctls. */
export const IP_CAPTURE_KEYS = ['link', 'addr', 'route', 'sysctls'] as const;

/** True when a parsed JSON document is an ip capture (link/addr arrays) rather than a topology (hosts). */
export function isIpCapture(raw: unknown): boolean {
  return (
    typeof raw === 'object' &&
    raw !== null &&
    !Array.isArray(raw) &&
    'link' in raw &&
    'addr' in raw &&
    !('hosts' in raw)
  );
}

/** An ip capture file's frame, checked: three arrays of objects (their fields are read leniently), sysctls. */
export function checkIpCapture(raw: unknown, j: JsonChecker, path: JsonPath = []): IpJson {
  const o = j.obj(raw, path, IP_CAPTURE_KEYS);
  const arr = (k: 'link' | 'addr' | 'route') =>
    j.arr(o[k], [...path, k]).map((e, i) => j.obj(e, [...path, k, i]) as unknown);
  const out: IpJson = { link: arr('link'), addr: arr('addr'), route: o.route === undefined ? [] : arr('route') };
  if (o.sysctls !== undefined) {
    const s = j.obj(o.sysctls, [...path, 'sysctls']);
    out.sysctls = {};
    for (const [k, v] of Object.entries(s))
      out.sysctls[k.replaceAll('.', '/')] = j.str(v, [...path, 'sysctls', k], { min: 0, max: 4096 });
  }
  return out;
}

/**
 * `sysctl -a` (or `sysctl net.ipv4 net.bridge`) text: "net.ipv4.ip_forward = 1" lines, keys in slash form.
 * An interface name may hold dots, so net.ipv4.conf.IF.KEY keeps IF whole (the key is the last part).
 */
export function readSysctlText(text: string, file = '<sysctl>'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([A-Za-z0-9_./-]+)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new InputError('syntax', 'expected "key = value" (sysctl output)', { file, line: i + 1, col: 1 });
    const key = m[1]!;
    const conf = /^net[./]ipv4[./]conf[./](.+)[./]([^./]+)$/.exec(key);
    out[conf ? `net/ipv4/conf/${conf[1]}/${conf[2]}` : key.replaceAll('.', '/')] = m[2]!;
  });
  return out;
}

/** The host's topology: one host named `opts.host` (default "node") and a neighbour on each link. */
export function topologyFromIpJson(
  ip: IpJson,
  opts: { host?: string; name?: string; extraAddrs?: readonly string[] } = {},
): IpJsonTopology {
  const snapshot: Snapshot = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    taken: '',
    netns: null,
    kernel: null,
    iptablesVersion: null,
    iptables: { nft: '', legacy: '' },
    ipset: null,
    ip: { link: ip.link, addr: ip.addr, route: ip.route, rule: null },
    sysctls: ip.sysctls ?? {},
    commands: [],
  };
  const host = opts.host ?? IP_JSON_HOST;
  const built = topologyFromSnapshots([{ host, snapshot }], {
    name: opts.name ?? 'ip-json',
    ...(opts.extraAddrs ? { extraAddrs: opts.extraAddrs } : {}),
  });
  const notes = built.notes.filter((n) => !n.includes('no iptables-save output'));
  if (!ip.sysctls || !('net/ipv4/ip_forward' in ip.sysctls))
    notes.push(
      `${host}: no sysctls given; ip_forward is off and bridged frames pass iptables only if` +
        ` net/bridge/bridge-nf-call-iptables is 1 (a case's hosts.${host}.sysctls sets them)`,
    );
  return { spec: built.spec, synthesized: built.synthesized, notes };
}

// Reading a snapshot's raw `ip -j` output and /proc/sys values into the facts a topology needs
// (spec/snapshot.md "From a snapshot to a topology"). Unknown fields are ignored; what the model cannot
// represent is left out with a note, never guessed.
import { parseIp, type U32 } from '../ip.ts';
import type { Snapshot } from './snapshot.ts';
import type { Sysctls, IfaceSysctls } from './topology.ts';
import { SYSCTL_VALUES } from './check-topology.ts';

export interface SnapLink {
  name: string;
  ifindex: number;
  up: boolean;
  kind: string | undefined;
  master: string | undefined;
  hairpin: boolean;
  /** a veth's peer ifindex, in the namespace `linkNetnsid` names (or this one) */
  linkIndex: number | undefined;
  addrs: { ip: U32; len: number }[];
}

export interface SnapRoute {
  dst: string;
  via?: string;
  dev?: string;
  type: string;
  protocol: string | undefined;
}

const rec = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

export function readLinks(s: Snapshot): SnapLink[] {
  const addrsOf = new Map<string, { ip: U32; len: number }[]>();
  for (const a of s.ip.addr ?? []) {
    const o = rec(a);
    const name = str(o.ifname);
    if (!name) continue;
    const list: { ip: U32; len: number }[] = [];
    for (const ai of Array.isArray(o.addr_info) ? o.addr_info : []) {
      const x = rec(ai);
      const ip = x.family === 'inet' ? parseIp(str(x.local) ?? '') : undefined;
      const len = num(x.prefixlen);
      if (ip !== undefined && len !== undefined && len >= 0 && len <= 32) list.push({ ip, len });
    }
    addrsOf.set(name, list);
  }
  return (s.ip.link ?? []).flatMap((l): SnapLink[] => {
    const o = rec(l);
    const name = str(o.ifname);
    const ifindex = num(o.ifindex);
    if (!name || ifindex === undefined) return [];
    const info = rec(o.linkinfo);
    const flags = Array.isArray(o.flags) ? o.flags : [];
    return [
      {
        name,
        ifindex,
        up: flags.includes('UP'),
        kind: str(info.info_kind),
        master: str(o.master),
        hairpin: rec(info.info_slave_data).hairpin === true,
        linkIndex: num(o.link_index),
        addrs: addrsOf.get(name) ?? [],
      },
    ];
  });
}

export function readRoutes(s: Snapshot): SnapRoute[] {
  return (s.ip.route ?? []).flatMap((r): SnapRoute[] => {
    const o = rec(r);
    const dst = str(o.dst);
    if (!dst) return [];
    const out: SnapRoute = { dst, type: str(o.type) ?? 'unicast', protocol: str(o.protocol) };
    const via = str(o.gateway);
    const dev = str(o.dev);
    if (via) out.via = via;
    if (dev) out.dev = dev;
    return [out];
  });
}

/** Policy rules other than the three every namespace has (local, main, default): not modelled. */
export function extraRules(s: Snapshot): string[] {
  return (s.ip.rule ?? []).flatMap((r) => {
    const o = rec(r);
    const table = str(o.table);
    const standard =
      str(o.src) === 'all' &&
      Object.keys(o).every((k) => ['priority', 'src', 'table'].includes(k)) &&
      ((o.priority === 0 && table === 'local') ||
        (o.priority === 32766 && table === 'main') ||
        (o.priority === 32767 && table === 'default'));
    return standard ? [] : [JSON.stringify(o)];
  });
}

type Conf =
  | 'rp_filter'
  | 'accept_local'
  | 'route_localnet'
  | 'send_redirects'
  | 'accept_redirects'
  | 'arp_ignore'
  | 'arp_announce'
  | 'arp_filter';

/** What a snapshot's sysctls give the model: the host's, and each interface's own where it differs. */
export interface ReadSysctls {
  host: Sysctls;
  /** interface name -> its settings in force where they differ from the host's (topology.ts IfaceSysctls) */
  ifaces: Map<string, Partial<IfaceSysctls>>;
}

/**
 * The model's sysctls from per-interface ones. The kernel reads, per interface (include/linux/inetdevice.h):
 * rp_filter, arp_ignore and arp_announce as max(all, IF) (IN_DEV_MAXCONF), accept_local, route_localnet,
 * arp_filter and send_redirects as all || IF (IN_DEV_ORCONF), accept_redirects as all && IF when
 * forwarding, else all || IF (IN_DEV_RX_REDIRECTS). The keys an interface may hold (topology.ts
 * IfaceSysctls) are read per interface: the host's value is conf.all's (rp_filter: the interfaces' most
 * common, as the lab keeps conf.all at 0), and an interface whose value in force differs gets its own, so the
 * model combines them back into the same value. The others are host-wide: when the interfaces disagree the
 * most common value is taken and a note says so.
 */
export function readSysctls(s: Snapshot, ifaces: readonly string[], notes: string[]): ReadSysctls {
  const v = (k: string): number | undefined => {
    const x = s.sysctls[k];
    return x !== undefined && /^\d+$/.test(x) ? Number(x) : undefined;
  };
  const forwarding = v('net/ipv4/ip_forward') === 1;
  const all = (k: Conf): number => v(`net/ipv4/conf/all/${k}`) ?? 0;
  const effective = (k: Conf, i: string): number => {
    const own = v(`net/ipv4/conf/${i}/${k}`) ?? v(`net/ipv4/conf/default/${k}`) ?? 0;
    // max(all, IF): IN_DEV_RPFILTER, IN_DEV_ARP_IGNORE, IN_DEV_ARP_ANNOUNCE (IN_DEV_MAXCONF)
    if (k === 'rp_filter' || k === 'arp_ignore' || k === 'arp_announce') return Math.max(all(k), own);
    if (k === 'accept_redirects' && forwarding) return all(k) && own ? 1 : 0;
    return all(k) || own ? 1 : 0;
  };
  const names = ifaces.length ? ifaces : ['default'];
  const mostCommon = (k: Conf): number => {
    const counts = new Map<number, number>();
    for (const i of names) {
      const e = effective(k, i);
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  };
  const hostWide = (k: Conf): number => {
    const best = mostCommon(k);
    if (names.some((i) => effective(k, i) !== best))
      notes.push(
        `${k} differs between interfaces` +
          ` (${names.map((i) => `${i}=${effective(k, i)}`).join(', ')}); the model takes ${best} for` +
          ` the whole host`,
      );
    return best;
  };
  const host: Sysctls = {
    ip_forward: forwarding,
    // without br_netfilter the key is absent and bridged frames skip iptables
    bridge_nf_call_iptables: v('net/bridge/bridge-nf-call-iptables') === 1,
    rp_filter: oneOf(mostCommon('rp_filter'), SYSCTL_VALUES.rp_filter, notes, 'rp_filter'),
    accept_local: all('accept_local') === 1,
    route_localnet: all('route_localnet') === 1,
    send_redirects: hostWide('send_redirects') === 1,
    accept_redirects: hostWide('accept_redirects') === 1,
    arp_ignore: oneOf(all('arp_ignore'), SYSCTL_VALUES.arp_ignore, notes, 'arp_ignore (conf.all)'),
    arp_announce: oneOf(all('arp_announce'), SYSCTL_VALUES.arp_announce, notes, 'arp_announce (conf.all)'),
    arp_filter: all('arp_filter') === 1,
  };
  const out = new Map<string, Partial<IfaceSysctls>>();
  for (const i of ifaces) {
    const own: Partial<IfaceSysctls> = {};
    const max = <K extends 'rp_filter' | 'arp_ignore' | 'arp_announce'>(k: K): IfaceSysctls[K] | undefined => {
      const e = effective(k, i);
      if (e === host[k]) return undefined;
      if ((SYSCTL_VALUES[k] as readonly number[]).includes(e)) return e as IfaceSysctls[K];
      notes.push(`${k}=${e} on ${i} is not modelled; the model takes ${host[k]} there`);
      return undefined;
    };
    const rpf = max('rp_filter');
    const ignore = max('arp_ignore');
    const announce = max('arp_announce');
    if (rpf !== undefined) own.rp_filter = rpf;
    if (ignore !== undefined) own.arp_ignore = ignore;
    if (announce !== undefined) own.arp_announce = announce;
    for (const k of ['accept_local', 'route_localnet', 'arp_filter'] as const)
      if (effective(k, i) === 1 && !host[k]) own[k] = true;
    if (Object.keys(own).length) out.set(i, own);
  }
  return { host, ifaces: out };
}

/** A sysctl value the model knows, else 0 with a note (arp_ignore 3-7: not modelled). */
function oneOf<T extends number>(v: number, known: readonly T[], notes: string[], name: string): T {
  if ((known as readonly number[]).includes(v)) return v as T;
  notes.push(`${name}=${v} is not modelled; the model takes 0`);
  return known[0]!;
}

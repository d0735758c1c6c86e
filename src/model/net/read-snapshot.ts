// Reading a snapshot's raw `ip -j` output and /proc/sys values into the facts a topology needs
// (spec/snapshot.md "From a snapshot to a topology"). Unknown fields are ignored; what the model cannot
// represent is left out with a note, never guessed.
import { parseIp, type U32 } from '../ip.ts';
import type { Snapshot } from './snapshot.ts';
import type { Sysctls } from './topology.ts';

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

/**
 * The model's host-wide sysctls from per-interface ones. The kernel reads, per interface:
 * rp_filter as max(all, IF) (IN_DEV_RPFILTER, include/linux/inetdevice.h), accept_local,
 * route_localnet and send_redirects as all || IF (IN_DEV_ORCONF), accept_redirects as all && IF
 * when forwarding, else all || IF (IN_DEV_RX_REDIRECTS). When the interfaces disagree the most
 * common value is taken and a note says so.
 */
export function readSysctls(s: Snapshot, ifaces: readonly string[], notes: string[]): Sysctls {
  const v = (k: string): number | undefined => {
    const x = s.sysctls[k];
    return x !== undefined && /^\d+$/.test(x) ? Number(x) : undefined;
  };
  const forwarding = v('net/ipv4/ip_forward') === 1;
  const effective = (k: Conf, i: string): number => {
    const all = v(`net/ipv4/conf/all/${k}`) ?? 0;
    const own = v(`net/ipv4/conf/${i}/${k}`) ?? v(`net/ipv4/conf/default/${k}`) ?? 0;
    // max(all, IF): IN_DEV_RPFILTER, IN_DEV_ARP_IGNORE, IN_DEV_ARP_ANNOUNCE (IN_DEV_MAXCONF)
    if (k === 'rp_filter' || k === 'arp_ignore' || k === 'arp_announce') return Math.max(all, own);
    if (k === 'accept_redirects' && forwarding) return all && own ? 1 : 0;
    return all || own ? 1 : 0;
  };
  const hostWide = (k: Conf): number => {
    const names = ifaces.length ? ifaces : ['default'];
    const counts = new Map<number, number>();
    for (const i of names) {
      const e = effective(k, i);
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    const best = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
    if (counts.size > 1)
      notes.push(
        `${k} differs between interfaces` +
          ` (${names.map((i) => `${i}=${effective(k, i)}`).join(', ')}); the model takes ${best} for` +
          ` the whole host`,
      );
    return best;
  };
  const rp = hostWide('rp_filter');
  return {
    ip_forward: forwarding,
    // without br_netfilter the key is absent and bridged frames skip iptables
    bridge_nf_call_iptables: v('net/bridge/bridge-nf-call-iptables') === 1,
    rp_filter: rp === 1 ? 1 : rp === 2 ? 2 : 0,
    accept_local: hostWide('accept_local') === 1,
    route_localnet: hostWide('route_localnet') === 1,
    send_redirects: hostWide('send_redirects') === 1,
    accept_redirects: hostWide('accept_redirects') === 1,
    arp_ignore: oneOf(hostWide('arp_ignore'), [0, 1, 2, 8] as const, notes, 'arp_ignore'),
    arp_announce: oneOf(hostWide('arp_announce'), [0, 1, 2] as const, notes, 'arp_announce'),
    arp_filter: hostWide('arp_filter') === 1,
  };
}

/** A sysctl value the model knows, else 0 with a note (arp_ignore 3-7: not modelled). */
function oneOf<T extends number>(v: number, known: readonly T[], notes: string[], name: string): T {
  if ((known as readonly number[]).includes(v)) return v as T;
  notes.push(`${name}=${v} is not modelled; the model takes 0`);
  return known[0]!;
}

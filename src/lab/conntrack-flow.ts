// The conntrack entries of one probe's flow, looked up by tuple in each namespace (the agent, agent/netlink.py, asks
// ctnetlink for the entry holding a tuple: a hash lookup, where /proc/net/nf_conntrack walks the whole
// machine's table). spec/observation.md "conntrack".
import type { ConntrackRecord } from '../model/index.ts';

/** A tuple as the helper writes it: [proto, src, sport, dst, dport]; ICMP: the echo id and the type. */
export type WireTuple = [number, string, number, string, number];

export interface WireEntry {
  orig: WireTuple;
  reply: WireTuple;
  state: string | null;
  flags: string[];
}

const ICMP_INVERSE: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };

export function inverse(t: WireTuple): WireTuple {
  const [proto, src, sport, dst, dport] = t;
  if (proto === 1) return [1, dst, sport, src, ICMP_INVERSE[dport] ?? dport];
  return [proto, dst, dport, src, sport];
}

const key = (t: WireTuple) => t.join(' ');

/** What an entry adds to the flow: its tuples and their inverses (the packet after NAT, the reply before it). */
export const derived = (e: WireEntry): WireTuple[] => [e.orig, e.reply, inverse(e.orig), inverse(e.reply)];

const PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

function side(t: WireTuple): string {
  const [proto, src, sport, dst, dport] = t;
  if (proto === 6 || proto === 17) return `${src}:${sport}>${dst}:${dport}`;
  if (proto === 1) return `${src}>${dst} id=${sport}`;
  return `${src}>${dst}`;
}

/** An entry as the observation writes it (the same text as conntrack-parse.ts reads off /proc). */
export function recordOf(e: WireEntry): ConntrackRecord {
  const proto = PROTO[e.orig[0]] ?? String(e.orig[0]);
  return {
    proto,
    orig: side(e.orig),
    reply: side(e.reply),
    state: proto === 'tcp' ? e.state : null,
    flags: [...e.flags].sort(),
  };
}

/**
 * The flow's entries on each host: starting from the probe's tuple, every entry one of whose tuples is known,
 * on any host, adds its tuples and their inverses, until nothing new is found. `lookup(host, tuples)` returns
 * the host's entries reachable from `tuples` (the helper closes over its own entries itself), so a host is
 * asked again only about tuples that other hosts' entries added.
 */
export async function flowEntries(
  hosts: readonly string[],
  start: WireTuple,
  lookup: (host: string, tuples: WireTuple[]) => Promise<WireEntry[]>,
): Promise<Record<string, ConntrackRecord[]>> {
  const found = new Map<string, Map<string, WireEntry>>(hosts.map((h) => [h, new Map()]));
  const asked = new Map<string, Set<string>>(hosts.map((h) => [h, new Set()]));
  let ask = new Map<string, WireTuple[]>(hosts.map((h) => [h, [start]]));
  while (ask.size) {
    const rounds = await Promise.all([...ask].map(async ([h, ts]) => [h, await lookup(h, ts)] as const));
    for (const [h, ts] of ask) for (const t of ts) asked.get(h)!.add(key(t));
    const fresh: WireTuple[] = [];
    for (const [h, entries] of rounds)
      for (const e of entries) {
        if (found.get(h)!.has(key(e.orig))) continue;
        found.get(h)!.set(key(e.orig), e);
        // the helper has asked its own host about these already
        for (const t of derived(e)) asked.get(h)!.add(key(t));
        fresh.push(...derived(e));
      }
    ask = new Map();
    for (const h of hosts) {
      const seen = asked.get(h)!;
      const todo = fresh.filter((t) => !seen.has(key(t)));
      const unique = [...new Map(todo.map((t) => [key(t), t])).values()];
      if (unique.length) ask.set(h, unique);
    }
  }
  const out: Record<string, ConntrackRecord[]> = {};
  for (const [h, m] of found) {
    if (!m.size) continue;
    out[h] = [...m.values()].map(recordOf).sort((a, b) => (a.orig < b.orig ? -1 : a.orig > b.orig ? 1 : 0));
  }
  return out;
}

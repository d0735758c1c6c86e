// NAT (spec/semantics.md §5): a binding is chosen once per connection and manip type
// (nf_nat_setup_info) and every packet of the connection is rewritten from it (nf_nat_packet,
// nf_nat_icmp_reply_translation).
import { type U32, formatIp } from './ip.ts';
import type { Hook } from './rules/types.ts';
import type { NatRange } from './rules/kinds.ts';
import { type CtEntry, type Tuple, invert, remove, replyTaken, tcpStateOf, tupleKey } from './conntrack.ts';
import type { NatRequest } from './eval/targets.ts';
import type { Pkt, CtRef } from './eval/packet.ts';
import { isIcmpError } from './tracking.ts';
import { formatPkt } from './eval/packet.ts';
import type { HostCtx } from './semantics.ts';

export type ManipType = 'src' | 'dst';

/** HOOK2MANIP: PREROUTING and OUTPUT change destinations, INPUT and POSTROUTING sources. */
export function manipOf(hook: Hook): ManipType {
  return hook === 'PREROUTING' || hook === 'OUTPUT' ? 'dst' : 'src';
}

/** Where the binding is made: the hook and the devices and next hop the packet is routed with. */
export interface NatSite {
  hook: Hook;
  inIf: string;
  outIf: string;
  nextHop: U32;
}

const SNAT_DEFAULT_RANGES: readonly (readonly [number, number])[] = [
  [1, 511],
  [600, 1023],
  [1024, 65535],
];
const ICMP_ID_RANGE: readonly [number, number] = [0, 65535];

/** NF_NAT_MAX_ATTEMPTS / 4: the last attempts of a port search may evict a closing connection (nf_nat_core.c) */
const NF_NAT_HARDER_THRESH = 32;

/** The connection holding `reply` that a new connection `e` may evict (nf_nat_used_tuple_harder): `e` a TCP
 *  SYN_SENT, the holder's reply tuple (not its original), in TIME_WAIT or CLOSE and source-NATed (nf_nat_may_kill). */
function evictable(cx: HostCtx, e: CtEntry, reply: Tuple): CtEntry | undefined {
  if (e.orig.proto !== 6 || tcpStateOf(e) !== 'SYN_SENT') return undefined;
  const hit = cx.state.ct.index.get(tupleKey(reply));
  if (!hit || hit.dir !== 'reply' || hit.entry === e) return undefined;
  const state = tcpStateOf(hit.entry);
  return (state === 'TIME_WAIT' || state === 'CLOSE') && hit.entry.srcNat ? hit.entry : undefined;
}

function pickIp(cx: HostCtx, r: NatRange, fallback: U32): U32 {
  if (r.minIp === undefined) return fallback;
  const n = r.maxIp! - r.minIp + 1;
  // The kernel hashes the addresses to pick; the model treats every address of the range as possible.
  for (let i = 0; i < n - 1; i++)
    if (cx.choose(1 / (n - i), `NAT address ${formatIp(r.minIp + i)} of ${n}`)) return r.minIp + i;
  return r.maxIp!;
}

/** nf_nat_setup_info: choose the new tuple for this manip type and record it in the reply tuple.
 *  False when the target has no address to use (the packet is dropped). */
export function natSetup(
  cx: HostCtx,
  e: CtEntry,
  mtype: ManipType,
  req: NatRequest | undefined,
  site: NatSite,
): boolean {
  const h = cx.host;
  const cur = invert(e.reply);
  const nu: Tuple = { ...cur };
  const ports = e.orig.proto === 6 || e.orig.proto === 17;
  const portField = mtype === 'dst' ? 'dport' : 'sport';
  let range: readonly [number, number] | undefined;
  let random = false;
  if (req) {
    const r = req.range;
    if (req.target === 'DNAT' || req.target === 'SNAT') nu[mtype] = pickIp(cx, r, cur[mtype]);
    else if (req.target === 'MASQUERADE') {
      const a = cx.sem.masqueradeSource(h, site.outIf, site.nextHop);
      if (a === undefined) return false;
      nu.src = a;
    } else if (req.target === 'REDIRECT') {
      const a = site.hook === 'OUTPUT' ? 0x7f000001 : h.ifaces.get(site.inIf)?.addrs[0]?.ip;
      if (a === undefined) return false;
      nu.dst = a;
    }
    if (r.minPort !== undefined && ports) range = [r.minPort, r.maxPort!];
    random = req.random || req.randomFully;
  }
  const taken = (t: Tuple) => replyTaken(cx.state.ct, invert(t), e);
  // nf_nat_l4proto_unique_tuple: ICMP's "port" is the echo id, the same field for either manip type,
  // drawn from 0-65535 for SNAT and DNAT alike; TCP/UDP without a range keep a DNAT's port
  const icmp = e.orig.proto === 1;
  const key = icmp ? 'sport' : portField;
  if (ports || icmp) {
    const v = nu[key];
    const inRange = range === undefined || (v >= range[0] && v <= range[1]);
    const keep =
      !random &&
      inRange &&
      (range === undefined || range[0] === range[1] || !taken(nu)) &&
      (range !== undefined || !taken(nu));
    if (!keep && !(!icmp && mtype === 'dst' && range === undefined)) {
      const pick =
        range ??
        (icmp
          ? ICMP_ID_RANGE
          : mtype === 'src'
            ? (SNAT_DEFAULT_RANGES.find((d) => v <= d[1]) ?? SNAT_DEFAULT_RANGES[2]!)
            : [v, v]);
      let chosen = pick[0];
      let free = false;
      for (let port = pick[0]; port <= pick[1]; port++) {
        nu[key] = port;
        if (!taken(nu)) {
          chosen = port;
          free = true;
          break;
        }
      }
      // nf_nat_used_tuple_harder, within a range's last NF_NAT_HARDER_THRESH attempts (all of a small one): a new
      // SYN evicts a closing source-NATed connection holding the tuple when its sequence number is past the old
      // one's (nf_seq_has_advanced), an even chance between unrelated initial sequence numbers
      if (!free && pick[1] - pick[0] < NF_NAT_HARDER_THRESH)
        for (let port = pick[0]; port <= pick[1]; port++) {
          nu[key] = port;
          const old = evictable(cx, e, invert(nu));
          const label = `a new SYN's sequence number past that of closing connection #${old?.id ?? 0} (eviction)`;
          if (old && cx.choose(0.5, label)) {
            remove(cx.state.ct, old);
            chosen = port;
            break;
          }
        }
      nu[key] = chosen;
      // Any port of the range is possible in the kernel: it starts at a random offset for SNAT and
      // --random, at the range's start for a DNAT (so a DNAT's clash picks the first free one).
      if (pick[0] !== pick[1] && (mtype === 'src' || random)) {
        if (mtype === 'src' || icmp) e.randomPort = [pick[0], pick[1]];
        else e.randomDstPort = [pick[0], pick[1]];
      }
    }
  }
  const changed = nu.src !== cur.src || nu.dst !== cur.dst || nu.sport !== cur.sport || nu.dport !== cur.dport;
  e.reply = invert(nu);
  if (mtype === 'src') {
    e.natSrcDone = true;
    if (changed) e.srcNat = true;
  } else {
    e.natDstDone = true;
    if (changed) e.dstNat = true;
  }
  return true;
}

/** nf_nat_packet / nf_nat_icmp_reply_translation: rewrite the packet at `hook` from its binding. */
export function natManip(cx: HostCtx, hook: Hook, p: Pkt, ct: CtRef): void {
  const e = ct.entry;
  const mtype = manipOf(hook);
  const bit = ct.dir === 'orig' ? (mtype === 'src' ? e.srcNat : e.dstNat) : mtype === 'src' ? e.dstNat : e.srcNat;
  if (!bit) return;
  const other = ct.dir === 'orig' ? e.reply : e.orig;
  const target = invert(other);
  const before = formatPkt(p);
  if (mtype === 'src') {
    p.src = target.src;
    if (p.proto !== 1 || !isIcmpError(p)) p.sport = target.sport;
    if (ct.dir === 'orig') {
      if (e.randomPort) p.sportRange = e.randomPort;
      else if (!e.origSportRange) delete p.sportRange;
    }
  } else {
    p.dst = target.dst;
    if (p.proto === 6 || p.proto === 17) p.dport = target.dport;
    // icmp_manip_pkt writes the echo id from the target tuple for either manip type: a reply un-NATed
    // on its destination gets its original id back
    else if (p.proto === 1 && !isIcmpError(p)) p.sport = target.sport;
    if (ct.dir === 'orig' && e.randomDstPort) p.dportRange = e.randomDstPort;
  }
  if (ct.state === 'RELATED' && p.embedded) {
    // nf_nat_icmp_reply_translation: the quoted header gets the opposite manip from the other
    // direction's tuple, so that it looks like what its sender sent; a quoted ICMP gets that id
    const q = p.embedded;
    if (mtype === 'src') {
      q.dst = other.dst;
      if (q.proto !== 1) q.dport = other.dport;
    } else {
      q.src = other.src;
      q.sport = other.sport;
    }
    if (q.proto === 1) q.sport = other.sport;
  }
  cx.emit({
    kind: 'nat',
    host: cx.name,
    hook,
    what: mtype === 'src' ? 'source rewritten' : 'destination rewritten',
    before,
    after: formatPkt(p),
  });
}

// The packet path through a network of hosts: hooks in priority order,
// conntrack, NAT, the routing decision, veth links and bridges with
// br_netfilter (spec/semantics.md §2-§7). One `PathRun` carries one packet
// journey; probabilistic rules are resolved through `choose`.
import { type U32, formatIp, isLoopback } from './ip.ts';
import type { Hook, TableName, ExtInstance } from './rules/types.ts';
import type { NatRange, MarkMask } from './rules/kinds.ts';
import { opt } from './rules/descriptors.ts';
import type { Host, Iface } from './net/topology.ts';
import { lookupRoute, selectSource, type RouteResult } from './net/routing.ts';
import {
  type CtEntry,
  type Tuple,
  type CtState,
  invert,
  lookup,
  unconfirmed,
  confirm,
  replyTaken,
  expire,
  remove,
  timeoutFor,
} from './conntrack.ts';
import { traverse, type NatRequest, type CompiledRuleset } from './eval/chains.ts';
import type { MatchEnv } from './eval/matchers.ts';
import { type Pkt, type CtRef, type HostState, TCP } from './eval/packet.ts';
import type { ModelLab, World } from './lab-model.ts';
import type { TraceEvent } from './trace.ts';
import { ICMP_UNREACH_NAMES } from './observation.ts';

/** Where a packet's journey ended. */
export type Arrival =
  | { kind: 'local'; host: string; pkt: Pkt; ct: CtRef | undefined }
  | {
      kind: 'dropped';
      host: string;
      reason: string;
      hook?: Hook;
      table?: TableName;
      chain?: string;
      rule?: number | 'policy';
    }
  | { kind: 'rejected'; host: string; pkt: Pkt; with: string; ct: CtRef | undefined }
  | { kind: 'no-route'; host: string };

type Step = { ok: true; ct: CtRef | undefined } | { ok: false; arrival: Arrival };

const MAX_HOPS = 64;
const SNAT_DEFAULT_RANGES: readonly (readonly [number, number])[] = [
  [1, 511],
  [600, 1023],
  [1024, 65535],
];
const ICMP_ID_RANGE: readonly [number, number] = [0, 65535];

export function formatPkt(p: Pkt): string {
  const proto = p.proto === 6 ? 'tcp' : p.proto === 17 ? 'udp' : p.proto === 1 ? 'icmp' : `proto ${p.proto}`;
  if (p.proto === 6 || p.proto === 17) {
    const flags =
      p.proto === 6
        ? ` [${['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'].filter((_, i) => p.tcpFlags & (1 << i)).join(',')}]`
        : '';
    return `${proto} ${formatIp(p.src)}:${p.sport} > ${formatIp(p.dst)}:${p.dport}${flags}${p.mark ? ` mark=0x${p.mark.toString(16)}` : ''}`;
  }
  if (p.proto === 1)
    return `icmp ${formatIp(p.src)} > ${formatIp(p.dst)} type=${p.icmpType} code=${p.icmpCode}${p.icmpType === 8 || p.icmpType === 0 ? ` id=${p.sport}` : ''}`;
  return `${proto} ${formatIp(p.src)} > ${formatIp(p.dst)}`;
}

export function isIcmpError(p: Pkt): boolean {
  return p.proto === 1 && (p.icmpType === 3 || p.icmpType === 11 || p.icmpType === 12) && p.embedded !== undefined;
}

export function tupleOf(p: Pkt): Tuple {
  if (p.proto === 1) return { proto: 1, src: p.src, dst: p.dst, sport: p.sport, dport: p.icmpType };
  if (p.proto === 6 || p.proto === 17)
    return { proto: p.proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport };
  return { proto: p.proto, src: p.src, dst: p.dst, sport: 0, dport: 0 };
}

export class PathRun {
  readonly trace: TraceEvent[] = [];
  /** conntrack entries this journey touched, by host */
  readonly touched = new Map<string, Set<CtEntry>>();
  private hops = 0;

  constructor(
    readonly lab: ModelLab,
    readonly world: World,
    readonly choose: (p: number, label: string) => boolean,
    readonly verbose = false,
  ) {}

  private host(name: string): Host {
    return this.lab.net.hosts.get(name)!;
  }
  private state(name: string): HostState {
    return this.world.hosts.get(name)!;
  }
  /** the host's rulesets in evaluation order (two when both iptables backends hold rules) */
  private rules(name: string): readonly CompiledRuleset[] {
    return this.lab.layers.get(name) ?? [];
  }
  private emit(e: TraceEvent): void {
    this.trace.push(e);
  }
  private drop(host: string, reason: string): Arrival {
    this.emit({ kind: 'drop', host, reason });
    return { kind: 'dropped', host, reason };
  }

  // ---- conntrack (spec §4)

  private ctIn(hn: string, p: Pkt): CtRef | undefined {
    if (!this.lab.ctEnabled.has(hn) || p.notrack) return undefined;
    const st = this.state(hn);
    expire(st.ct, this.world.now);
    if (isIcmpError(p)) {
      const hit = lookup(st.ct, invert(p.embedded!));
      if (!hit) {
        this.emit({ kind: 'ct', host: hn, what: 'ICMP error relates to no known connection: INVALID' });
        return undefined;
      }
      this.note(hn, hit.entry);
      this.emit({ kind: 'ct', host: hn, what: `RELATED to connection #${hit.entry.id} (${hit.dir} direction)` });
      return { entry: hit.entry, dir: hit.dir, state: 'RELATED' };
    }
    const t = tupleOf(p);
    let hit = lookup(st.ct, t);
    if (hit && p.proto === 6 && hit.entry.closed && hit.dir === 'orig' && p.tcpFlags & TCP.SYN) {
      this.emit({ kind: 'ct', host: hn, what: `SYN reopens closed connection #${hit.entry.id}: old entry destroyed` });
      remove(st.ct, hit.entry);
      hit = undefined;
    }
    if (hit) {
      const e = hit.entry;
      if (p.proto === 6 && p.tcpFlags & TCP.RST && hit.dir === 'reply' && !e.seenReply) {
        // nf_conntrack_proto_tcp: "if only reply is a RST ... delete the conntrack immediately";
        // this packet keeps its reference (and its NAT), the table forgets the entry
        remove(st.ct, e);
        e.closed = true;
        this.note(hn, e);
        this.emit({ kind: 'ct', host: hn, what: `first reply is a RST: connection #${e.id} deleted` });
        return { entry: e, dir: 'reply', state: 'ESTABLISHED' };
      }
      if (hit.dir === 'reply') e.seenReply = true;
      if (p.proto === 6 && p.tcpFlags & TCP.RST) e.closed = e.reset = true;
      // nf_conntrack_proto_tcp: the handshake's ACK (SYN_RECV -> ESTABLISHED) assures the connection;
      // nf_conntrack_proto_udp: a flow that has seen a reply and still sends after 2 s (stream_ts)
      if (e.seenReply && !e.closed) {
        if (p.proto === 6 && hit.dir === 'orig' && (p.tcpFlags & (TCP.SYN | TCP.ACK)) === TCP.ACK) e.assured = true;
        if (p.proto === 17 && this.world.now - (e.created ?? this.world.now) > 2) e.assured = true;
      }
      e.expires = this.world.now + timeoutFor(e);
      const state: CtState = hit.dir === 'reply' || e.seenReply ? 'ESTABLISHED' : 'NEW';
      this.note(hn, e);
      this.emit({ kind: 'ct', host: hn, what: `${state} (${hit.dir} direction of #${e.id})` });
      return { entry: e, dir: hit.dir, state };
    }
    if (p.proto === 6) {
      const syn = (p.tcpFlags & (TCP.SYN | TCP.ACK | TCP.RST)) === TCP.SYN;
      const looseAck = (p.tcpFlags & (TCP.SYN | TCP.RST)) === 0 && (p.tcpFlags & TCP.ACK) !== 0;
      if (!syn && !looseAck) {
        this.emit({ kind: 'ct', host: hn, what: 'TCP packet cannot start a connection: INVALID' });
        return undefined;
      }
    }
    if (p.proto === 1 && p.icmpType !== 8 && p.icmpType !== 13 && p.icmpType !== 15 && p.icmpType !== 17) {
      this.emit({ kind: 'ct', host: hn, what: 'ICMP message that is not a request: INVALID' });
      return undefined;
    }
    const e = unconfirmed(st.ct, t);
    e.created = this.world.now;
    if (p.sportRange) e.origSportRange = p.sportRange;
    this.note(hn, e);
    this.emit({ kind: 'ct', host: hn, what: `NEW connection #${e.id} (unconfirmed)` });
    return { entry: e, dir: 'orig', state: 'NEW' };
  }

  private note(hn: string, e: CtEntry): void {
    let s = this.touched.get(hn);
    if (!s) this.touched.set(hn, (s = new Set()));
    s.add(e);
  }

  private confirmCt(hn: string, ct: CtRef | undefined): boolean {
    if (!ct || ct.entry.confirmed) return true;
    // __nf_conntrack_confirm: only the packet that created the connection confirms it; a REJECT's
    // answer is attached in the reply direction and leaves an unconfirmed entry unconfirmed
    if (ct.dir !== 'orig') return true;
    const ok = confirm(this.state(hn).ct, ct.entry, this.world.now);
    this.emit({
      kind: 'ct',
      host: hn,
      what: ok
        ? `confirmed #${ct.entry.id}`
        : `confirm of #${ct.entry.id} clashes with an existing entry: packet dropped`,
    });
    return ok;
  }

  // ---- NAT (spec §5)

  private pickIp(r: NatRange, fallback: U32): U32 {
    if (r.minIp === undefined) return fallback;
    const n = r.maxIp! - r.minIp + 1;
    // The kernel hashes the addresses to pick; the model treats every address of the range as possible.
    for (let i = 0; i < n - 1; i++)
      if (this.choose(1 / (n - i), `NAT address ${formatIp(r.minIp + i)} of ${n}`)) return r.minIp + i;
    return r.maxIp!;
  }

  /** nf_nat_setup_info: choose the new tuple for this manip type and record it in the reply tuple. */
  private natSetup(
    hn: string,
    e: CtEntry,
    mtype: 'src' | 'dst',
    req: NatRequest | undefined,
    hook: Hook,
    inIf: string,
    outIf: string,
    nextHop: U32,
  ): boolean {
    const h = this.host(hn);
    const cur = invert(e.reply);
    const nu: Tuple = { ...cur };
    const ports = e.orig.proto === 6 || e.orig.proto === 17;
    const portField = mtype === 'dst' ? 'dport' : 'sport';
    let range: readonly [number, number] | undefined;
    let random = false;
    if (req) {
      const r = req.range;
      if (req.target === 'DNAT' || req.target === 'SNAT') nu[mtype] = this.pickIp(r, cur[mtype]);
      else if (req.target === 'MASQUERADE') {
        const a =
          this.lab.mutation === 'masquerade-first-address'
            ? selectSource(h, 'eth0', nextHop)
            : selectSource(h, outIf, nextHop);
        if (a === undefined) return false;
        nu.src = a;
      } else if (req.target === 'REDIRECT') {
        const a = hook === 'OUTPUT' ? 0x7f000001 : h.ifaces.get(inIf)?.addrs[0]?.ip;
        if (a === undefined) return false;
        nu.dst = a;
      }
      if (r.minPort !== undefined && ports) range = [r.minPort, r.maxPort!];
      random = req.random || req.randomFully;
    }
    const taken = (t: Tuple) => replyTaken(this.state(hn).ct, invert(t), e);
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
        for (let port = pick[0]; port <= pick[1]; port++) {
          nu[key] = port;
          if (!taken(nu)) {
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

  /** nf_nat_packet / nf_nat_icmp_reply_translation: rewrite the packet from the binding. */
  private natManip(hn: string, hook: Hook, p: Pkt, ct: CtRef): void {
    const e = ct.entry;
    const mtype = hook === 'PREROUTING' || hook === 'OUTPUT' ? 'dst' : 'src';
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
    this.emit({
      kind: 'nat',
      host: hn,
      hook,
      what: mtype === 'src' ? 'source rewritten' : 'destination rewritten',
      before,
      after: formatPkt(p),
    });
  }

  private natStep(
    hn: string,
    hook: Hook,
    p: Pkt,
    ct: CtRef | undefined,
    env: MatchEnv,
    nextHop: U32,
  ): Arrival | undefined {
    const nats = this.rules(hn).flatMap((r) => r.get('nat') ?? []);
    if (nats.length === 0 || !ct || p.notrack) return undefined;
    const e = ct.entry;
    const mtype = hook === 'PREROUTING' || hook === 'OUTPUT' ? 'dst' : 'src';
    const done = mtype === 'dst' ? e.natDstDone : e.natSrcDone;
    if (ct.state === 'NEW' && !done) {
      // nf_nat_inet_fn: the nat chains run in order until one sets up a binding
      let req: NatRequest | undefined;
      for (const nat of nats) {
        const v = traverse(nat, hook, p, env, this.traverseHooks(hn, hook), this.verbose);
        if (v.kind === 'drop') return this.ruleDrop(hn, hook, 'nat', v.chain, v.rule);
        if (v.kind === 'nat') {
          req = v.nat;
          break;
        }
      }
      if (!this.natSetup(hn, e, mtype, req, hook, env.inIf, env.outIf, nextHop)) {
        return this.drop(
          hn,
          `${req?.target ?? 'NAT'}: no address to use on ${req?.target === 'REDIRECT' ? env.inIf : env.outIf}`,
        );
      }
    }
    this.natManip(hn, hook, p, ct);
    return undefined;
  }

  // ---- hooks (spec §2)

  private traverseHooks(hn: string, hook: Hook) {
    return {
      applyNonTerminal: (ext: ExtInstance, p: Pkt, env: MatchEnv) => this.nonTerminal(ext, p, env),
      onRule: (hit: {
        table: TableName;
        chain: string;
        rule: number | 'policy';
        matched: boolean;
        action: string;
        spec: string;
      }) => this.emit({ kind: 'rule', host: hn, hook, ...hit }),
    };
  }

  private nonTerminal(ext: ExtInstance, p: Pkt, env: MatchEnv): string {
    switch (ext.name) {
      case 'MARK': {
        const m = opt(ext, '--set-xmark')!.value as MarkMask;
        p.mark = ((p.mark & ~m.mask) ^ m.value) >>> 0;
        return `MARK -> 0x${p.mark.toString(16)}`;
      }
      case 'CONNMARK': {
        const e = env.ct?.entry;
        if (!e) return 'CONNMARK (no connection)';
        const x = opt(ext, '--set-xmark')?.value as MarkMask | undefined;
        if (x) e.mark = ((e.mark & ~x.mask) ^ x.value) >>> 0;
        const nf = (opt(ext, '--nfmask')?.value as number | undefined) ?? 0xffffffff;
        const ctm = (opt(ext, '--ctmask')?.value as number | undefined) ?? 0xffffffff;
        if (opt(ext, '--save-mark')) e.mark = ((e.mark & ~ctm) ^ (p.mark & nf)) >>> 0;
        if (opt(ext, '--restore-mark')) p.mark = ((p.mark & ~nf) ^ (e.mark & ctm)) >>> 0;
        return `CONNMARK ctmark=0x${e.mark.toString(16)} mark=0x${p.mark.toString(16)}`;
      }
      case 'NOTRACK':
      case 'CT':
        p.notrack = true;
        return 'NOTRACK';
      default:
        return ext.name; // LOG, NFLOG, TRACE: no verdict
    }
  }

  private ruleDrop(hn: string, hook: Hook, table: TableName, chain: string, rule: number | 'policy'): Arrival {
    const reason = `${table} ${chain} ${rule === 'policy' ? 'policy DROP' : `rule ${rule} DROP`}`;
    this.emit({ kind: 'drop', host: hn, reason, hook, table, chain, rule });
    return { kind: 'dropped', host: hn, reason, hook, table, chain, rule };
  }

  private static readonly ORDER: Record<Hook, readonly (TableName | 'ct' | 'confirm')[]> = {
    PREROUTING: ['raw', 'ct', 'mangle', 'nat'],
    INPUT: ['mangle', 'filter', 'security', 'nat', 'confirm'],
    FORWARD: ['mangle', 'filter', 'security'],
    OUTPUT: ['raw', 'ct', 'mangle', 'nat', 'filter', 'security'],
    POSTROUTING: ['mangle', 'nat', 'confirm'],
  };

  /** Runs every table registered at `hook` in priority order. */
  private hook(
    hn: string,
    hook: Hook,
    p: Pkt,
    inIf: string,
    outIf: string,
    ct: CtRef | undefined,
    attached: boolean,
    nextHop: U32,
  ): Step {
    this.emit({ kind: 'hook', host: hn, hook, in: inIf, out: outIf, packet: formatPkt(p) });
    const rules = this.rules(hn);
    const env: MatchEnv = {
      host: this.host(hn),
      hook,
      inIf,
      outIf,
      ct,
      state: this.state(hn),
      now: this.world.now,
      choose: this.choose,
      ruleId: '',
    };
    for (const step of PathRun.ORDER[hook]) {
      if (step === 'ct') {
        if (!attached) ct = this.ctIn(hn, p);
        env.ct = ct;
        continue;
      }
      if (step === 'confirm') {
        if (!this.confirmCt(hn, ct)) return { ok: false, arrival: this.drop(hn, 'conntrack confirm clash') };
        continue;
      }
      if (step === 'nat') {
        const a = this.natStep(hn, hook, p, ct, env, nextHop);
        if (a) return { ok: false, arrival: a };
        continue;
      }
      for (const layer of rules) {
        const table = layer.get(step);
        if (!table) continue;
        const v = traverse(table, hook, p, env, this.traverseHooks(hn, hook), this.verbose);
        if (v.kind === 'drop') return { ok: false, arrival: this.ruleDrop(hn, hook, step, v.chain, v.rule) };
        if (v.kind === 'reject') {
          this.emit({
            kind: 'drop',
            host: hn,
            reason: `REJECT --reject-with ${v.with}`,
            hook,
            table: step,
            chain: v.chain,
            rule: v.rule,
          });
          return { ok: false, arrival: { kind: 'rejected', host: hn, pkt: { ...p }, with: v.with, ct } };
        }
      }
    }
    return { ok: true, ct };
  }

  // ---- the path (spec §3, §6, §7)

  /** A packet sent by a local process on `hn`. */
  localOut(hn: string, p: Pkt, attachedCt?: CtRef): Arrival {
    const h = this.host(hn);
    let r = lookupRoute(h, p.dst);
    this.emit({ kind: 'route', host: hn, dst: formatIp(p.dst), result: describeRoute(r) });
    if (r.type === 'unreachable') return { kind: 'no-route', host: hn };
    if (p.src === 0) p.src = sourceFor(h, p.dst) ?? 0;
    const outDev = r.type === 'local' ? 'lo' : r.dev;
    const before = { dst: p.dst, mark: p.mark };
    const out = this.hook(
      hn,
      'OUTPUT',
      p,
      '',
      outDev,
      attachedCt,
      attachedCt !== undefined,
      r.type === 'unicast' ? r.nextHop : p.dst,
    );
    if (!out.ok) return out.arrival;
    if (p.dst !== before.dst || p.mark !== before.mark) {
      r = lookupRoute(h, p.dst);
      this.emit({
        kind: 'route',
        host: hn,
        dst: formatIp(p.dst),
        result: `rerouted after OUTPUT: ${describeRoute(r)}`,
      });
      if (r.type === 'unreachable') return this.drop(hn, 'no route after OUTPUT rewrite');
      // ip_route_output: a 127/8 source may leave only with route_localnet=1 (spec/semantics.md §3)
      if (r.type === 'unicast' && isLoopback(p.src) && !(h.ifaces.get(r.dev) && h.sysctls.route_localnet)) {
        return this.drop(hn, `martian source ${formatIp(p.src)} out of ${r.dev} after DNAT (route_localnet=0)`);
      }
    }
    const dev = r.type === 'local' ? 'lo' : r.dev;
    const nh = r.type === 'unicast' ? r.nextHop : p.dst;
    const post = this.hook(hn, 'POSTROUTING', p, '', dev, out.ct, true, nh);
    if (!post.ok) return post.arrival;
    if (r.type === 'local') {
      this.emit({ kind: 'hop', from: `${hn}/lo`, to: `${hn}/lo` });
      const pre = this.hook(hn, 'PREROUTING', p, 'lo', '', post.ct, true, p.dst);
      if (!pre.ok) return pre.arrival;
      return this.routeIn(hn, 'lo', p, pre.ct);
    }
    return this.transmit(hn, r.dev, r.nextHop, p);
  }

  private transmit(hn: string, dev: string, nextHop: U32, p: Pkt): Arrival {
    if (++this.hops > MAX_HOPS) return this.drop(hn, 'too many hops (routing loop)');
    const h = this.host(hn);
    const iface = h.ifaces.get(dev)!;
    if (iface.kind === 'bridge') {
      const port = this.portFor(h, dev, nextHop);
      if (!port) return this.drop(hn, `no neighbour answers for ${formatIp(nextHop)} on ${dev}`);
      this.emit({ kind: 'bridge', host: hn, bridge: dev, what: `local packet out of port ${port.name}` });
      return this.wire(hn, port, nextHop, p);
    }
    return this.wire(hn, iface, nextHop, p);
  }

  /** The frame crosses a veth pair; conntrack state does not cross namespaces, and neither does the
   *  packet mark: veth's __dev_forward_skb calls skb_scrub_packet(skb, xnet), which zeroes skb->mark
   *  when the peer is in another namespace (spec/semantics.md §1; found by `npm run mutants -- --kernel`). */
  private wire(hn: string, iface: Iface, nextHop: U32, p: Pkt): Arrival {
    const peer = iface.peer!;
    if (peer.host !== hn) p.mark = 0;
    this.emit({ kind: 'hop', from: `${hn}/${iface.name}`, to: `${peer.host}/${peer.iface}` });
    return this.receive(peer.host, peer.iface, nextHop, p);
  }

  /** The bridge port (on bridge `br` of host h) behind which `addr` lives. */
  private portFor(h: Host, br: string, addr: U32): Iface | undefined {
    for (const i of h.ifaces.values()) {
      if (i.master !== br || !i.peer) continue;
      if (this.host(i.peer.host).local.has(addr)) return i;
    }
    return undefined;
  }

  private receive(hn: string, ifName: string, nextHop: U32, p: Pkt): Arrival {
    const h = this.host(hn);
    const iface = h.ifaces.get(ifName)!;
    if (iface.master) return this.bridgeIn(hn, iface.master, iface, nextHop, p);
    if (!h.local.has(nextHop)) return this.drop(hn, `nobody on ${ifName} answers ARP for ${formatIp(nextHop)}`);
    const pre = this.hook(hn, 'PREROUTING', p, ifName, '', undefined, false, p.dst);
    if (!pre.ok) return pre.arrival;
    return this.routeIn(hn, ifName, p, pre.ct);
  }

  private bridgeIn(hn: string, br: string, port: Iface, nextHop: U32, p: Pkt): Arrival {
    const h = this.host(hn);
    const toSelf = h.local.has(nextHop);
    const outPort = toSelf ? undefined : this.portFor(h, br, nextHop);
    this.emit({
      kind: 'bridge',
      host: hn,
      bridge: br,
      what: `frame in on ${port.name} for ${toSelf ? 'the bridge itself' : outPort ? `port ${outPort.name}` : 'nobody'}`,
    });
    if (!toSelf && !outPort) return this.drop(hn, `no neighbour answers for ${formatIp(nextHop)} on ${br}`);
    if (!h.sysctls.bridge_nf_call_iptables) {
      if (toSelf) {
        const pre = this.hook(hn, 'PREROUTING', p, br, '', undefined, false, p.dst);
        if (!pre.ok) return pre.arrival;
        return this.routeIn(hn, br, p, pre.ct);
      }
      return this.bridgeForward(hn, br, port, outPort!, p, undefined, false, nextHop);
    }
    // br_netfilter: the IPv4 PREROUTING hooks see the bridged frame, with -i the bridge (spec §7)
    const dstBefore = p.dst;
    const pre = this.hook(hn, 'PREROUTING', p, br, '', undefined, false, p.dst);
    if (!pre.ok) return pre.arrival;
    if (p.dst !== dstBefore) {
      const r = lookupRoute(h, p.dst);
      this.emit({
        kind: 'route',
        host: hn,
        dst: formatIp(p.dst),
        result: `br_netfilter after DNAT: ${describeRoute(r)}`,
      });
      if (r.type === 'unicast' && r.dev === br) {
        const again = this.portFor(h, br, r.nextHop);
        if (!again) return this.drop(hn, `no neighbour answers for ${formatIp(r.nextHop)} on ${br}`);
        this.emit({
          kind: 'bridge',
          host: hn,
          bridge: br,
          what: `DNAT target is on the same bridge: frame re-bridged to port ${again.name}`,
        });
        return this.bridgeForward(hn, br, port, again, p, pre.ct, true, r.nextHop);
      }
      return this.routeIn(hn, br, p, pre.ct);
    }
    if (toSelf) return this.routeIn(hn, br, p, pre.ct);
    return this.bridgeForward(hn, br, port, outPort!, p, pre.ct, true, nextHop);
  }

  private bridgeForward(
    hn: string,
    br: string,
    inPort: Iface,
    outPort: Iface,
    p: Pkt,
    ct: CtRef | undefined,
    hooks: boolean,
    nextHop: U32,
  ): Arrival {
    if (outPort === inPort && !inPort.hairpin) {
      return this.drop(hn, `bridge ${br} would send the frame back out of ${inPort.name}, whose hairpin mode is off`);
    }
    if (hooks) {
      const fwd = this.hook(hn, 'FORWARD', p, br, br, ct, true, nextHop);
      if (!fwd.ok) return fwd.arrival;
      const post = this.hook(hn, 'POSTROUTING', p, '', br, fwd.ct, true, nextHop);
      if (!post.ok) return post.arrival;
    }
    if (++this.hops > MAX_HOPS) return this.drop(hn, 'too many hops (bridge loop)');
    return this.wire(hn, outPort, nextHop, p);
  }

  /** The routing decision for a received packet (PREROUTING already done). */
  private routeIn(hn: string, inIf: string, p: Pkt, ct: CtRef | undefined): Arrival {
    const h = this.host(hn);
    if (inIf !== 'lo') {
      if (h.local.has(p.src) && !h.sysctls.accept_local)
        return this.drop(hn, `martian source ${formatIp(p.src)}: a local address arriving on ${inIf} (accept_local=0)`);
      if (isLoopback(p.src)) return this.drop(hn, `martian source ${formatIp(p.src)} on ${inIf}`);
      if (isLoopback(p.dst) && !h.sysctls.route_localnet)
        return this.drop(hn, `martian destination ${formatIp(p.dst)} on ${inIf} (route_localnet=0)`);
    }
    const r = lookupRoute(h, p.dst);
    this.emit({ kind: 'route', host: hn, dst: formatIp(p.dst), result: describeRoute(r) });
    if (inIf !== 'lo' && h.sysctls.rp_filter !== 0) {
      const back = lookupRoute(h, p.src);
      const ok = h.sysctls.rp_filter === 2 ? back.type !== 'unreachable' : back.type === 'unicast' && back.dev === inIf;
      if (!ok)
        return this.drop(hn, `rp_filter=${h.sysctls.rp_filter}: no route back to ${formatIp(p.src)} via ${inIf}`);
    }
    if (r.type === 'local') {
      const input = this.hook(hn, 'INPUT', p, inIf, '', ct, true, p.dst);
      if (!input.ok) return input.arrival;
      this.emit({ kind: 'deliver', host: hn, what: formatPkt(p) });
      return { kind: 'local', host: hn, pkt: p, ct: input.ct };
    }
    if (!h.sysctls.ip_forward) return this.drop(hn, `${formatIp(p.dst)} is not local and ip_forward=0`);
    if (r.type === 'unreachable') {
      this.emit({ kind: 'drop', host: hn, reason: `no route to ${formatIp(p.dst)}: ICMP net unreachable` });
      return { kind: 'rejected', host: hn, pkt: { ...p }, with: 'icmp-net-unreachable', ct };
    }
    const fwd = this.hook(hn, 'FORWARD', p, inIf, r.dev, ct, true, r.nextHop);
    if (!fwd.ok) return fwd.arrival;
    const post = this.hook(hn, 'POSTROUTING', p, '', r.dev, fwd.ct, true, r.nextHop);
    if (!post.ok) return post.arrival;
    return this.transmit(hn, r.dev, r.nextHop, p);
  }

  /** The ICMP error or TCP reset a REJECT (or a missing route) sends back (spec §6.3). */
  errorFor(a: Extract<Arrival, { kind: 'rejected' }>): { pkt: Pkt; ct: CtRef | undefined } {
    const o = a.pkt;
    if (a.with === 'tcp-reset') {
      const pkt: Pkt = {
        proto: 6,
        src: o.dst,
        dst: o.src,
        sport: o.dport,
        dport: o.sport,
        tcpFlags: TCP.RST | TCP.ACK,
        icmpType: 0,
        icmpCode: 0,
        mark: 0,
        notrack: false,
      };
      // nf_ct_attach: the reset rides on the rejected packet's connection, as RELATED in the other direction
      return { pkt, ct: relatedTo(a.ct) };
    }
    const code = REJECT_CODES[a.with] ?? 3;
    const h = this.host(a.host);
    const back = lookupRoute(h, o.src);
    const src = h.local.has(o.dst)
      ? o.dst
      : back.type === 'unicast'
        ? (selectSource(h, back.dev, back.nextHop) ?? 0)
        : 0;
    const pkt: Pkt = {
      proto: 1,
      src,
      dst: o.src,
      sport: 0,
      dport: 0,
      tcpFlags: 0,
      icmpType: 3,
      icmpCode: code,
      mark: 0,
      notrack: false,
      embedded: tupleOf(o),
    };
    // icmp_glue_bits: every ICMP error icmp_send builds is nf_ct_attach'ed to the offending packet's
    // connection (RELATED, other direction), confirmed or not: NAT translates it back (measured:
    // a DNATed probe REJECTed in FORWARD hears the error from the Service address)
    return { pkt, ct: relatedTo(a.ct) };
  }
}

/** nf_conntrack_attach: an answer generated for a packet joins its connection, in the other direction. */
function relatedTo(ct: CtRef | undefined): CtRef | undefined {
  return ct ? { entry: ct.entry, dir: ct.dir === 'orig' ? 'reply' : 'orig', state: 'RELATED' } : undefined;
}

const REJECT_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(ICMP_UNREACH_NAMES).map(([code, name]) => [`icmp-${name}`, Number(code)]),
);

/** The source address a local socket gets when it does not bind one (the route's preferred source). */
export function sourceFor(h: Host, dst: U32): U32 | undefined {
  const r = lookupRoute(h, dst);
  if (r.type === 'unreachable') return undefined;
  if (r.type === 'local') return isLoopback(dst) ? 0x7f000001 : dst;
  return selectSource(h, r.dev, r.nextHop);
}

export function describeRoute(r: RouteResult): string {
  if (r.type === 'local') return `local (${r.dev})`;
  if (r.type === 'unreachable') return 'no route';
  return r.via !== undefined ? `via ${formatIp(r.via)} dev ${r.dev}` : `dev ${r.dev} (directly connected)`;
}

// The packet path through a network of hosts: hooks in priority order, the routing decision, veth
// links and bridges with br_netfilter (spec/semantics.md §2-§7). One `PathRun` carries one packet
// journey; probabilistic rules are resolved through `choose`. Conntrack (tracking.ts) and NAT
// (nat.ts) are reached through the lab's semantics (semantics.ts), the rules through eval/.
import { type U32, formatIp, isLoopback } from './ip.ts';
import type { Hook } from './rules/types.ts';
import { confOf, type Host, type Iface } from './net/topology.ts';
import { lookupRoute, selectSource, type RouteResult } from './net/routing.ts';
import type { CtEntry } from './conntrack.ts';
import { traverse, type NatRequest, type TraverseHooks, type TableVerdict } from './eval/chains.ts';
import { printRuleSpec } from './rules/print.ts';
import type { UnknownRule } from './observation.ts';
import type { MatchEnv } from './eval/matchers.ts';
import { type Pkt, type CtRef, type HostState, formatPkt } from './eval/packet.ts';
import type { ModelLab, World } from './lab-model.ts';
import type { TraceEvent } from './trace.ts';
import type { HostCtx, Semantics } from './semantics.ts';
import { manipOf } from './nat.ts';
import { isIcmpError } from './tracking.ts';
import {
  routeErrorVerdict,
  spendRouteError,
  redirectMet,
  redirectVerdict,
  redirectCounted,
  ROUTE_ERROR_BURST_MS,
  ROUTE_ERROR_COST_MS,
} from './route-errors.ts';
import { TIME_EXCEEDED, REDIRECT } from './answers.ts';
import {
  arpSender,
  arpIgnored,
  neighKey,
  neighbourPlan,
  neighbourPending,
  neighbourResolved,
  validUse,
  NEIGH_GIVES_UP_S,
} from './neighbour.ts';

import type { HostHooks } from './hook-table.ts';
import { addrType } from './eval/matchers.ts';
import type { NftTable, NftChain, NftSet, Stmt, Atom } from './nft/types.ts';
import { evalBaseChain, type NftEnv, type NftRuleHit } from './nft/eval.ts';
import { setLife, setStateKey, applyUpdates, marginAfter, setCount, setData, incStateKey } from './nft/dyn-state.ts';
import { ctView, natRequestOf, rejectWith } from './nft/in-path.ts';
import { printRuleBody, tableCtx } from './nft/print.ts';
import { FIB_ADDRTYPE, DTYPES } from './nft/datatypes.ts';

export { tupleOf, isIcmpError } from './tracking.ts';
export { formatPkt } from './eval/packet.ts';

/** Where a packet's journey ended. */
export type Arrival =
  | { kind: 'local'; host: string; pkt: Pkt; ct: CtRef | undefined }
  | {
      kind: 'dropped';
      host: string;
      reason: string;
      hook?: Hook;
      /** an iptables table, or an nft table as "family name" */
      table?: string;
      chain?: string;
      rule?: number | 'policy';
      /** the sender is not told (NFQUEUE without a reader) */
      silent?: true;
      /** the error the sender's send gets when its own stack drops the packet outside any rule (a failed
       *  reroute after OUTPUT: ip_route_me_harder's route error) */
      errno?: string;
      /** dropped in the sending host's own OUTPUT or POSTROUTING, within the send (localOut) */
      atSend?: true;
    }
  | {
      kind: 'rejected';
      host: string;
      pkt: Pkt;
      with: string;
      ct: CtRef | undefined;
      /** the rule that rejected it (none for routing's own errors) */
      by?: { hook: Hook; table: string; chain: string; rule: number | 'policy' };
      /** the bridge port the rejected packet came in on, when br_netfilter handed it to the IPv4 hooks */
      physIn?: string;
      /** rejected in the sending host's own OUTPUT or POSTROUTING, within the send (localOut) */
      atSend?: true;
    }
  | { kind: 'no-route'; host: string }
  /** an unmodelled target took the packet: what happens next is unknown (spec/semantics.md §10) */
  | { kind: 'unknown'; host: string; rule: UnknownRule };

/** A packet at one hook of one host. */
export interface HookSite {
  host: string;
  hook: Hook;
  pkt: Pkt;
  /** -i and -o as the rules see them ('' where the hook has none) */
  in: string;
  out: string;
  /** the address the packet is routed to next (MASQUERADE picks its source address for it) */
  nextHop: U32;
  /** the packet's connection; 'lookup': conntrack looks it up here (the first hook in a namespace) */
  ct: CtRef | undefined | 'lookup';
  /** bridge ports, when br_netfilter handed the frame to the IPv4 hooks (its nf_bridge info) */
  phys?: { in: string; out?: string } | undefined;
  /** POSTROUTING of a forwarded packet: the input device the kernel hands the hook (ip_output: indev = skb->dev),
   *  which nft's `iifname`/`iif` read there (nft_meta.c NFT_META_IIFNAME: state->in); iptables has no -i there */
  indev?: string;
  /** OUTPUT: the reroute NAT's own hook function does when it changed the destination (nf_nat_ipv4_local_fn
   *  calls ip_route_me_harder before the next priority runs); an arrival when the new route fails */
  rerouteAfterNat?: () => Arrival | undefined;
}

type Step = { ok: true; ct: CtRef | undefined } | { ok: false; arrival: Arrival };

/** Where an ARP request for an address is processed: the owner, and the device its frames arrive on. */
interface ArpEnd {
  host: string;
  dev: string;
}

/** Where a packet that met a neighbour entry ended; undefined: it goes on now. */
type Held = Arrival | undefined;

function arpEnd(peer: { host: string; iface: string }, h: Host): ArpEnd {
  return { host: peer.host, dev: h.ifaces.get(peer.iface)?.master ?? peer.iface };
}

/** A frame a bridge sends on from one of its ports to another. */
interface BridgeHop {
  host: string;
  bridge: string;
  inPort: Iface;
  outPort: Iface;
  pkt: Pkt;
  nextHop: U32;
  /** the frame's connection, when br_netfilter hands it to the IPv4 hooks; null when it does not */
  netfilter: { ct: CtRef | undefined } | null;
}

/** a guard only: every routed hop takes one off the TTL (64), so a routing loop meets ip_forward's time-exceeded
 *  first; bridged hops keep the TTL, and no lab topology has a bridge loop */
const MAX_HOPS = 256;

/** What an nft rule that did not end the chain did, for the trace. */
function actionOf(s: Stmt | undefined): string {
  if (!s) return '';
  if (s.k === 'verdict') return 'chain' in s.v ? `${s.v.kind} ${s.v.chain}` : s.v.kind;
  return s.k;
}

/** A drop or REJECT in the sender's own OUTPUT or POSTROUTING: nf_hook_slow's NF_DROP is the send's return value
 *  there, and only there (a packet that crossed a device and comes back to that host is dropped in a softirq). */
function atSend(a: Arrival): Arrival {
  return a.kind === 'dropped' || a.kind === 'rejected' ? { ...a, atSend: true } : a;
}

export class PathRun {
  readonly trace: TraceEvent[] = [];
  /** conntrack entries this journey touched, by host */
  readonly touched = new Map<string, Set<CtEntry>>();
  /** while set, the entries each packet's journey touches are added here too (probe.ts close) */
  tap: Set<CtEntry> | undefined;
  private hops = 0;
  private readonly ctx = new Map<string, HostCtx>();
  /** answers to "has this nft set element timed out?" in this branch, one per element */
  private readonly nftAnswers = new Map<string, boolean>();

  constructor(
    readonly lab: ModelLab,
    readonly world: World,
    readonly choose: (p: number, label: string) => boolean,
    readonly verbose = false,
    /** an unknown rule's answer in this branch (both are followed: probe.ts) */
    readonly decide: (rule: UnknownRule) => boolean = () => {
      throw new Error('internal: an unknown rule reached with no way to follow both answers');
    },
  ) {}

  private host(name: string): Host {
    return this.lab.net.hosts.get(name)!;
  }
  /** the host's hooks: every rule source in the kernel's order */
  private hooksOf(name: string): HostHooks {
    return this.lab.hooks.get(name)!;
  }
  private emit(e: TraceEvent): void {
    this.trace.push(e);
  }
  private drop(host: string, reason: string, errno?: string): Arrival {
    this.emit({ kind: 'drop', host, reason });
    return errno ? { kind: 'dropped', host, reason, errno } : { kind: 'dropped', host, reason };
  }

  /** The host as conntrack and NAT see it during this journey. */
  private hostCtx(name: string): HostCtx {
    let cx = this.ctx.get(name);
    if (!cx) this.ctx.set(name, (cx = new JourneyHost(this, name)));
    return cx;
  }

  /** the journey touched this connection on `host` */
  note(host: string, e: CtEntry): void {
    let s = this.touched.get(host);
    if (!s) this.touched.set(host, (s = new Set()));
    s.add(e);
    this.tap?.add(e);
  }

  // ---- hooks (spec §2)

  private traverseHooks(hn: string, hook: Hook): TraverseHooks {
    return { onRule: (hit) => this.emit({ kind: 'rule', host: hn, hook, ...hit }) };
  }

  /** A question the rule being evaluated cannot answer: an inert rule's answer cannot matter (it is taken
   *  as "no match"); otherwise both answers are followed (spec/semantics.md §10). */
  private ask(hn: string, hook: Hook, env: MatchEnv, why: string): boolean {
    const cr = env.rule;
    if (!cr) throw new Error('internal: an unknown match outside a rule');
    const rule: UnknownRule = {
      host: hn,
      hook,
      table: cr.table,
      chain: cr.chain,
      rule: cr.index + 1,
      spec: printRuleSpec(cr.rule),
      why,
    };
    if (cr.inert) {
      this.emit({ kind: 'unknown', branch: 'no effect', ...rule });
      return false;
    }
    return this.branchOn(rule);
  }

  /** An unknown rule's two answers: the one this branch follows, written into the trace. */
  private branchOn(rule: UnknownRule): boolean {
    const answer = this.decide(rule);
    this.emit({ kind: 'unknown', branch: answer ? 'matches' : 'does not match', ...rule });
    return answer;
  }

  /** An unmodelled target (or an nft chain the model cannot decide) took the packet: its fate is unknown. */
  private fateUnknown(hn: string, hook: Hook, table: string, v: Extract<TableVerdict, { kind: 'unknown' }>): Arrival {
    const rule: UnknownRule = { host: hn, hook, table, chain: v.chain, rule: v.rule, spec: v.spec, why: v.why };
    this.emit({ kind: 'unknown', branch: 'fate unknown', ...rule });
    return { kind: 'unknown', host: hn, rule };
  }

  private ruleDrop(
    hn: string,
    hook: Hook,
    table: string,
    chain: string,
    rule: number | 'policy',
    silent?: true,
  ): Arrival {
    const how = rule === 'policy' ? 'policy DROP' : `rule ${rule} ${silent ? 'dropped (NFQUEUE)' : 'DROP'}`;
    const reason = `${table} ${chain} ${how}`;
    this.emit({ kind: 'drop', host: hn, reason, hook, table, chain, rule });
    const a: Arrival = { kind: 'dropped', host: hn, reason, hook, table, chain, rule };
    if (silent) a.silent = true;
    return a;
  }

  /** nf_nat_inet_fn: a new connection gets its binding from the nat lookups (iptables nat tables and nft nat
   *  chains, in the nat core's order: hook-table.ts) until one sets one up, then the packet is rewritten. */
  private natStep(s: HookSite, ct: CtRef | undefined, env: MatchEnv): Arrival | undefined {
    const p = s.pkt;
    const { nat, natCore } = this.hooksOf(s.host);
    const lookups = nat[s.hook];
    if (!natCore || !ct || p.notrack) return undefined;
    const cx = this.hostCtx(s.host);
    const e = ct.entry;
    // nf_nat_icmp_reply_translation: a redirect about a connection that is NATed, or whose NAT is not done both
    // ways yet, is dropped ("Redirects on non-null nats must be dropped")
    if (ct.state === 'RELATED' && p.proto === 1 && p.icmpType === 5) {
      if (!(e.natSrcDone && e.natDstDone) || e.srcNat || e.dstNat)
        return this.drop(s.host, 'nat: an ICMP redirect about a NATed (or not yet NATed) connection is dropped');
    }
    const mtype = manipOf(s.hook);
    const done = mtype === 'dst' ? e.natDstDone : e.natSrcDone;
    if (ct.state === 'NEW' && !done) {
      let req: NatRequest | undefined;
      for (const l of lookups) {
        if (l.kind === 'xt') {
          const v = traverse(l.rs.get('nat')!, s.hook, p, env, this.traverseHooks(s.host, s.hook), this.verbose);
          if (v.kind === 'drop') return this.ruleDrop(s.host, s.hook, 'nat', v.chain, v.rule, v.silent);
          if (v.kind === 'unknown') return this.fateUnknown(s.host, s.hook, 'nat', v);
          if (v.kind === 'nat') {
            req = v.nat;
            break;
          }
          continue;
        }
        const o = this.nftChain(s, l.table, l.chain, ct);
        if (o.kind === 'stop') return o.arrival;
        if (o.nat) {
          req = o.nat;
          break;
        }
      }
      const site = { hook: s.hook, inIf: s.in, outIf: s.out, nextHop: s.nextHop };
      if (!cx.sem.natSetup(cx, e, mtype, req, site)) {
        return this.drop(
          s.host,
          `${req?.target ?? 'NAT'}: no address to use on ${req?.target === 'REDIRECT' ? s.in : s.out}`,
        );
      }
    }
    cx.sem.natManip(cx, s.hook, p, ct);
    return undefined;
  }

  /** One nft base chain (nft/eval.ts): one of its possibilities taken through `choose`, its effects on the
   *  packet and its connection applied, its rules traced; a drop or reject ends the journey. */
  private nftChain(
    s: HookSite,
    table: NftTable,
    chain: NftChain,
    ct: CtRef | undefined,
  ): { kind: 'stop'; arrival: Arrival } | { kind: 'accept'; nat?: NatRequest } {
    const { host: hn, hook, pkt: p } = s;
    const h = this.host(hn);
    const view = ctView(ct, p);
    const env: NftEnv = {
      hook: chain.base!.hook,
      iif: s.indev ?? s.in,
      oif: s.out,
      ...(view ? { ct: view } : {}),
      fibAddrType: (a) => FIB_ADDRTYPE[addrType(h, a, undefined).toLowerCase()],
    };
    const label = `${table.family} ${table.name}`;
    const state = this.world.hosts.get(hn)!;
    // a set rules change: its elements are the host's state; an element near its timeout is a question
    const has = (set: NftSet, key: readonly Atom[], at: NftRuleHit): boolean => {
      const { life, probes } = setLife(state, table, set, key, this.world.now, this.world.probes ?? 0);
      if (life !== 'unknown') return life === 'present';
      const memo = `${hn}\0${setStateKey(table, set.name)}\0${JSON.stringify(key)}`;
      const known = this.nftAnswers.get(memo);
      if (known !== undefined) return known;
      const r = table.chains.get(at.chain)!.rules[at.rule]!;
      const element = key.map((v, i) => DTYPES[set.key[i]!].print(v)).join(' . ');
      const rule: UnknownRule = {
        host: hn,
        hook,
        table: label,
        chain: at.chain,
        rule: at.rule + 1,
        spec: printRuleBody(r, tableCtx(table)),
        why:
          `whether @${set.name}'s element ${element} has timed out on the kernel (its time left is within` +
          ` ${marginAfter(probes)} s, what the case's probes since may have taken: spec/nft.md §8)`,
      };
      const answer = this.branchOn(rule);
      this.nftAnswers.set(memo, answer);
      return answer;
    };
    env.setHas = has;
    env.setCount = (set) => setCount(state, table, set, this.world.now, this.world.probes ?? 0);
    env.setData = (set, key) => setData(state, table, set, key);
    env.incCounter = (key) => state.nftInc.get(incStateKey(table, key));
    const outs = evalBaseChain(table, chain.name, p, env);
    let o = outs[outs.length - 1]!;
    let rest = 1;
    for (const [i, x] of outs.slice(0, -1).entries()) {
      if (this.choose(x.p / rest, `${label} ${chain.name}: numgen branch ${i + 1} of ${outs.length}`)) {
        o = x;
        break;
      }
      rest -= x.p;
    }
    if (o.verdict === 'unknown') {
      // a match the model cannot decide: the packet's fate is unknown (spec/semantics.md §10, spec/nft.md §8)
      const u = o.undecided!;
      const r = table.chains.get(u.chain)!.rules[u.rule]!;
      const rule = {
        host: hn,
        hook,
        table: label,
        chain: u.chain,
        rule: u.rule + 1,
        spec: printRuleBody(r, tableCtx(table)),
        why: u.why,
      };
      this.emit({ kind: 'unknown', branch: 'fate unknown', ...rule });
      return { kind: 'stop', arrival: { kind: 'unknown', host: hn, rule } };
    }
    for (const [i, hit] of o.trace.entries()) {
      const r = table.chains.get(hit.chain)!.rules[hit.rule]!;
      const last = i === o.trace.length - 1 && !o.policy;
      this.emit({
        kind: 'rule',
        host: hn,
        hook,
        table: label,
        chain: hit.chain,
        rule: hit.rule + 1,
        handle: r.handle,
        base: chain.name,
        matched: true,
        action: last ? (o.nat ? o.nat.k : o.reject ? 'reject' : o.verdict) : actionOf(r.stmts[r.stmts.length - 1]),
        spec: printRuleBody(r, tableCtx(table)),
      });
    }
    if (o.policy)
      this.emit({
        kind: 'rule',
        host: hn,
        hook,
        table: label,
        chain: chain.name,
        rule: 'policy',
        base: chain.name,
        matched: true,
        action: o.verdict,
        spec: '',
      });
    for (const d of o.incs ?? []) state.nftInc.set(incStateKey(table, d.key), d.value);
    if (o.updates)
      applyUpdates(state, table, o.updates, this.world.now, this.world.probes ?? 0, (set, u) => has(set, u.key, u.at));
    p.mark = o.pkt.mark;
    p.notrack = o.pkt.notrack;
    if (ct && o.ctMark !== undefined) ct.entry.mark = o.ctMark;
    const last = o.policy ? 'policy' : o.trace.length ? o.trace[o.trace.length - 1]! : undefined;
    const at =
      last === 'policy' || !last
        ? { chain: chain.name, rule: 'policy' as const }
        : { chain: last.chain, rule: last.rule + 1 };
    if (o.reject) {
      const withWhat = rejectWith(o.reject);
      this.emit({ kind: 'drop', host: hn, reason: `${label} reject (${withWhat})`, hook, table: label, ...at });
      const by = { hook, table: label, ...at };
      const arrival: Arrival = { kind: 'rejected', host: hn, pkt: { ...p }, with: withWhat, ct, by };
      if (s.phys) arrival.physIn = s.phys.in;
      return { kind: 'stop', arrival };
    }
    if (o.verdict === 'drop') return { kind: 'stop', arrival: this.ruleDrop(hn, hook, label, at.chain, at.rule) };
    return o.nat ? { kind: 'accept', nat: natRequestOf(o.nat) } : { kind: 'accept' };
  }

  /** Runs every rule source registered at the site's hook in the kernel's order (hook-table.ts). */
  private hook(s: HookSite): Step {
    const { host: hn, hook, pkt: p } = s;
    this.emit({ kind: 'hook', host: hn, hook, in: s.in, out: s.out, packet: formatPkt(p) });
    const sem = this.lab.semantics;
    let ct = s.ct === 'lookup' ? undefined : s.ct;
    const env: MatchEnv = {
      host: this.host(hn),
      hook,
      inIf: s.in,
      outIf: s.out,
      ct,
      state: this.world.hosts.get(hn)!,
      now: this.world.now,
      choose: this.choose,
      ruleId: '',
      unknown: (why) => this.ask(hn, hook, env, why),
    };
    if (s.phys) env.phys = s.phys;
    for (const entry of this.hooksOf(hn).hooks[hook]) {
      switch (entry.kind) {
        case 'ct':
          if (s.ct === 'lookup' && this.lab.ctEnabled.has(hn) && !p.notrack) ct = sem.conntrackIn(this.hostCtx(hn), p);
          env.ct = ct;
          continue;
        case 'confirm':
          if (!sem.conntrackConfirm(this.hostCtx(hn), ct))
            return { ok: false, arrival: this.drop(hn, 'conntrack confirm clash') };
          continue;
        case 'nat': {
          const dst = p.dst;
          const a = this.natStep(s, ct, env) ?? (p.dst !== dst ? s.rerouteAfterNat?.() : undefined);
          if (a) return { ok: false, arrival: a };
          continue;
        }
        case 'nft': {
          const o = this.nftChain(s, entry.table, entry.chain, ct);
          if (o.kind === 'stop') return { ok: false, arrival: o.arrival };
          continue;
        }
        case 'xt': {
          const step = entry.table;
          const v = traverse(entry.rs.get(step)!, hook, p, env, this.traverseHooks(hn, hook), this.verbose);
          if (v.kind === 'drop')
            return { ok: false, arrival: this.ruleDrop(hn, hook, step, v.chain, v.rule, v.silent) };
          if (v.kind === 'unknown') return { ok: false, arrival: this.fateUnknown(hn, hook, step, v) };
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
            const by = { hook, table: step, chain: v.chain, rule: v.rule };
            const arrival: Arrival = { kind: 'rejected', host: hn, pkt: { ...p }, with: v.with, ct, by };
            if (s.phys) arrival.physIn = s.phys.in;
            return { ok: false, arrival };
          }
        }
      }
    }
    return { ok: true, ct };
  }

  // ---- the path (spec §3, §6, §7)

  /** A packet sent by a local process on `hn` (or a reset or ICMP error its stack sends, on `attachedCt`). */
  localOut(hn: string, p: Pkt, attachedCt?: CtRef): Arrival {
    const h = this.host(hn);
    let r = this.routeTo(hn, p.dst);
    if (r === 'unknown') return this.exceptionUnknown(hn, p.dst);
    this.emit({ kind: 'route', host: hn, dst: formatIp(p.dst), result: describeRoute(r) });
    if (r.type === 'unreachable') return { kind: 'no-route', host: hn };
    if (p.src === 0) p.src = sourceFor(h, p.dst) ?? 0;
    // the first route already refuses a 127/8 source out of a device without route_localnet (__mkroute_output:
    // -EINVAL): a send fails with it, and an ICMP error the stack would send from 127/8 is not sent (__icmp_send)
    if (this.loopbackSourceOut(h, r, p)) {
      const why = `martian source ${formatIp(p.src)} out of ${r.type === 'unicast' ? r.dev : ''} (route_localnet=0)`;
      return this.drop(hn, why, 'EINVAL');
    }
    const before = { dst: p.dst, mark: p.mark };
    let rerouted = false;
    const reroute = (what: string): Arrival | undefined => {
      rerouted = true;
      const again = this.routeTo(hn, p.dst);
      if (again === 'unknown') return this.exceptionUnknown(hn, p.dst);
      r = again;
      this.emit({
        kind: 'route',
        host: hn,
        dst: formatIp(p.dst),
        result: `rerouted after ${what}: ${describeRoute(r)}`,
      });
      // ip_route_me_harder hands the route's -ENETUNREACH back to the sender's send (UDP, ICMP)
      if (r.type === 'unreachable') return this.drop(hn, `no route after ${what}`, 'ENETUNREACH');
      // ip_route_output: a 127/8 source may leave only with route_localnet=1 (spec/semantics.md §3)
      // (__mkroute_output: -EINVAL, which ip_route_me_harder hands back to the sender as its send's error)
      if (this.loopbackSourceOut(h, r, p)) {
        const why = `martian source ${formatIp(p.src)} out of ${r.type === 'unicast' ? r.dev : ''} after ${what}`;
        return this.drop(hn, `${why} (route_localnet=0)`, 'EINVAL');
      }
      return undefined;
    };
    const out = this.hook({
      host: hn,
      hook: 'OUTPUT',
      pkt: p,
      in: '',
      out: r.type === 'local' ? 'lo' : r.dev,
      nextHop: r.type === 'unicast' ? r.nextHop : p.dst,
      ct: attachedCt ?? 'lookup',
      // the tables after nat OUTPUT (filter, security) see the packet only when its new route holds
      rerouteAfterNat: () => reroute('OUTPUT DNAT'),
    });
    if (!out.ok) return atSend(out.arrival);
    if (!rerouted && (p.dst !== before.dst || p.mark !== before.mark)) {
      const failed = reroute('OUTPUT');
      if (failed) return failed;
    }
    const post = this.hook({
      host: hn,
      hook: 'POSTROUTING',
      pkt: p,
      in: '',
      out: r.type === 'local' ? 'lo' : r.dev,
      nextHop: r.type === 'unicast' ? r.nextHop : p.dst,
      ct: out.ct,
    });
    if (!post.ok) return atSend(post.arrival);
    if (r.type === 'local') {
      this.emit({ kind: 'hop', from: `${hn}/lo`, to: `${hn}/lo` });
      const pre = this.hook({ host: hn, hook: 'PREROUTING', pkt: p, in: 'lo', out: '', nextHop: p.dst, ct: post.ct });
      if (!pre.ok) return pre.arrival;
      return this.routeIn(hn, 'lo', p, pre.ct);
    }
    return this.transmit(hn, r.dev, r.nextHop, p, post.ct);
  }

  /**
   * nf_send_reset for a packet that came in through a bridge port with br_netfilter (nf_bridge_info_exists):
   * after ip_route_me_harder, the reset leaves straight out of that port (dev_queue_xmit, the original
   * destination's MAC as its source), past OUTPUT, POSTROUTING and their NAT (net/ipv4/netfilter/nf_reject_ipv4.c).
   */
  resetOutOfPort(hn: string, portName: string, p: Pkt): Arrival {
    const h = this.host(hn);
    const r = lookupRoute(h, p.dst);
    this.emit({ kind: 'route', host: hn, dst: formatIp(p.dst), result: describeRoute(r) });
    const port = h.ifaces.get(portName);
    if (r.type === 'unreachable' || !port?.peer) return { kind: 'no-route', host: hn };
    this.emit({
      kind: 'bridge',
      host: hn,
      bridge: port.master ?? '',
      what: `reset sent straight out of port ${portName} (nf_send_reset of a bridged packet)`,
    });
    // addressed to the MAC the rejected frame came from: the host behind the port takes it
    const peer = this.host(port.peer.host);
    const nextHop = peer.local.has(p.dst) ? p.dst : ([...peer.local.keys()].find((a) => a !== 0x7f000001) ?? p.dst);
    return this.wire(hn, port, nextHop, p);
  }

  /** ip_route_output: a 127/8 source may leave only through a device with route_localnet=1 (spec/semantics.md §3) */
  private loopbackSourceOut(h: Host, r: ReturnType<typeof lookupRoute>, p: Pkt): boolean {
    return r.type === 'unicast' && isLoopback(p.src) && !(h.ifaces.get(r.dev) && confOf(h, r.dev).route_localnet);
  }

  /** `ct`: the packet's connection on `hn` (the host whose neighbour resolution may fail answers with it) */
  private transmit(hn: string, dev: string, nextHop: U32, p: Pkt, ct?: CtRef): Arrival {
    if (++this.hops > MAX_HOPS) return this.drop(hn, 'too many hops (routing loop)');
    const h = this.host(hn);
    const iface = h.ifaces.get(dev)!;
    const port = iface.kind === 'bridge' ? this.portFor(h, dev, nextHop) : undefined;
    const owner = port ? arpEnd(port.peer!, this.host(port.peer!.host)) : this.arpOwner(iface, nextHop);
    const held = this.resolve(hn, dev, nextHop, p, ct, owner);
    if (held) return held;
    if (port) {
      this.emit({ kind: 'bridge', host: hn, bridge: dev, what: `local packet out of port ${port.name}` });
      return this.wire(hn, port, nextHop, p);
    }
    return this.wire(hn, iface, nextHop, p);
  }

  /** Who answers ARP for `addr` sent out of `iface` (a veth): the peer itself, or a host behind the peer's
   *  bridge; and the device arp_process runs on there (a bridge port's frames reach its bridge). */
  private arpOwner(iface: Iface, addr: U32): ArpEnd | undefined {
    const peer = iface.peer;
    if (!peer) return undefined;
    const h = this.host(peer.host);
    if (h.local.has(addr)) return arpEnd(peer, h);
    const master = h.ifaces.get(peer.iface)?.master;
    const behind = master === undefined ? undefined : this.portFor(h, master, addr);
    return behind?.peer ? arpEnd(behind.peer, this.host(behind.peer.host)) : undefined;
  }

  /**
   * The sending host's neighbour entry for `nextHop` on `dev` (neighbour.ts, spec/semantics.md §6.5):
   * undefined when the packet goes on now; else where it ended. A resolution nobody answers (no owner, or an
   * owner that refuses the ARP's sender, such as 127.0.0.1 after a DNAT out of a route_localnet device)
   * holds the packet in the entry's queue until it gives up (neigh_invalidate, 3 s), then answers each
   * queued packet with host-unreachable (arp_error_report); a probe gives up before that, so the packet
   * that starts it is a silent drop. A later packet within it may be sent when a probe carrying an
   * answered sender succeeds, may wait past its probe, or may hear the error: every one is followed.
   */
  private resolve(hn: string, dev: string, nextHop: U32, p: Pkt, ct: CtRef | undefined, owner?: ArpEnd): Held {
    const h = this.host(hn);
    const state = this.world.hosts.get(hn)!;
    const key = neighKey(dev, nextHop);
    const cur = state.neighbours.get(key);
    if (cur?.kind === 'valid') {
      const use = validUse(cur, this.world.now, this.world.probes ?? 0);
      if (use !== 'open') {
        state.neighbours.set(key, use);
        return undefined;
      }
      const rule: UnknownRule = {
        host: hn,
        hook: 'neighbour',
        table: 'arp',
        chain: key,
        rule: 3,
        spec: 'the entry is not FAILED yet (its owner refuses the reconfirmation probes)',
        why: 'the time since the stale entry was first used (delay_first_probe_time 5 s, then 3 probes 1 s apart)',
      };
      if (this.branchOn(rule)) {
        state.neighbours.set(key, { ...cur, staleUse: this.world.probes ?? 0 });
        return undefined;
      }
      // FAILED: this packet starts a new resolution
      state.neighbours.delete(key);
    }
    const sip = arpSender(h, dev, nextHop, p.src);
    const refused = owner
      ? this.arpRefusal(owner, sip, nextHop)
      : `no neighbour answers for ${formatIp(nextHop)} on ${dev}`;
    this.arpHeard(hn, dev, sip, nextHop, owner);
    const plan = neighbourPlan(state, key, this.world.now, refused === undefined);
    const why = refused === undefined ? `ARP from ${formatIp(sip)} answered` : refused;
    const unknown = (rule: number, spec: string, whyUnknown: string): UnknownRule => ({
      host: hn,
      hook: 'neighbour',
      table: 'arp',
      chain: key,
      rule,
      spec,
      why: whyUnknown,
    });
    if (plan.kind === 'maybeValid') {
      const rule = unknown(2, 'an earlier resolution succeeded', 'whether a probe with an answered sender went out');
      const valid = this.branchOn(rule);
      if (valid) return this.arpAnswered(hn, dev, nextHop, owner, sip, refused);
      neighbourPending(state, key, this.world.now, false);
      return this.drop(hn, `${why} (resolution gives up after the probe)`);
    }
    if (plan.kind === 'send') return this.arpAnswered(hn, dev, nextHop, owner, sip, refused);
    if (plan.kind === 'silent') return this.drop(hn, `${why} (resolution gives up after the probe)`);
    if (plan.mayResolve) {
      const rule = unknown(1, 'the resolution succeeds in time', "when the entry's probes went out (retrans_time)");
      const sent = this.branchOn(rule);
      if (sent) {
        neighbourResolved(state, key, {
          reachableAt: this.world.now,
          unconfirmable: this.unconfirmable(hn, dev, nextHop, owner),
        });
        return undefined;
      }
    }
    const rule = unknown(
      0,
      'host-unreachable when resolution gives up (neigh_invalidate)',
      'the time since an earlier packet of the case started resolving this neighbour',
    );
    const hears = this.branchOn(rule);
    // icmp_send never answers an ICMP error
    if (!hears || isIcmpError(p)) return this.drop(hn, `${why} (resolution under way)`);
    this.emit({ kind: 'drop', host: hn, reason: `${why}: ICMP host unreachable` });
    return { kind: 'rejected', host: hn, pkt: { ...p }, with: 'icmp-host-unreachable', ct };
  }

  /** Why the owner of `tip` does not answer an ARP request from `sip`: arp_process answers after
   *  ip_route_input(tip, sip, dev) gives a local route (the martian and reverse-path checks of §3). */
  private arpRefusal(owner: ArpEnd, sip: U32, tip: U32): string | undefined {
    const r = this.host(owner.host);
    const bad = this.arpRouteRefusal(owner, sip, tip) ?? arpIgnored(r, owner.dev, sip, tip);
    return bad && `${owner.host} does not answer ARP for ${formatIp(tip)} from ${formatIp(sip)}: ${bad}`;
  }

  /** arp_process's ip_route_input(tip, sip, dev) at the owner fails: a martian or reverse-path refusal. */
  private arpRouteRefusal(owner: ArpEnd, sip: U32, tip: U32): string | undefined {
    const r = this.host(owner.host);
    const sem = this.lab.semantics;
    return sem.martian(r, owner.dev, sip, tip) ?? sem.reversePath(r, owner.dev, sip);
  }

  /** Every (host, device) a frame broadcast by `hn` on `dev` reaches: a veth's peer, and through a bridge the
   *  bridge's own device and every other port's peer (br_flood), bridges behind bridges included. */
  private broadcastDomain(hn: string, dev: string): ArpEnd[] {
    const out: ArpEnd[] = [];
    const seen = new Set([`${hn} ${dev}`]);
    const portsOf = (host: string, br: string) => [...this.host(host).ifaces.values()].filter((i) => i.master === br);
    const start = this.host(hn).ifaces.get(dev);
    // the ends whose frames go out: a bridge floods through its ports
    const leaving: { host: string; iface: Iface }[] =
      start?.kind === 'bridge'
        ? portsOf(hn, dev).map((iface) => ({ host: hn, iface }))
        : start
          ? [{ host: hn, iface: start }]
          : [];
    while (leaving.length) {
      const { iface } = leaving.shift()!;
      const peer = iface.peer;
      if (!peer) continue;
      const master = this.host(peer.host).ifaces.get(peer.iface)?.master;
      const end: ArpEnd = { host: peer.host, dev: master ?? peer.iface };
      if (seen.has(`${end.host} ${end.dev}`)) continue;
      seen.add(`${end.host} ${end.dev}`);
      out.push(end);
      if (master)
        for (const port of portsOf(peer.host, master))
          if (port.name !== peer.iface) leaving.push({ host: peer.host, iface: port });
    }
    return out;
  }

  /**
   * `hn`'s ARP request for `tip` from `sip`, broadcast on `dev`: arp_process on every other host that hears it
   * updates an entry it already has for `sip` (__neigh_lookup without create; neigh_update to STALE, the request
   * asserting no reachability). An INCOMPLETE or FAILED entry becomes usable, and the packets waiting in an
   * INCOMPLETE one are sent; a valid entry keeps its state (same address). The owner of `tip` reaches that update
   * only when its routing refused the sender; it answers (neigh_event_ns: arpAnswered), or arp_ignore or
   * arp_filter end arp_process first. A 127/8 `tip` is dropped before, without route_localnet (spec §6.5).
   */
  private arpHeard(hn: string, dev: string, sip: U32, tip: U32, owner: ArpEnd | undefined): void {
    if (sip === 0) return;
    for (const r of this.broadcastDomain(hn, dev)) {
      if (owner && r.host === owner.host && r.dev === owner.dev && !this.arpRouteRefusal(owner, sip, tip)) continue;
      if (isLoopback(tip) && !confOf(this.host(r.host), r.dev).route_localnet) continue;
      const state = this.world.hosts.get(r.host)!;
      const key = neighKey(r.dev, sip);
      const e = state.neighbours.get(key);
      if (e?.kind !== 'pending') continue;
      const queued = this.releaseQueue(r.host, key, e.at, `${hn}'s ARP request is heard`)
        ? '; what waited in it may go out now (not followed)'
        : '';
      neighbourResolved(state, key, { unconfirmable: this.unconfirmable(r.host, r.dev, sip, { host: hn, dev }) });
      this.emit({
        kind: 'neigh',
        host: r.host,
        dev: r.dev,
        what: `${hn}'s ARP request from ${formatIp(sip)} makes the entry for ${formatIp(sip)} STALE${queued}`,
      });
    }
  }

  /** An answered resolution: the entry is REACHABLE, and the owner has a STALE one for the sender (neigh_event_ns). */
  private arpAnswered(
    hn: string,
    dev: string,
    nextHop: U32,
    owner: ArpEnd | undefined,
    sip: U32,
    refused: string | undefined,
  ): Held {
    const now = this.world.now;
    const unconfirmable = this.unconfirmable(hn, dev, nextHop, owner);
    neighbourResolved(this.world.hosts.get(hn)!, neighKey(dev, nextHop), { reachableAt: now, unconfirmable });
    if (owner && refused === undefined) {
      const back = this.unconfirmable(owner.host, owner.dev, sip, { host: hn, dev });
      const ownerState = this.world.hosts.get(owner.host)!;
      const ownerKey = neighKey(owner.dev, sip);
      const had = ownerState.neighbours.get(ownerKey);
      if (had?.kind === 'pending') this.releaseQueue(owner.host, ownerKey, had.at, `${hn}'s ARP request is answered`);
      neighbourResolved(ownerState, ownerKey, { unconfirmable: back });
    }
    return undefined;
  }

  /**
   * An unresolved entry of `host` becomes valid by another host's ARP request (heard, or answered:
   * neigh_event_ns). Started less than NEIGH_GIVES_UP_S of world time ago, it may still be INCOMPLETE (the
   * kernel's clock runs at least as fast as the model's), holding the packets of an earlier probe, which
   * neigh_update sends now. The model does not follow them (where they go, what they answer, the state they
   * leave): every result from here on is open (World.unfollowed). True when that may be so.
   */
  private releaseQueue(host: string, key: string, at: number, by: string): boolean {
    if (this.world.now - at >= NEIGH_GIVES_UP_S) return false;
    this.world.unfollowed ??= {
      host,
      hook: 'neighbour',
      table: 'arp',
      chain: key,
      rule: 4,
      spec: `the packets waiting in the entry go out when ${by}`,
      why: 'what the packets an earlier probe left waiting do once they go out (not followed)',
    };
    return true;
  }

  /** Would the owner of `target` refuse `hn`'s unicast reconfirmation probe on `dev`? It asks from
   *  inet_select_addr's address: no packet waits in the queue of a STALE entry (arp_solicit, neigh_probe). */
  private unconfirmable(hn: string, dev: string, target: U32, owner: ArpEnd | undefined): boolean {
    if (!owner) return false;
    return this.arpRefusal(owner, arpSender(this.host(hn), dev, target, 0), target) !== undefined;
  }

  /** The frame crosses a veth pair; conntrack state (untracked too) does not cross namespaces, and neither does the
   *  packet mark: veth's __dev_forward_skb calls skb_scrub_packet(skb, xnet), which zeroes skb->mark
   *  when the peer is in another namespace (spec/semantics.md §1; found by `npm run mutants -- --kernel`). */
  private wire(hn: string, iface: Iface, nextHop: U32, p: Pkt): Arrival {
    const peer = iface.peer!;
    if (peer.host !== hn && this.lab.semantics.scrubsMark) p.mark = 0;
    // skb_scrub_packet's nf_reset_ct, whatever xnet: a NOTRACK (untracked) state stays behind as well, and
    // the next namespace's conntrack tracks the packet afresh (found by the kernel campaign on seed 5001)
    p.notrack = false;
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
    const pre = this.hook({ host: hn, hook: 'PREROUTING', pkt: p, in: ifName, out: '', nextHop: p.dst, ct: 'lookup' });
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
      what:
        `frame in on ${port.name} for` +
        ` ${toSelf ? 'the bridge itself' : outPort ? `port ${outPort.name}` : 'nobody'}`,
    });
    if (!toSelf && !outPort) return this.drop(hn, `no neighbour answers for ${formatIp(nextHop)} on ${br}`);
    const preSite: HookSite = { host: hn, hook: 'PREROUTING', pkt: p, in: br, out: '', nextHop: p.dst, ct: 'lookup' };
    const hop = { host: hn, bridge: br, inPort: port, pkt: p };
    if (!h.sysctls.bridge_nf_call_iptables) {
      if (toSelf) {
        const pre = this.hook(preSite);
        if (!pre.ok) return pre.arrival;
        return this.routeIn(hn, br, p, pre.ct);
      }
      return this.bridgeForward({ ...hop, outPort: outPort!, nextHop, netfilter: null });
    }
    // br_netfilter: the IPv4 PREROUTING hooks see the bridged frame, with -i the bridge (spec §7); the frame
    // keeps its nf_bridge info (the port it came in on) through the IPv4 hooks after (xt_physdev)
    const phys = { in: port.name };
    const dstBefore = p.dst;
    const pre = this.hook({ ...preSite, phys });
    if (!pre.ok) return pre.arrival;
    if (p.dst !== dstBefore) {
      const r = lookupRoute(h, p.dst);
      this.emit({
        kind: 'route',
        host: hn,
        dst: formatIp(p.dst),
        result: `br_netfilter after DNAT: ${describeRoute(r)}`,
      });
      // br_nf_pre_routing_finish: ip_route_input with the bridge as input device. Not local and the
      // bridge not forwarding: ip_route_input_slow's no_route gives an ip_error route on lo (never an
      // error since 251da4130115, so the "bridged DNAT needs no ip_forward" fallback is dead code),
      // the frame goes up the bridge's stack and ip_error drops it without an ICMP error.
      if (r.type !== 'local' && !this.lab.semantics.forwards(h, br)) {
        return this.drop(hn, `${formatIp(p.dst)} after PREROUTING NAT is not local and ${noForwarding(h, br)}`);
      }
      if (r.type === 'unicast' && r.dev === br) {
        const bad = this.lab.semantics.martian(h, br, p.src, p.dst) ?? this.lab.semantics.reversePath(h, br, p.src);
        if (bad) return this.drop(hn, bad);
        const again = this.portFor(h, br, r.nextHop);
        // br_nf_pre_routing_finish_bridge: the frame's new MAC comes from the node's neighbour entry
        const held = this.resolve(
          hn,
          br,
          r.nextHop,
          p,
          pre.ct,
          again?.peer && arpEnd(again.peer, this.host(again.peer.host)),
        );
        if (held) return held;
        if (!again) return this.drop(hn, `no neighbour answers for ${formatIp(r.nextHop)} on ${br}`);
        this.emit({
          kind: 'bridge',
          host: hn,
          bridge: br,
          what: `DNAT target is on the same bridge: frame re-bridged to port ${again.name}`,
        });
        return this.bridgeForward({ ...hop, outPort: again, nextHop: r.nextHop, netfilter: { ct: pre.ct } });
      }
      return this.routeIn(hn, br, p, pre.ct, phys);
    }
    if (toSelf) return this.routeIn(hn, br, p, pre.ct, phys);
    return this.bridgeForward({ ...hop, outPort: outPort!, nextHop, netfilter: { ct: pre.ct } });
  }

  private bridgeForward(b: BridgeHop): Arrival {
    const { host: hn, bridge: br, pkt: p } = b;
    if (b.outPort === b.inPort && !this.lab.semantics.hairpinAllowed(b.inPort)) {
      return this.drop(hn, `bridge ${br} would send the frame back out of ${b.inPort.name}, whose hairpin mode is off`);
    }
    if (!this.lab.semantics.bridges(this.host(hn))) return this.drop(hn, `bridge ${br} does not forward`);
    if (b.netfilter) {
      const nh = b.nextHop;
      let ct = b.netfilter.ct;
      const phys = { in: b.inPort.name, out: b.outPort.name };
      if (this.lab.semantics.bridgedForward) {
        const fwd = this.hook({ host: hn, hook: 'FORWARD', pkt: p, in: br, out: br, nextHop: nh, ct, phys });
        if (!fwd.ok) return fwd.arrival;
        ct = fwd.ct;
      }
      const post = this.hook({ host: hn, hook: 'POSTROUTING', pkt: p, in: '', out: br, nextHop: nh, ct, phys });
      if (!post.ok) return post.arrival;
    }
    if (++this.hops > MAX_HOPS) return this.drop(hn, 'too many hops (bridge loop)');
    return this.wire(hn, b.outPort, b.nextHop, p);
  }

  /** The routing decision for a received packet (PREROUTING already done). */
  private routeIn(hn: string, inIf: string, p: Pkt, ct: CtRef | undefined, phys?: HookSite['phys']): Arrival {
    const h = this.host(hn);
    const sem = this.lab.semantics;
    const bad = sem.martian(h, inIf, p.src, p.dst);
    if (bad) return this.drop(hn, bad);
    const r = this.routeTo(hn, p.dst);
    if (r === 'unknown') return this.exceptionUnknown(hn, p.dst);
    this.emit({ kind: 'route', host: hn, dst: formatIp(p.dst), result: describeRoute(r) });
    const noPath = sem.reversePath(h, inIf, p.src);
    if (noPath) return this.drop(hn, noPath);
    if (r.type === 'local') {
      const input = this.hook({ host: hn, hook: 'INPUT', pkt: p, in: inIf, out: '', nextHop: p.dst, ct, phys });
      if (!input.ok) return input.arrival;
      this.emit({ kind: 'deliver', host: hn, what: formatPkt(p) });
      return { kind: 'local', host: hn, pkt: p, ct: input.ct };
    }
    if (!sem.forwards(h, inIf)) return this.drop(hn, `${formatIp(p.dst)} is not local and ${noForwarding(h, inIf)}`);
    if (r.type === 'unreachable') {
      if (!this.routeErrorSent(hn, p.src))
        return this.drop(hn, `no route to ${formatIp(p.dst)}: ip_error's bucket for ${formatIp(p.src)} is empty`);
      this.emit({ kind: 'drop', host: hn, reason: `no route to ${formatIp(p.dst)}: ICMP net unreachable` });
      return { kind: 'rejected', host: hn, pkt: { ...p }, with: 'icmp-net-unreachable', ct };
    }
    const nh = r.nextHop;
    // ip_forward (net/ipv4/ip_forward.c): `ip_hdr(skb)->ttl <= 1` goes to too_many_hops, icmp_send(ICMP_TIME_EXCEEDED,
    // ICMP_EXC_TTL) before the redirect and the FORWARD hook: a routing loop ends here (spec/semantics.md §6.4)
    if (p.ttl <= 1) {
      this.emit({ kind: 'drop', host: hn, reason: `TTL ${p.ttl} would expire in transit: ICMP time exceeded` });
      return { kind: 'rejected', host: hn, pkt: { ...p }, with: TIME_EXCEEDED, ct };
    }
    if (asksForRedirect(h, inIf, r.dev, p.src)) {
      redirectMet(this.world.hosts.get(hn)!, p.src, this.world.now);
      const taken = this.sendRedirect(hn, p, r.nextHop, ct);
      if (taken) return taken;
    }
    // ip_forward takes one off the TTL before the FORWARD hook (a bridged frame keeps its own)
    p.ttl--;
    const fwd = this.hook({ host: hn, hook: 'FORWARD', pkt: p, in: inIf, out: r.dev, nextHop: nh, ct, phys });
    if (!fwd.ok) return fwd.arrival;
    const post = this.hook({
      host: hn,
      hook: 'POSTROUTING',
      pkt: p,
      in: '',
      indev: inIf,
      out: r.dev,
      nextHop: nh,
      ct: fwd.ct,
      phys,
    });
    if (!post.ok) return post.arrival;
    return this.transmit(hn, r.dev, r.nextHop, p, post.ct);
  }

  /** The route to `dst` from `hn`, through a nexthop exception a taken redirect made (fib_lookup, then
   *  find_exception/rt_bind_exception: the exception's gateway replaces the route's); 'unknown' where it is open. */
  private routeTo(hn: string, dst: U32): RouteResult | 'unknown' {
    const r = lookupRoute(this.host(hn), dst);
    const x = this.world.hosts.get(hn)!.exceptions.get(dst);
    if (x === undefined || r.type !== 'unicast') return r;
    if (x === 'unknown') return 'unknown';
    return { type: 'unicast', dev: r.dev, nextHop: x, via: x };
  }

  private exceptionUnknown(hn: string, dst: U32): Arrival {
    const rule: UnknownRule = {
      host: hn,
      hook: 'routing',
      table: 'ip_do_redirect',
      chain: `to ${formatIp(dst)}`,
      rule: 0,
      spec: 'a nexthop exception from an ICMP redirect',
      why: 'whether a redirect this host got made one (its neighbour entry for the new gateway was not valid)',
    };
    this.emit({ kind: 'unknown', branch: 'fate unknown', ...rule });
    return { kind: 'unknown', host: hn, rule };
  }

  /**
   * ip_rt_send_redirect: icmp_send(ICMP_REDIRECT, ICMP_REDIR_HOST, the route's next hop) for `p`, counted per
   * source (route-errors.ts). The redirect is the node's own packet, attached to `p`'s connection (RELATED, other
   * direction): it passes OUTPUT and POSTROUTING like any ICMP error (its rules, their counters), and the nat
   * hook drops it when that connection is NATed or its NAT not yet done (nf_nat_icmp_reply_translation: "Redirects
   * on non-null nats must be dropped"). A redirect that reaches a host which may take it (accept_redirects, from
   * its gateway for that destination, to another on-link gateway: __ip_do_redirect) makes a nexthop exception
   * there (routeTo) when its neighbour entry for the new gateway is valid and a socket takes the redirect; where
   * that is open, the host's later packets to that destination have an unknown fate. Returns an unknown arrival
   * when the redirect's own journey met one, else undefined (the packet goes on).
   */
  private sendRedirect(hn: string, p: Pkt, gw: U32, ct: CtRef | undefined): Arrival | undefined {
    const state = this.world.hosts.get(hn)!;
    // icmp_send never answers an ICMP error
    if (isIcmpError(p)) return undefined;
    let sent = redirectVerdict(state, p.src, this.world.now) === 'sent';
    if (!sent) {
      sent = this.branchOn({
        host: hn,
        hook: 'routing',
        table: 'ip_rt_send_redirect',
        chain: `peer ${formatIp(p.src)}`,
        rule: 0,
        spec: 'ICMP redirect rate limit (net/ipv4/route.c ip_rt_send_redirect)',
        why: 'the time since the last redirect to this source (redirect_load << n, redirect_silence)',
      });
    }
    redirectCounted(state, p.src, this.world.now, sent);
    if (!sent) return undefined;
    const answer = this.lab.semantics.answerFor(this.host(hn), p, REDIRECT, ct);
    answer.pkt.sock = { host: hn, kind: 'kernel' };
    this.emit({ kind: 'route', host: hn, dst: formatIp(p.dst), result: `ICMP redirect to ${formatIp(p.src)}` });
    const a = this.localOut(hn, answer.pkt, answer.ct);
    if (a.kind === 'unknown') return a;
    if (a.kind !== 'local' || !a.pkt.embedded) return undefined;
    const rh = this.host(a.host);
    const q = a.pkt.embedded;
    const old = lookupRoute(rh, q.dst);
    // __ip_do_redirect: from the route's gateway (the redirect's source), to another gateway that is unicast
    // (inet_addr_type, shared_media on by default), on a device whose IN_DEV_RX_REDIRECTS allows it
    const mayTake =
      rh.sysctls.accept_redirects &&
      old.type === 'unicast' &&
      old.via === a.pkt.src &&
      gw !== old.via &&
      addrType(rh, gw, undefined) === 'UNICAST';
    if (!mayTake) return undefined;
    // the exception is made when the new gateway's neighbour entry is valid (else neigh_event_send only starts
    // resolving it, and a later redirect may make it), and only through a socket of the quoted packet
    // (tcp_v4_err, __udp4_lib_err, ping_err, raw_err: ipv4_sk_redirect); a packet of the host's stack has none
    const valid = this.world.hosts.get(a.host)!.neighbours.get(neighKey(old.dev, gw))?.kind === 'valid';
    const made = valid && p.sock?.kind === 'process' && p.sock.host === a.host ? gw : 'unknown';
    this.world.hosts.get(a.host)!.exceptions.set(q.dst, made);
    this.emit({
      kind: 'route',
      host: a.host,
      dst: formatIp(q.dst),
      result:
        made === 'unknown' ? 'redirect taken: a nexthop exception may follow' : `redirect taken: via ${formatIp(gw)}`,
    });
    return undefined;
  }

  /** Does ip_error send its ICMP error to `src` (route-errors.ts)? Its bucket spends a token either way; where
   *  only the time since the source's earlier errors could tell, both answers are followed (spec §6.4). */
  private routeErrorSent(hn: string, src: U32): boolean {
    const state = this.world.hosts.get(hn)!;
    let sent = routeErrorVerdict(state, src, this.world.now) === 'sent';
    if (!sent) {
      const rule: UnknownRule = {
        host: hn,
        hook: 'routing',
        table: 'ip_error',
        chain: `peer ${formatIp(src)}`,
        rule: 0,
        spec: 'ICMP error token bucket (net/ipv4/route.c ip_error)',
        why:
          `more than ${ROUTE_ERROR_BURST_MS / ROUTE_ERROR_COST_MS} routing errors to one source` +
          ' without a known wait',
      };
      sent = this.branchOn(rule);
    }
    spendRouteError(state, src, this.world.now, sent);
    return sent;
  }

  /** The ICMP error or TCP reset a REJECT (or a missing route) sends back (spec §6.3, answers.ts). */
  errorFor(a: Extract<Arrival, { kind: 'rejected' }>): { pkt: Pkt; ct: CtRef | undefined } {
    const e = a.ct?.entry;
    // nf_send_reset: nf_ct_set_closing(skb_nfct(oldskb)), the rejected packet's (confirmed) TCP connection
    // goes to CLOSE (nf_conntrack_tcp_set_closing); an ICMP error leaves its state alone
    if (a.with === 'tcp-reset' && e?.confirmed && e.orig.proto === 6 && !e.closed) {
      e.closed = e.reset = true;
      e.expires = this.world.now + 10;
      this.note(a.host, e);
      this.emit({ kind: 'ct', host: a.host, what: `REJECT with a reset: connection #${e.id} set closing (CLOSE)` });
    }
    return this.lab.semantics.answerFor(this.host(a.host), a.pkt, a.with, a.ct);
  }
}

/** One host as conntrack and NAT see it during one journey (semantics.ts: HostCtx). */
class JourneyHost implements HostCtx {
  readonly host: Host;
  readonly state: HostState;
  readonly now: number;
  readonly sem: Semantics;
  constructor(
    private readonly run: PathRun,
    readonly name: string,
  ) {
    this.host = run.lab.net.hosts.get(name)!;
    this.state = run.world.hosts.get(name)!;
    this.now = run.world.now;
    this.sem = run.lab.semantics;
  }
  choose(p: number, label: string): boolean {
    return this.run.choose(p, label);
  }
  emit(e: TraceEvent): void {
    this.run.trace.push(e);
  }
  note(e: CtEntry): void {
    this.run.note(this.name, e);
  }
}

/** The source address a local socket gets when it does not bind one (the route's preferred source). */
export function sourceFor(h: Host, dst: U32): U32 | undefined {
  const r = lookupRoute(h, dst);
  if (r.type === 'unreachable') return undefined;
  if (r.type === 'local') return isLoopback(dst) ? 0x7f000001 : dst;
  return selectSource(h, r.dev, r.nextHop);
}

/**
 * Does ip_forward ask for an ICMP redirect (ip_rt_send_redirect)? __mkroute_input sets IPSKB_DOREDIRECT for a
 * packet routed back out the device it came in on when send_redirects is on (conf.all || conf.DEV: the lab sets
 * both alike) and fib_validate_source found its source directly connected there (shared_media, on by default,
 * skips the on-link test). The redirect is sent (PathRun.sendRedirect) and marks ip_error's bucket.
 */
function asksForRedirect(h: Host, inIf: string, outIf: string, src: U32): boolean {
  if (inIf !== outIf || !h.sysctls.send_redirects) return false;
  const back = lookupRoute(h, src);
  return back.type === 'unicast' && back.via === undefined && back.dev === inIf;
}

/** Why `ifName` does not forward: the host's ip_forward, or the interface's own setting. */
function noForwarding(h: Host, ifName: string): string {
  return h.sysctls.ip_forward ? `${ifName} does not forward (conf.${ifName}.forwarding=0)` : 'ip_forward=0';
}

export function describeRoute(r: RouteResult): string {
  if (r.type === 'local') return `local (${r.dev})`;
  if (r.type === 'unreachable') return 'no route';
  return r.via !== undefined ? `via ${formatIp(r.via)} dev ${r.dev}` : `dev ${r.dev} (directly connected)`;
}

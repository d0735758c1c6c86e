// A topology built for real in network namespaces: veths, bridges, addresses,
// routes, sysctls, one agent per namespace with the standard servers.
// Rulesets are applied with iptables-restore; probes run through the agents.
import {
  compileTopology,
  ifaceConf,
  type TopologySpec,
  type RouteSpec,
  type Network,
  type IptablesFlavor,
  type Observation,
  type Probe,
  type ConntrackRecord,
  type TableName,
} from '../model/index.ts';
import { TABLE_HOOKS, nfacctNames, formatIp, ipsetRestoreText } from '../model/index.ts';
import { formatCidr, parseCidr, parseIp } from '../model/index.ts';
import { LabCommandError, batchLine, checkArgs } from './ip.ts';
import { NetnsSite, type LabSite, type LabRuntime } from './site.ts';
import { DockerSite } from './docker-site.ts';
import { nsName, newRunId } from './names.ts';
import { registerLab, unregisterLab, reapStale } from './cleanup.ts';
import { AgentClient, type AgentProbeResult, type RunResult } from './agent-client.ts';
import { parseConntrack } from './conntrack-parse.ts';
import { flowEntries, type WireEntry, type WireTuple } from './conntrack-flow.ts';
import { countersOf, movedRules, type RuleCount } from './counters.ts';
import { NFTRACE_RULESET, parseTrace, flowSegments, type TraceSegment } from './nftrace.ts';
import type { PhaseTimes, Phase, BuildCause } from './profile.ts';

/** Long enough for any round trip between namespaces on a loaded 2-core machine
 *  (well under 1 ms normally), shorter than TCP's first SYN retransmission (1 s),
 *  so that a "dropped" verdict always rests on exactly one SYN. */
export const DEFAULT_PROBE_TIMEOUT_MS = 250;

/** A probe that heard nothing within its timeout waits this much longer before it counts as dropped: under
 *  load an answer can come late, and a late answer is not a drop (spec/observation.md "Confirming a
 *  timeout"). A TCP SYN's confirmation ends 0.9 s after it was sent, before its first retransmission. */
export const DEFAULT_CONFIRM_MS = 500;

/** Flush rounds of a reset's settling before the lab is given up (each round but the last found an entry) */
const SETTLE_ROUNDS = 4;
/** net.ipv4.route.error_cost: the time ip_error's bucket takes to earn one routing error back (HZ) */
const ROUTE_ERROR_COST_MS = 1000;

export interface LabOptions {
  timeoutMs?: number;
  /** the confirmation wait of a timeout (default DEFAULT_CONFIRM_MS; 0: none) */
  confirmMs?: number;
  /** where the namespaces live: on this machine (default) or inside a Docker container */
  runtime?: LabRuntime;
  /** made by `nfconform lab up` (its run id says so): `lab down` may take it down */
  handMade?: boolean;
  /** where the lab's time goes (`fuzz --profile`); shared by the labs of one campaign */
  profile?: PhaseTimes;
}

/** conntrack -D filters, as in a case file (spec/case-file.md) */
export interface ConntrackArgs {
  proto?: 'tcp' | 'udp' | 'icmp';
  origSrc?: string;
  origDst?: string;
  origSport?: number;
  origDport?: number;
  replySrc?: string;
  replyDst?: string;
  replySport?: number;
  replyDport?: number;
}

const CONNTRACK_OPTION: Record<keyof ConntrackArgs, string> = {
  proto: '--proto',
  origSrc: '--orig-src',
  origDst: '--orig-dst',
  origSport: '--orig-port-src',
  origDport: '--orig-port-dst',
  replySrc: '--reply-src',
  replyDst: '--reply-dst',
  replySport: '--reply-port-src',
  replyDport: '--reply-port-dst',
};

/** conntrack's options for the filters; the protocol first (the port options need it) */
export function conntrackFilterArgs(m: ConntrackArgs): string[] {
  const keys = (Object.keys(CONNTRACK_OPTION) as (keyof ConntrackArgs)[]).filter((k) => m[k] !== undefined);
  return keys.flatMap((k) => [CONNTRACK_OPTION[k], String(m[k])]);
}

export interface ApplyResult {
  ok: boolean;
  code: number;
  stderr: string;
}

export interface KernelProbeOptions {
  /** read iptables-save -c before and after (two spawns per host with rules) to find the rules hit */
  counters?: boolean;
  /** read the probe's own conntrack entries after it (default true): looked up by tuple, so a probe costs
   *  the same however many entries the lab holds (the whole table: `conntrack()`) */
  conntrack?: boolean;
  /** read the kernel's rule trace of the hosts traced with `enableNftrace` (nftrace.ts) */
  nftrace?: boolean;
}

export interface KernelObservation extends Observation {
  /** rules whose packet counters moved, per host (with `counters`) */
  rulesHit?: RuleCount[];
  /** the kernel's nft rule trace, per traced host (with `nftrace`) */
  nftrace?: Record<string, TraceSegment[]>;
  note?: string;
}

const restoreCmd = (b: IptablesFlavor) => (b === 'nft' ? 'iptables-nft-restore' : 'iptables-legacy-restore');
const saveCmd = (b: IptablesFlavor) => (b === 'nft' ? 'iptables-nft-save' : 'iptables-legacy-save');

/** A veth pair's key, the same from either end: its two ends as host/interface, sorted. */
function pairKey(host: string, i: { name: string; peer?: { host: string; iface: string } }): string {
  return [`${host}/${i.name}`, `${i.peer!.host}/${i.peer!.iface}`].sort().join('|');
}

/** `route add|del|replace DST [via GW] [dev DEV]` for ip -batch, from a topology route. */
function routeLine(op: 'add' | 'del' | 'replace', r: RouteSpec): string {
  const dst = r.dst === 'default' ? 'default' : formatCidr(parseCidr(r.dst)!);
  const via = r.via === undefined ? [] : ['via', formatIp(parseIp(r.via)!)];
  return batchLine('route', op, dst, ...via, ...(r.dev ? ['dev', r.dev] : []));
}

export class KernelLab {
  readonly ns = new Map<string, string>();
  readonly agents = new Map<string, AgentClient>();
  /** host -> backend -> tables restored with it (both backends may hold rules at once) */
  private readonly applied = new Map<string, Map<IptablesFlavor, TableName[]>>();
  /** hosts whose packets carry the nftrace bit (enableNftrace) */
  private readonly traced = new Set<string>();
  readonly timeoutMs: number;
  confirmMs: number;
  /** where the lab's time goes (LabOptions.profile) */
  readonly profile: PhaseTimes | undefined;
  private down_ = false;
  net: Network;
  /**
   * The lab cannot be reset to a fresh state and must be rebuilt: after a reset, conntrack is still hooked in
   * one of its namespaces (a fresh one has it unhooked until a rule needs it: spec §4.1). A refused
   * iptables-nft-restore was once measured to leave such a reference behind, so it taints the lab until a
   * reset has looked: reset() reads every namespace and clears this only when none has conntrack hooked.
   */
  tainted = false;
  /** why the last reset left the lab tainted (PhaseTimes.built) */
  taintCause: Extract<BuildCause, 'conntrack-hooked' | 'redirects' | 'unsettled'> | undefined;
  /**
   * The hosts whose namespace holds an iptables-legacy table, as read by the last reset (a built lab: none). A host
   * outside it is as new for a case that mixes backends on it, whose hook order depends on which tables
   * registered first (spec/semantics.md §2.3); a registered legacy table stays registered.
   */
  readonly legacyHosts = new Set<string>();
  /** hosts where rules were applied (or tried) since the last reset */
  private readonly dirty = new Set<string>();
  /** a TCP probe since the last reset got no answer: a listener may still hold its request and resend the SYN-ACK
   *  (up to 63 s: spec/semantics.md §8.1), into the next case's rules; reset() drops such requests */
  private requestsLeft = false;
  /** each host's forwarded packets that met no route, when last reset (IpExt InNoRoutes) */
  private readonly noRoutes = new Map<string, number>();
  /** each host's ICMP redirects sent (Icmp OutRedirects), when last reset */
  private readonly redirects = new Map<string, number>();
  /**
   * What this lab last wrote to each host's sysctls (path joined by "/"), so that a reconfigure writes only what
   * differs: each write looks its path up in /proc/sys, whose per-namespace entries share one dentry chain, so a
   * write costs more the more namespaces the machine has (proc_sys_compare; measured: ~5% of a 64-lab campaign's
   * CPU). Only the lab writes them, but for ip_forward: a write that changes it sets every interface's forwarding
   * (inet_forward_change). Forgotten for a host whose namespace or interfaces are new (renewHosts).
   */
  private readonly sysctlsWritten = new Map<string, Map<string, number>>();

  private constructor(
    public spec: TopologySpec,
    opts: LabOptions,
    readonly site: LabSite,
    readonly runId: string,
  ) {
    this.net = compileTopology(spec);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.confirmMs = opts.confirmMs ?? DEFAULT_CONFIRM_MS;
    this.profile = opts.profile;
    for (const h of spec.hosts) this.ns.set(h.name, nsName(process.pid, this.runId, h.name));
  }

  static async up(spec: TopologySpec, opts: LabOptions = {}): Promise<KernelLab> {
    compileTopology(spec); // a bad topology is refused before anything is made
    const t0 = performance.now();
    const runId = newRunId(opts.handMade);
    let site: LabSite;
    if (opts.runtime === 'docker') site = await DockerSite.open(runId);
    else {
      await reapStale();
      site = new NetnsSite();
    }
    const lab = new KernelLab(spec, opts, site, runId);
    registerLab(lab.runId, () => site.destroySync([...lab.ns.values()]));
    try {
      await lab.build();
    } catch (e) {
      await lab.down();
      throw e;
    } finally {
      opts.profile?.add('build', performance.now() - t0);
    }
    return lab;
  }

  private async build(): Promise<void> {
    const spec = this.spec;
    const ns = (host: string) => this.ns.get(host)!;
    await this.site.addNamespaces(spec.hosts.map((h) => ns(h.name)));
    // the agents start now, and make their hosts' links: no process forked from this one per host
    for (const h of spec.hosts) this.agents.set(h.name, new AgentClient(this.site, this.ns.get(h.name)!, h.name));
    const made = new Set<string>();
    await Promise.all(spec.hosts.map((h) => this.hostBatch(h.name, this.linkLines(h.name, made))));
    await Promise.all(spec.hosts.map((h) => this.hostBatch(h.name, this.setUpLines(h.name))));
    await Promise.all([...this.agents.values()].map((a) => a.ready));
    // no case before every link carries packets (linksActive). Agent starts (~45 ms of CPU each) hid this wait; with
    // agents forked in ~2 ms, 3 of 4 campaigns on 64 labs saw a fresh lab's first probes dropped (a link linkwatch
    // had not handled yet, on a busy machine); 0 of 7 with it
    await this.linksActive(spec.hosts.map((h) => [h.name, this.carrying(h.name)] as const));
    await Promise.all(spec.hosts.map((h) => this.configure(h.name)));
  }

  /** A host's interfaces that come up once set up: each veth end, and each bridge with a port (a bridge without
   *  one has no carrier) */
  private carrying(host: string): Set<string> {
    const ifaces = this.specOf(host).ifaces;
    return new Set(ifaces.filter((i) => !i.bridge || ifaces.some((p) => p.master === i.name)).map((i) => i.name));
  }

  /**
   * A host's links: its bridges, and each veth pair made once (`made`: pair keys), from its first end, straight
   * into the peer namespace. Every line from checked names (model/net/names.ts) and parsed, re-formatted
   * addresses; batchLine refuses anything else, so no input can add a command to a batch. `name`/`dev` keywords:
   * a name such as "help" or "type" stays a name.
   */
  private linkLines(host: string, made: Set<string>): string[] {
    const lines = [batchLine('link', 'set', 'dev', 'lo', 'up')];
    for (const i of this.specOf(host).ifaces) {
      // no multicast snooping: with it, a bridge joins 224.0.0.106 when it comes up, and the kernel sends two
      // unsolicited IGMPv3 reports, the second at a random time within 1 s (igmp_ifc_event): a local packet
      // through OUTPUT (a nat OUTPUT DNAT makes it a unicast that broadcasts an ARP request, which completes
      // a pod's unanswered resolution of the node) racing a fresh lab's first case (measured, issue 14).
      // Unicast and broadcast are bridged alike either way; no probe sends multicast (README "The lab").
      if (i.bridge) lines.push(batchLine('link', 'add', 'name', i.name, 'type', 'bridge', 'mcast_snooping', '0'));
      else if (i.peer && !made.has(pairKey(host, i))) {
        made.add(pairKey(host, i));
        const peer = this.ns.get(i.peer.host)!;
        lines.push(
          batchLine('link', 'add', 'name', i.name, 'type', 'veth', 'peer', 'name', i.peer.iface, 'netns', peer),
        );
      }
    }
    return lines;
  }

  /**
   * A host's interfaces set up (bridge master and hairpin, addresses, up) and its routes: the spec's (not the
   * compiled ones: a route without "dev" leaves the choice to the kernel). `only`: those interfaces, and the routes
   * with `replace` (a neighbour whose end of a renewed link is new: the kernel removed the routes through the old).
   */
  private setUpLines(host: string, only?: ReadonlySet<string>): string[] {
    const h = this.specOf(host);
    const ifaces = h.ifaces.filter((i) => !only || only.has(i.name));
    const lines: string[] = [];
    for (const i of ifaces) {
      if (i.master)
        lines.push(
          batchLine('link', 'set', 'dev', i.name, 'master', i.master),
          batchLine('link', 'set', 'dev', i.name, 'type', 'bridge_slave', 'hairpin', i.hairpin ? 'on' : 'off'),
        );
      for (const a of this.net.hosts.get(host)!.ifaces.get(i.name)!.addrs)
        lines.push(batchLine('addr', 'add', `${formatIp(a.ip)}/${a.len}`, 'dev', i.name));
    }
    for (const i of ifaces) lines.push(batchLine('link', 'set', 'dev', i.name, 'up'));
    for (const r of h.routes ?? []) lines.push(routeLine(only ? 'replace' : 'add', r));
    return lines;
  }

  private specOf(host: string): TopologySpec['hosts'][number] {
    const h = this.spec.hosts.find((x) => x.name === host);
    if (!h) throw new Error(`no host "${host}" in lab ${this.spec.name}`);
    return h;
  }

  /**
   * New namespaces for `hosts`, the rest of the lab kept (issue 14 §4: no rebuild unless a case needs one): for a
   * host holding state no reset undoes (a registered iptables-legacy table: legacyHosts). Its veth pairs are
   * deleted first (both ends at once, so no old end lingers while the namespace is freed), then made again, and
   * each neighbour's new end set up as at build: master and hairpin, addresses, up, its interface sysctls, and its
   * routes. Call it on a reset lab only.
   */
  async renewHosts(hosts: readonly string[]): Promise<void> {
    const t0 = performance.now();
    const ns = (host: string) => this.ns.get(host)!;
    await Promise.all(hosts.map((h) => this.agent(h).close()));
    for (const h of hosts) this.agents.delete(h);
    // each veth pair with an end in a renewed host, deleted once; and the neighbours' ends that come back
    const pairs = new Map<string, { host: string; iface: string }>();
    const ends = new Map<string, Set<string>>();
    for (const h of hosts)
      for (const i of this.specOf(h).ifaces)
        if (i.peer && !pairs.has(pairKey(h, i))) {
          pairs.set(pairKey(h, i), { host: h, iface: i.name });
          if (!hosts.includes(i.peer.host))
            ends.set(i.peer.host, (ends.get(i.peer.host) ?? new Set()).add(i.peer.iface));
        }
    await Promise.all(
      hosts.map((h) =>
        this.ipBatch(
          [...pairs.values()].filter((p) => p.host === h).map((p) => batchLine('link', 'del', 'dev', p.iface)),
          ns(h),
        ),
      ),
    );
    await this.ipBatch(hosts.map((h) => batchLine('netns', 'del', ns(h))));
    await this.site.addNamespaces(hosts.map((h) => ns(h)));
    for (const h of hosts) this.agents.set(h, new AgentClient(this.site, ns(h), h));
    for (const h of [...hosts, ...ends.keys()]) this.sysctlsWritten.delete(h);
    const made = new Set<string>();
    await Promise.all(hosts.map((h) => this.hostBatch(h, this.linkLines(h, made))));
    await Promise.all([
      ...hosts.map((h) => this.hostBatch(h, this.setUpLines(h))),
      ...[...ends].map(([h, only]) => this.hostBatch(h, this.setUpLines(h, only))),
    ]);
    await this.linksActive([...hosts.map((h) => [h, this.carrying(h)] as const), ...ends]);
    await Promise.all(hosts.map((h) => this.agent(h).ready));
    await Promise.all([
      ...hosts.map((h) => this.configure(h)),
      ...[...ends.keys()].map((h) => this.configureSysctls(h)),
    ]);
    for (const h of hosts) {
      this.legacyHosts.delete(h);
      this.noRoutes.delete(h);
      this.redirects.delete(h);
    }
    this.profile?.add('renew', performance.now() - t0, hosts.length);
  }

  /**
   * Waits until the links set up again carry packets: a device whose carrier came on transmits through the noop
   * qdisc (it drops everything), and a bridge port stays disabled, until linkwatch handles the event
   * (linkwatch_do_dev: operstate, dev_activate, NETDEV_CHANGE), up to a second later (linkwatch_schedule_work's
   * HZ between runs; measured: a renewed host's first pings were lost). `ip link` shows "state UP" from then on.
   */
  private async linksActive(links: Iterable<readonly [string, ReadonlySet<string>]>): Promise<void> {
    const deadline = performance.now() + 5000;
    for (const [host, names] of links)
      for (;;) {
        // the agent reads /sys/class/net/IF/operstate: no `ip link` process per poll (issue 14 §4)
        const idle = await this.agent(host).request<string[]>('links-up', { names: [...names] });
        if (!idle.length) break;
        if (performance.now() > deadline) throw new Error(`links of ${host} not up within 5 s: ${idle.join('; ')}`);
        await new Promise((res) => setTimeout(res, 20));
      }
  }

  /** `ip -batch -` run by a host's agent inside its namespace: a fork of a small process, not of this one */
  private async hostBatch(host: string, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const argv = ['ip', '-batch', '-'];
    const r = await this.agent(host).run(argv, lines.join('\n') + '\n');
    if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
  }

  /** `ip [-n NS] -batch -` with one command per line: one process for many links and addresses */
  private async ipBatch(lines: readonly string[], ns?: string): Promise<void> {
    if (lines.length === 0) return;
    const argv = ['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'];
    checkArgs(argv);
    const r = await this.site.run(argv, lines.join('\n') + '\n');
    if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
  }

  /** The host's ipsets (spec/modules.md), with `ipset restore` from the parsed values, before any rule names them. */
  private async loadIpsets(hostName: string): Promise<void> {
    const text = ipsetRestoreText(this.net.hosts.get(hostName)!.ipsets);
    if (!text) return;
    const argv = ['ipset', 'restore'];
    const r = await this.agents.get(hostName)!.run(argv, text);
    if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
  }

  private async configure(hostName: string): Promise<void> {
    await this.configureSysctls(hostName);
    await this.loadIpsets(hostName);
    const h = this.net.hosts.get(hostName)!;
    const a = this.agents.get(hostName)!;
    const addrs = ['127.0.0.1', ...[...h.local.keys()].filter((x) => x !== 0x7f000001).map(formatIp)];
    await a.request('serve', {
      tcp: h.servers.filter((x) => x.proto === 'tcp').map((x) => x.port),
      udp: h.servers.filter((x) => x.proto === 'udp').map((x) => x.port),
      addrs,
    });
  }

  private async configureSysctls(hostName: string): Promise<void> {
    const h = this.net.hosts.get(hostName)!;
    const s = h.sysctls;
    const ifaces = ['all', 'default', ...h.ifaces.keys()];
    // every write in one request, applied in this order by the agent (one message, not one per key)
    const writes: { path: readonly string[]; value: number; optional?: true }[] = [];
    // a path under /proc/sys as segments, not a dotted key: an interface name may hold dots (eth0.100)
    const set = (key: string | readonly string[], value: number | boolean) =>
      writes.push({ path: typeof key === 'string' ? key.split('.') : key, value: Number(value) });
    // ip_forward first: a write that changes it sets every interface's conf.forwarding (inet_forward_change),
    // one that does not change it sets none; so each interface's forwarding is written after it, always
    set('net.ipv4.ip_forward', s.ip_forward);
    set('net.bridge.bridge-nf-call-iptables', s.bridge_nf_call_iptables);
    // no ICMP rate limiting: a lab is reused for many cases, and probes must not depend on each other
    // (measured: after a few port-unreachable errors to one peer, the next ones were suppressed)
    // no TIME_WAIT sockets: a lab is reused across cases, and a MASQUERADE --random-fully port may pick the
    // 4-tuple of an earlier case's closed connection, whose TIME_WAIT on the server then answers the new SYN
    // (measured: an extra CLOSE entry on the next node, now and then, in long runs)
    set('net.ipv4.tcp_max_tw_buckets', 0);
    // icmp_ratemask 0: no ICMP error goes through icmpv4_xrlim_allow, whose inet_peer token bucket is the one
    // ip_error() spends for routing errors: with icmp_ratelimit=0 alone, every error emptied it, and a routing
    // error within a second of any ICMP error to the same peer was suppressed (issue 14 §2)
    set('net.ipv4.icmp_ratemask', 0);
    set('net.ipv4.icmp_ratelimit', 0);
    set('net.ipv4.icmp_msgs_per_sec', 1_000_000);
    set('net.ipv4.icmp_msgs_burst', 1_000_000);
    for (const i of ifaces) {
      // an interface's own settings (topology.ts IfaceSysctls); conf.all keeps the host's (rp_filter: 0)
      const own = h.ifaces.get(i)?.conf ?? ifaceConf(s, undefined);
      const mine = this.spec.hosts.find((x) => x.name === hostName)?.ifaces.find((x) => x.name === i)?.sysctls;
      if (i !== 'all' && i !== 'default') set(['net', 'ipv4', 'conf', i, 'forwarding'], own.forwarding);
      set(['net', 'ipv4', 'conf', i, 'rp_filter'], i === 'all' ? 0 : own.rp_filter);
      set(['net', 'ipv4', 'conf', i, 'accept_local'], mine?.accept_local ?? s.accept_local);
      set(['net', 'ipv4', 'conf', i, 'route_localnet'], mine?.route_localnet ?? s.route_localnet);
      set(['net', 'ipv4', 'conf', i, 'send_redirects'], s.send_redirects);
      set(['net', 'ipv4', 'conf', i, 'accept_redirects'], s.accept_redirects);
      // the ARP sysctls are max(all, IF) (arp_ignore, arp_announce) or all || IF (arp_filter): the host's go to
      // all and default, an interface's own (else the host's) to the interface (topology.ts IfaceSysctls)
      set(['net', 'ipv4', 'conf', i, 'arp_ignore'], mine?.arp_ignore ?? s.arp_ignore);
      set(['net', 'ipv4', 'conf', i, 'arp_announce'], mine?.arp_announce ?? s.arp_announce);
      set(['net', 'ipv4', 'conf', i, 'arp_filter'], mine?.arp_filter ?? s.arp_filter);
    }
    // IPv6 may be absent: these two may fail
    for (const k of ['all', 'default'])
      writes.push({ path: ['net', 'ipv6', 'conf', k, 'disable_ipv6'], value: 1, optional: true });
    const had = this.sysctlsWritten.get(hostName) ?? new Map<string, number>();
    const key = (w: (typeof writes)[number]) => w.path.join('/');
    const forwardChanged = had.get('net/ipv4/ip_forward') !== Number(s.ip_forward);
    const todo = writes.filter(
      (w) => had.get(key(w)) !== w.value || (forwardChanged && w.path.at(-1) === 'forwarding'),
    );
    this.sysctlsWritten.delete(hostName); // unknown until the writes are done
    if (todo.length) await this.agents.get(hostName)!.request('sysctls', { writes: todo });
    for (const w of writes) had.set(key(w), w.value);
    this.sysctlsWritten.set(hostName, had);
  }

  /** Same hosts and links, other settings (sysctls, hairpin, backends): changed in place, not rebuilt. */
  async reconfigure(spec: TopologySpec): Promise<void> {
    return this.timed('reconfigure', () => this.reconfigureNow(spec));
  }

  private async reconfigureNow(spec: TopologySpec): Promise<void> {
    const old = this.spec;
    const shape = (t: TopologySpec) =>
      JSON.stringify(t.hosts.map((h) => [h.name, h.ifaces.map((i) => [i.name, i.addrs, i.peer, i.master, i.bridge])]));
    if (shape(old) !== shape(spec))
      throw new Error('reconfigure: the topology differs in more than settings; build a new lab');
    this.spec = spec;
    this.net = compileTopology(spec);
    await Promise.all(
      spec.hosts.map(async (h, idx) => {
        const before = old.hosts[idx]!;
        const conf = (x: typeof h) => JSON.stringify([x.sysctls, x.ifaces.map((i) => i.sysctls)]);
        if (conf(before) !== conf(h)) await this.configureSysctls(h.name);
        // reconfigure follows a reset: no rule names a set any more, so every set can go
        if (JSON.stringify(before.ipsets ?? []) !== JSON.stringify(h.ipsets ?? [])) {
          if (before.ipsets?.length) {
            const r = await this.agent(h.name).run(['ipset', 'destroy']);
            if (r.code !== 0) throw new LabCommandError(['ipset', 'destroy'], r.code, r.stderr);
          }
          await this.loadIpsets(h.name);
        }
        // a route variant (fuzz-arbitraries.ts): the routes that went, then those that came
        const key = (r: RouteSpec) => JSON.stringify([r.dst, r.via, r.dev]);
        const now = new Set((h.routes ?? []).map(key));
        const had = new Set((before.routes ?? []).map(key));
        const flips = h.ifaces.filter((i, k) => i.master && Boolean(i.hairpin) !== Boolean(before.ifaces[k]!.hairpin));
        await this.hostBatch(h.name, [
          ...(before.routes ?? []).filter((r) => !now.has(key(r))).map((r) => routeLine('del', r)),
          ...(h.routes ?? []).filter((r) => !had.has(key(r))).map((r) => routeLine('add', r)),
          ...flips.map((i) =>
            batchLine('link', 'set', 'dev', i.name, 'type', 'bridge_slave', 'hairpin', i.hairpin ? 'on' : 'off'),
          ),
        ]);
      }),
    );
  }

  /** `what`, its time booked to `phase` when the lab keeps a profile */
  private timed<T>(phase: Phase, what: () => Promise<T>): Promise<T> {
    return this.profile ? this.profile.time(phase, what) : what();
  }

  private agent(host: string): AgentClient {
    const a = this.agents.get(host);
    if (!a) throw new Error(`no host "${host}" in lab ${this.spec.name}`);
    return a;
  }

  /**
   * Native nft: `nft -f -` (one transaction, all or nothing) in the host's namespace; nft's refusal comes
   * back verbatim. reset() removes native tables with the rest (`nft flush ruleset`). spec/nft.md §7.
   */
  async applyNft(host: string, text: string): Promise<ApplyResult> {
    const r = await this.timed('apply', () => this.agent(host).run(['nft', '-f', '-'], text));
    this.dirty.add(host);
    // a host with rules: its conntrack table is read after each probe (conntrack())
    if (r.code === 0 && !this.applied.has(host)) this.applied.set(host, new Map());
    return { ok: r.code === 0, code: r.code, stderr: r.stderr.trim() };
  }

  /** `nft list ruleset` of a host: native tables and iptables-nft's tables alike. */
  async listNft(host: string): Promise<string> {
    const argv = ['nft', 'list', 'ruleset'];
    const r = await this.agent(host).run(argv);
    if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
    return r.stdout;
  }

  /** iptables-restore (each table at its COMMIT): the kernel's or iptables' refusal comes back verbatim. */
  async apply(host: string, rulesetText: string, backend?: IptablesFlavor): Promise<ApplyResult> {
    const b = backend ?? this.net.hosts.get(host)!.backend;
    const r = await this.timed('apply', async () => {
      // nfacct counters are per namespace and must exist first (kube-proxy creates its own the same way)
      for (const name of nfacctNames(rulesetText)) await this.agent(host).run(['nfacct', 'add', name]);
      return this.agent(host).run([restoreCmd(b)], rulesetText);
    });
    this.dirty.add(host);
    if (r.code !== 0 && b === 'nft') this.tainted = true;
    // a refused restore has committed the tables before the failing one (both flavors): read this host too
    const tables = [...rulesetText.matchAll(/^\*(\w+)/gm)].map((m) => m[1] as TableName);
    const per = this.applied.get(host) ?? new Map<IptablesFlavor, TableName[]>();
    per.set(b, [...new Set([...(per.get(b) ?? []), ...tables])]);
    this.applied.set(host, per);
    return { ok: r.code === 0, code: r.code, stderr: r.stderr.trim() };
  }

  /** `conntrack -F`, or `conntrack -D` with filters (argv from typed fields). Deleting nothing is no error. */
  async conntrackDelete(host: string, match: ConntrackArgs | undefined): Promise<ApplyResult> {
    const argv = ['conntrack', ...(match ? ['-D', ...conntrackFilterArgs(match)] : ['-F'])];
    const r = await this.timed('command', () => this.agent(host).run(argv));
    const ok = r.code === 0 || /0 flow entries have been deleted/.test(r.stderr);
    return { ok, code: ok ? 0 : r.code, stderr: r.stderr.trim() };
  }

  /** A write to /proc/net/xt_recent/LIST: "+addr", "-addr" or "/"; the list exists once a rule names it. */
  async recentWrite(host: string, list: string, line: string): Promise<ApplyResult> {
    try {
      await this.timed('command', () => this.agent(host).request('recent-write', { list, line }));
      return { ok: true, code: 0, stderr: '' };
    } catch (e) {
      return { ok: false, code: 1, stderr: (e as Error).message };
    }
  }

  /** One iptables command (its arguments, never a shell line) in the host's flavor. */
  async iptables(host: string, flavor: IptablesFlavor, args: readonly string[]): Promise<ApplyResult> {
    const argv = [flavor === 'nft' ? 'iptables-nft' : 'iptables-legacy', ...args];
    const r = await this.timed('command', async () => {
      // a rule's nfacct counter must exist first, as for a restore (apply)
      for (const [i, a] of args.entries())
        if (a === '--nfacct-name' && args[i + 1])
          await this.agent(host).run(['nfacct', 'add', args[i + 1]!.slice(0, 31)]);
      return this.agent(host).run(argv);
    });
    this.dirty.add(host);
    const t = args.indexOf('-t') >= 0 ? args[args.indexOf('-t') + 1] : 'filter';
    const per = this.applied.get(host) ?? new Map<IptablesFlavor, TableName[]>();
    if (t && t in TABLE_HOOKS) per.set(flavor, [...new Set([...(per.get(flavor) ?? []), t as TableName])]);
    this.applied.set(host, per);
    return { ok: r.code === 0, code: r.code, stderr: r.stderr.trim() };
  }

  async exec(host: string, argv: readonly string[], stdin?: string): Promise<RunResult> {
    return this.agent(host).run(argv, stdin);
  }

  /** Conntrack entries of the hosts that have rules: conntrack is inactive elsewhere (spec §4.1), and
   *  reading /proc/net/nf_conntrack walks the whole machine's table, so idle hosts are skipped. */
  async conntrack(): Promise<Record<string, ConntrackRecord[]>> {
    const out: Record<string, ConntrackRecord[]> = {};
    await Promise.all(
      [...this.applied.keys()].map(async (h) => {
        const a = this.agent(h);
        const list = parseConntrack(await a.request<string>('conntrack'));
        if (list.length) out[h] = list;
      }),
    );
    return out;
  }

  /** The entries of the flow that starts with `tuple`, on the hosts that have rules (spec/observation.md). */
  async flowConntrack(tuple: WireTuple): Promise<Record<string, ConntrackRecord[]>> {
    return flowEntries([...this.applied.keys()], tuple, (h, tuples) =>
      this.agent(h).request<WireEntry[]>('ct-flow', { tuples }),
    );
  }

  private async allCounters(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    await Promise.all(
      [...this.applied].map(async ([h, per]) => {
        // a host with rules in both backends reports them as host@nft and host@legacy
        await Promise.all(
          [...per.keys()].map(async (b) => {
            const r = await this.agent(h).run([saveCmd(b), '-c']);
            out.set(per.size > 1 ? `${h}@${b}` : h, countersOf(r.stdout));
          }),
        );
      }),
    );
    return out;
  }

  /** Sets the nftrace bit on every packet of `host` (a table of its own at the lowest priority), so that
   *  probes with `nftrace` read the kernel's rule trace. reset() removes it with the rest. */
  async enableNftrace(host: string): Promise<void> {
    const r = await this.applyNft(host, NFTRACE_RULESET);
    if (!r.ok) throw new LabCommandError(['nft', '-f', '-'], r.code, r.stderr);
    this.traced.add(host);
  }

  async probe(p: Probe, opts: KernelProbeOptions = {}): Promise<KernelObservation> {
    const traced = opts.nftrace ? [...this.traced] : [];
    if (traced.length)
      await this.timed('nftrace', () => Promise.all(traced.map((h) => this.agent(h).request('trace-start'))));
    const before = opts.counters ? await this.timed('counters', () => this.allCounters()) : undefined;
    const t0 = performance.now();
    const r = await this.agent(p.from).request<AgentProbeResult>('probe', {
      proto: p.proto,
      dst: p.dst,
      dport: p.dport,
      src: p.src,
      sport: p.sport,
      connected: p.connected,
      timeoutMs: this.timeoutMs,
      confirmMs: this.confirmMs,
    });
    if (p.proto === 'tcp' && r.outcome !== 'delivered') this.requestsLeft = true;
    // a drop costs the timeout and its confirmation wait; an answer, a round trip
    this.profile?.add(r.outcome === 'dropped' ? 'probe-dropped' : 'probe-answered', performance.now() - t0);
    const e = r.error;
    const obs: KernelObservation = {
      outcome: r.outcome,
      // a reset's or an ICMP error's sender is not a responder (spec/observation.md)
      responder: r.responder ?? (r.outcome === 'echo-reply' && r.replyFrom ? this.ownerOf(r.replyFrom) : null),
      seen: r.seen ?? null,
      icmp: r.icmp,
      replyFrom: r.replyFrom ?? null,
      error: e
        ? {
            kind: e.kind,
            from: e.from ?? null,
            type: e.type ?? null,
            code: e.code ?? null,
            quoted: e.quoted ?? null,
            errno: e.errno ?? null,
          }
        : null,
      conntrack:
        opts.conntrack === false || !r.tuple ? {} : await this.timed('conntrack', () => this.flowConntrack(r.tuple!)),
      droppedAt: null,
    };
    if (r.note) obs.note = r.note;
    if (traced.length) {
      const lines = await this.timed('nftrace', () =>
        Promise.all(traced.map((h) => this.agent(h).request<string[]>('trace-stop'))),
      );
      // the probe's own packets: its client port, and the port each reply goes back to (a NAT's choice)
      const ports = new Set<number>(r.tuple ? [r.tuple[2]] : []);
      for (const recs of Object.values(obs.conntrack))
        for (const c of recs) {
          const back = /:(\d+)$/.exec(c.reply);
          if (back) ports.add(Number(back[1]));
        }
      obs.nftrace = Object.fromEntries(
        traced.map((h, i) => {
          const segs = parseTrace(lines[i]!);
          return [h, flowSegments(segs, r.tuple && p.proto !== 'icmp' ? ports : 'any')];
        }),
      );
    }
    if (before) {
      const after = await this.timed('counters', () => this.allCounters());
      const hit = movedRules(before, after);
      obs.rulesHit = hit;
      if (obs.outcome !== 'delivered' && obs.outcome !== 'echo-reply') {
        const stop = hit.find((x) => x.verdict === 'DROP' || x.verdict === 'REJECT');
        if (stop)
          obs.droppedAt = {
            host: stop.host,
            hook: TABLE_HOOKS[stop.table].includes(stop.chain as never) ? stop.chain : null,
            table: stop.table,
            chain: stop.chain,
            rule: stop.rule,
            reason: null,
          };
      }
    }
    return obs;
  }

  /** The same probe n times (fresh source ports): how often each outcome/responder was observed. */
  async distribution(p: Probe, n: number, firstPort = 50000): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const o = await this.probe({ ...p, sport: firstPort + i }, { conntrack: false });
      const key = `${o.outcome} ${o.responder ?? '-'}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  private ownerOf(addr: string): string | null {
    for (const h of this.net.hosts.values())
      for (const a of h.local.keys()) if (formatIp(a) === addr && a !== 0x7f000001) return h.name;
    return null;
  }

  /**
   * Back to a fresh state without rebuilding: no rules, empty conntrack and recent lists, and ip_error's
   * token bucket refilled. What is undone is read from the kernel, not from what this lab believes it
   * applied: a failed iptables-legacy-restore has committed the tables before the failing one.
   */
  async reset(): Promise<void> {
    const t0 = performance.now();
    const requests = this.requestsLeft;
    this.requestsLeft = false;
    const waits = await Promise.all(
      [...this.agents].map(async ([h, a]) => {
        // the agent's part in one request (agent.py reset): ss -K where a probe left a request socket, nft flush
        // and the registered legacy tables emptied where rules went since the last reset, recent lists, neighbour
        // entries (an unresolved one answers its queue with host-unreachable when its resolution fails, 3 s after
        // it began, which could fall into the next case's probes) and conntrack emptied; whether conntrack is still
        // hooked. What is undone is read from the kernel, not from what this lab believes it applied.
        const st = await a.request<{
          legacyTables: TableName[];
          inNoRoutes: number;
          outRedirects: number;
          hooked: boolean;
          sent: boolean;
        }>('reset', { requests, dirty: this.dirty.has(h), legacyChains: TABLE_HOOKS });
        this.applied.delete(h);
        this.traced.delete(h);
        this.dirty.delete(h);
        const spent = st.inNoRoutes - (this.noRoutes.get(h) ?? 0);
        this.noRoutes.set(h, st.inNoRoutes);
        const redirected = st.outRedirects > (this.redirects.get(h) ?? 0);
        this.redirects.set(h, st.outRedirects);
        if (st.legacyTables.length) this.legacyHosts.add(h);
        else this.legacyHosts.delete(h);
        // with no rules left, conntrack must be unhooked as in a fresh namespace (a legacy table stays
        // registered once used, and a refused nft restore once left a reference behind): else rebuild
        return { spent, hooked: st.hooked, redirected, sent: st.sent };
      }),
    );
    // a host that sent ICMP redirects leaves state no reset undoes: its redirect count per source (inet_peer:
    // ip_rt_send_redirect's backoff, ~20 s of silence to start again) and the nexthop exceptions receivers made
    // (__ip_do_redirect, ip_rt_gc_timeout 300 s): a rebuild, as a fresh lab would have neither (issue 14). Only
    // a host that sent one (its OutRedirects grew) has either: send_redirects alone changes nothing.
    const redirected = waits.some((w) => w.redirected);
    this.taintCause = redirected ? 'redirects' : waits.some((w) => w.hooked) ? 'conntrack-hooked' : undefined;
    this.tainted = this.taintCause !== undefined;
    this.profile?.add('reset', performance.now() - t0);
    if (this.tainted) return; // to be rebuilt, not reused: no token to wait for
    if (waits.some((w) => w.sent)) await this.timed('reset-settle', () => this.settleNeighbours());
    // ip_error: a burst of 5 routing errors per source, then one a second (error_cost = 1 s, error_burst =
    // 5 s, global sysctls a namespace cannot change): wait until the tokens the last case spent are back
    const spent = Math.min(5, Math.max(0, ...waits.map((w) => w.spent)));
    if (spent > 0) await this.timed('reset-wait', () => new Promise((r) => setTimeout(r, spent * ROUTE_ERROR_COST_MS)));
  }

  /**
   * Every host flushes its neighbours again, until a round finds none: a reset that sent packets (an RST, the
   * host-unreachable errors of an unresolved entry's queue) may have made a host whose flush already ran answer
   * an ARP request, and so learn its sender (arp_process: neigh_event_ns). Measured: node2 kept node's address
   * into the next case, where node's arp_ignore would have hidden it from a fresh lab. A round that deletes only
   * resolved entries sends nothing, so the rounds end; one that never ends taints the lab.
   */
  private async settleNeighbours(): Promise<void> {
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      const flushed = await Promise.all(
        [...this.agents.values()].map((a) => a.request<{ deleted: number; unresolved: number }>('neigh-flush', {})),
      );
      if (flushed.every((f) => f.deleted === 0)) return;
    }
    this.taintCause = 'unsettled';
    this.tainted = true;
  }

  async down(): Promise<void> {
    if (this.down_) return;
    this.down_ = true;
    const t0 = performance.now();
    await Promise.all([...this.agents.values()].map((a) => a.close().catch(() => undefined)));
    await this.site.close([...this.ns.values()]);
    unregisterLab(this.runId);
    this.profile?.add('down', performance.now() - t0);
  }
}

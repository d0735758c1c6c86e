// `nfconform validate`: a real node's iptables-save dump judged against its Services.
// A lab is built to match the node (its addresses, its pod network, the endpoints as
// hosts); probes per Service port are judged by the Service-level oracle, on the model
// and by replaying the dump on the kernel (spec/kube.md §6).
import {
  InputError,
  isInputError,
  parseRuleset,
  makeLab,
  newWorld,
  runProbe,
  type Ruleset,
  type Probe,
  type TopologySpec,
  type HostSpec,
  type IptablesFlavor,
  type TraceEvent,
  type Observation,
  type Weighted,
} from '../model/index.ts';
import { parseIp, parseCidr, formatIp, cidrContains } from '../model/index.ts';
import { compileTopology } from '../model/index.ts';
import { sourceFor } from '../model/index.ts';
import { readCluster, type Cluster, type ObjectWarning } from '../kube/objects.ts';
import { resolve, reachableEndpoints, type ResolvedPort } from '../kube/endpoints.ts';
import { predict, type ClusterLayout } from '../kube/oracle.ts';
import { unexplainedRules, type RuleWarning } from '../kube/explain-rules.ts';
import { KernelLab, type KernelObservation } from '../lab/kernel-lab.ts';
import type { LabRuntime } from '../lab/site.ts';
import type { Sides } from './sides.ts';
import { FIRST_PORT } from './ports.ts';
import { modelMiss, kernelMiss, expectedOf, showDistribution, unexpectedBranch } from './oracle-compare.ts';

export interface ValidateInput {
  servicesText: string;
  servicesFile: string;
  rulesetText: string;
  rulesetFile: string;
  /** the Kubernetes node the dump is from (endpoints with this nodeName are local) */
  nodeName?: string;
  /** the node's IPv4 addresses; the first is its primary one */
  nodeIps: string[];
  podCIDR?: string;
  clusterCIDR?: string;
  sides: Sides;
  iptables?: IptablesFlavor;
  runtime?: LabRuntime;
  /** why kernel runs cannot happen here, if so */
  kernelSkip?: string;
  onProgress?: (done: number, total: number) => void;
}

export type ServiceStatus = 'pass' | 'fail' | 'unsupported';

export interface ProbeFailure {
  label: string;
  probe: Probe;
  oracle: string;
  modelMiss?: string;
  kernelMiss?: string;
  modelTrace?: TraceEvent[];
  model?: Weighted<Observation>[];
  kernel?: KernelObservation;
}

export interface ServiceVerdict {
  service: string;
  status: ServiceStatus;
  probes: number;
  reason?: string;
  /** the smallest failing probe (probes run from the simplest) */
  failure?: ProbeFailure;
}

export interface ValidationReport {
  node: string;
  clusterCIDR: string;
  podCIDR: string;
  services: ServiceVerdict[];
  warnings: RuleWarning[];
  /** Services and EndpointSlices skipped (or values ignored) as invalid, as kube-proxy skips them */
  objectWarnings: ObjectWarning[];
  /** lines the model does not support, left out of its copy of the dump */
  unsupported: { line: number; text: string; reason: string }[];
  kernel: 'ran' | 'skipped';
  kernelSkip?: string;
  topology: TopologySpec;
}

/** an `-A CHAIN ...` line, with or without the packet/byte counters of `iptables-save -c` */
const RULE_LINE = /^(?:\[\d+:\d+\]\s+)?-A (\S+)/;

const bad = (file: string, reason: string) => new InputError('invalid', reason, { file, line: 1, col: 1 });

/** The dump as the model reads it: unsupported lines are blanked (and listed), anything else malformed is an error. */
export function parseLeniently(
  text: string,
  file: string,
): { ruleset: Ruleset; unsupported: ValidationReport['unsupported'] } {
  const lines = text.split('\n');
  const unsupported: ValidationReport['unsupported'] = [];
  for (;;) {
    try {
      return { ruleset: parseRuleset(lines.join('\n'), { file }), unsupported };
    } catch (e) {
      if (!isInputError(e) || e.kind !== 'unsupported' || !e.pos || !RULE_LINE.test(lines[e.pos.line - 1] ?? ''))
        throw e;
      unsupported.push({ line: e.pos.line, text: lines[e.pos.line - 1]!, reason: e.reason });
      lines[e.pos.line - 1] = '';
    }
  }
}

/** kube-proxy's masquerade rule `! -s CLUSTER_CIDR -d VIP ... -j KUBE-MARK-MASQ` tells the cluster CIDR. */
function clusterCidrOf(text: string): string | undefined {
  return /^(?:\[\d+:\d+\]\s+)?-A KUBE-SVC-\S+ ! -s (\d+\.\d+\.\d+\.\d+\/\d+) .*-j KUBE-MARK-MASQ/m.exec(text)?.[1];
}

/** Which Service each per-Service chain belongs to: from the commented jumps into it, then down its jumps. */
function chainOwners(rs: Ruleset): Map<string, string> {
  const owner = new Map<string, string>();
  for (const t of rs.tables.values()) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const c of t.chains.values()) {
        for (const r of c.rules) {
          const to = r.target?.kind === 'jump' || r.target?.kind === 'goto' ? r.target.chain : undefined;
          if (!to || owner.has(to) || !/^KUBE-(SVC|SVL|EXT|FW|SEP|XLB)-/.test(to)) continue;
          const comment = r.matches.find((m) => m.name === 'comment')?.opts[0]?.value as string | undefined;
          const named = comment ? /^([^/\s]+\/[^:\s]+)/.exec(comment)?.[1] : undefined;
          const o = owner.get(c.name) ?? named;
          if (o) {
            owner.set(to, o);
            changed = true;
          }
        }
      }
    }
  }
  return owner;
}

interface PlannedProbe {
  service: string;
  label: string;
  probe: Probe;
}

const POD_CLIENT = 'pod-client';
const OUTSIDE = 'client';
const REMOTE = 'remote';

/** The lab that matches the node: the node, its local endpoints as pods on cni0, a pod that is no endpoint,
 *  an outside client on the primary network, and one host holding every endpoint of other nodes. */
function buildTopology(
  cluster: Cluster,
  nodeName: string,
  nodeIps: string[],
  podCIDR: string,
  clusterCIDR: string,
  routeLocalnet: boolean,
): { topo: TopologySpec; layout: ClusterLayout } {
  const ports = resolve(cluster, nodeName);
  const pod = parseCidr(podCIDR)!;
  const eps = new Map<string, boolean>(); // ip -> local
  for (const rp of ports) for (const e of rp.cluster) eps.set(e.ip, e.isLocal);
  for (const rp of ports) for (const e of rp.local) eps.set(e.ip, true);
  const serverPorts = [...new Set(ports.flatMap((rp) => [...rp.cluster, ...rp.local].map((e) => e.port)))];
  const servers = ports
    .flatMap((rp) =>
      [...rp.cluster, ...rp.local].map((e) => ({
        proto: rp.port.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const),
        port: e.port,
      })),
    )
    .filter((s, i, all) => all.findIndex((x) => x.proto === s.proto && x.port === s.port) === i);
  if (servers.length === 0) servers.push({ proto: 'tcp', port: 8080 });
  const used = new Set([...eps.keys(), ...nodeIps]);
  const freeIn = (c: { addr: number; len: number }, from: 'low' | 'high') => {
    const size = 2 ** (32 - c.len);
    for (let k = 1; k < size - 1; k++) {
      const a = formatIp((c.addr + (from === 'low' ? k : size - 1 - k)) >>> 0);
      if (!used.has(a)) {
        used.add(a);
        return a;
      }
    }
    throw bad('<command line>', `no free address left in ${formatIp(c.addr)}/${c.len}`);
  };
  const gateway = freeIn(pod, 'low');
  const off = { ip_forward: false, rp_filter: 0 as const, send_redirects: false, accept_redirects: false };
  const primary = parseCidr(`${nodeIps[0]}/24`)!;
  const clientIp = freeIn(primary, 'high');
  const localPods = [...eps]
    .filter(([ip, local]) => local && cidrContains(pod, parseIp(ip)!) && !nodeIps.includes(ip))
    .map(([ip]) => ip);
  const remote = [...eps].filter(([ip, local]) => !local && !nodeIps.includes(ip)).map(([ip]) => ip);
  const hostOf: Record<string, string> = {};
  const podHosts: HostSpec[] = [];
  const veths: HostSpec['ifaces'] = [];
  const addPod = (name: string, ip: string) => {
    hostOf[ip] = name;
    veths.push({ name: `v-${name}`.slice(0, 15), master: 'cni0', peer: { host: name, iface: 'eth0' }, hairpin: true });
    podHosts.push({
      name,
      ifaces: [
        { name: 'eth0', addrs: [`${ip}/${pod.len}`], peer: { host: nodeName, iface: `v-${name}`.slice(0, 15) } },
      ],
      routes: [{ dst: 'default', via: gateway }],
      sysctls: off,
      servers,
    });
  };
  localPods.forEach((ip, i) => addPod(`ep${i + 1}`, ip));
  addPod(POD_CLIENT, freeIn(pod, 'high'));
  for (const ip of nodeIps) hostOf[ip] = nodeName;
  hostOf[gateway] = nodeName;
  hostOf[clientIp] = OUTSIDE;
  for (const ip of remote) hostOf[ip] = REMOTE;
  const transfer = { node: '198.18.0.1', remote: '198.18.0.2' };
  const node: HostSpec = {
    name: nodeName,
    ifaces: [
      { name: 'cni0', bridge: true, addrs: [`${gateway}/${pod.len}`] },
      ...veths,
      {
        name: 'eth0',
        addrs: [`${nodeIps[0]}/24`, ...nodeIps.slice(1).map((ip) => `${ip}/32`)],
        peer: { host: OUTSIDE, iface: 'eth0' },
      },
      { name: 'eth1', addrs: [`${transfer.node}/30`], peer: { host: REMOTE, iface: 'eth0' } },
    ],
    routes: [...remote.map((ip) => ({ dst: `${ip}/32`, via: transfer.remote })), { dst: 'default', via: clientIp }],
    sysctls: { ...off, ip_forward: true, bridge_nf_call_iptables: true, route_localnet: routeLocalnet },
    servers,
  };
  const hosts: HostSpec[] = [
    node,
    ...podHosts,
    {
      name: OUTSIDE,
      ifaces: [{ name: 'eth0', addrs: [`${clientIp}/24`], peer: { host: nodeName, iface: 'eth0' } }],
      routes: [{ dst: 'default', via: nodeIps[0]! }],
      sysctls: off,
      servers,
    },
    {
      name: REMOTE,
      ifaces: [
        {
          name: 'eth0',
          addrs: [`${transfer.remote}/30`, ...remote.map((ip) => `${ip}/32`)],
          peer: { host: nodeName, iface: 'eth1' },
        },
      ],
      routes: [{ dst: 'default', via: transfer.node }],
      sysctls: off,
      servers,
    },
  ];
  const entryNode = Object.fromEntries(hosts.map((h) => [h.name, nodeName]));
  return {
    topo: { name: `validate-${nodeName}`, hosts },
    layout: {
      clusterCIDR,
      nodes: [{ name: nodeName, addresses: [...nodeIps, gateway] }],
      entryNode,
      hostOf,
      serverPorts,
    },
  };
}

/** Probes per Service port, simplest first: ClusterIP from a pod and from the node, then NodePort, then external addresses. */
function planProbes(
  ports: readonly ResolvedPort[],
  nodeName: string,
  nodeIps: string[],
): { planned: PlannedProbe[]; sctp: Set<string> } {
  const planned: PlannedProbe[] = [];
  const sctp = new Set<string>();
  for (const rp of ports) {
    const service = `${rp.svc.namespace}/${rp.svc.name}`;
    if (rp.port.protocol === 'SCTP') {
      sctp.add(service);
      continue;
    }
    const proto = rp.port.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const);
    const add = (from: string, dst: string, dport: number, what: string) =>
      planned.push({
        service,
        label: `${what} ${dst}:${dport}/${proto} from ${from}`,
        probe: { from, proto, dst, dport },
      });
    if (rp.svc.clusterIP) {
      add(POD_CLIENT, rp.svc.clusterIP, rp.port.port, `${rp.spn} ClusterIP`);
      add(nodeName, rp.svc.clusterIP, rp.port.port, `${rp.spn} ClusterIP`);
    }
    if (rp.port.nodePort && (rp.svc.type === 'NodePort' || rp.svc.type === 'LoadBalancer')) {
      add(OUTSIDE, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      add(POD_CLIENT, nodeIps[0]!, rp.port.nodePort, `${rp.spn} NodePort`);
      // NodePorts answer on every node address
      for (const ip of nodeIps.slice(1)) add(OUTSIDE, ip, rp.port.nodePort, `${rp.spn} NodePort`);
    }
    for (const ip of rp.svc.loadBalancerIPs) add(OUTSIDE, ip, rp.port.port, `${rp.spn} LoadBalancer IP`);
    for (const ip of rp.svc.externalIPs) add(OUTSIDE, ip, rp.port.port, `${rp.spn} external IP`);
  }
  return { planned, sctp };
}

export async function validateNode(input: ValidateInput): Promise<ValidationReport> {
  const cluster = readCluster(input.servicesText, input.servicesFile);
  if (input.nodeIps.length === 0)
    throw bad(
      '<command line>',
      "give the node's addresses with --node-ip IP (repeatable; the first is its primary address)",
    );
  for (const ip of input.nodeIps)
    if (parseIp(ip) === undefined) throw bad('<command line>', `--node-ip ${ip}: not an IPv4 address`);
  const nodeNames = [
    ...new Set(
      cluster.slices.flatMap((s) => s.endpoints.map((e) => e.nodeName)).filter((n): n is string => Boolean(n)),
    ),
  ];
  const nodeName = input.nodeName ?? (nodeNames.length === 1 ? nodeNames[0]! : undefined);
  if (!nodeName)
    throw bad(
      '<command line>',
      `say which node the dump is from with --node NAME (the EndpointSlices name ${nodeNames.length ? nodeNames.join(', ') : 'no node'})`,
    );
  if (!/^[a-z0-9]([-a-z0-9.]{0,40}[a-z0-9])?$/.test(nodeName))
    throw bad(
      '<command line>',
      `--node ${nodeName}: not a node name nfconform can use for a lab host (lower-case letters, digits, "-" and ".", at most 42)`,
    );
  const clusterCIDR = input.clusterCIDR ?? clusterCidrOf(input.rulesetText);
  if (!clusterCIDR || !parseCidr(clusterCIDR))
    throw bad('<command line>', 'give the cluster CIDR with --cluster-cidr CIDR (the dump does not show it)');
  const { ruleset, unsupported } = parseLeniently(input.rulesetText, input.rulesetFile);
  const ports = resolve(cluster, nodeName);
  const localIp = ports
    .flatMap((rp) => reachableEndpoints(rp))
    .find((e) => e.isLocal && !input.nodeIps.includes(e.ip))?.ip;
  const podCIDR = input.podCIDR ?? (localIp ? `${localIp.split('.').slice(0, 3).join('.')}.0/24` : undefined);
  if (!podCIDR || !parseCidr(podCIDR))
    throw bad('<command line>', "give the node's pod CIDR with --pod-cidr CIDR (no local endpoint shows it)");
  const routeLocalnet = /^(?:\[\d+:\d+\]\s+)?-A KUBE-FIREWALL .*-d 127\.0\.0\.0\/8/m.test(input.rulesetText);
  const { topo, layout } = buildTopology(cluster, nodeName, input.nodeIps, podCIDR, clusterCIDR, routeLocalnet);
  const { planned, sctp } = planProbes(ports, nodeName, input.nodeIps);

  // Services the model cannot judge: an unsupported rule in their chains, or in a chain every Service shares
  const owners = chainOwners(ruleset);
  const unsupportedBy = new Map<string, string>();
  let everyService: string | undefined;
  for (const u of unsupported) {
    const chain = RULE_LINE.exec(u.text)![1]!;
    const named = /--comment "?([^/\s"]+\/[^:\s"]+)/.exec(u.text)?.[1];
    const svc = owners.get(chain) ?? named;
    const why = `line ${u.line}: ${u.reason}`;
    if (svc) unsupportedBy.set(svc, why);
    else everyService ??= `an unsupported rule in shared chain ${chain} (${why}) may affect every Service`;
  }

  const net = compileTopology(topo);
  const lab = makeLab(net, new Map([[nodeName, ruleset]]));
  const runKernel = input.sides !== 'model' && !input.kernelSkip;
  let kernel: KernelLab | undefined;
  const verdicts = new Map<string, ServiceVerdict>();
  for (const s of cluster.services) {
    const name = `${s.namespace}/${s.name}`;
    const why = everyService ?? unsupportedBy.get(name) ?? (sctp.has(name) ? 'SCTP ports cannot be probed' : undefined);
    const note = why ?? (s.clusterIP ? undefined : 'no virtual IP (headless or ExternalName): nothing to forward');
    verdicts.set(name, {
      service: name,
      status: why ? 'unsupported' : 'pass',
      probes: 0,
      ...(note ? { reason: note } : {}),
    });
  }
  try {
    if (runKernel) {
      kernel = await KernelLab.up(topo, { ...(input.runtime ? { runtime: input.runtime } : {}) });
      const r = await kernel.apply(nodeName, input.rulesetText, input.iptables ?? 'nft');
      if (!r.ok)
        throw new InputError(
          'invalid',
          `the kernel refused the dump (iptables-${input.iptables ?? 'nft'}-restore): ${r.stderr}`,
          { file: input.rulesetFile, line: Number(/line:? (\d+)/.exec(r.stderr)?.[1] ?? 1), col: 1 },
        );
    }
    let sport = FIRST_PORT;
    let done = 0;
    for (const p of planned) {
      input.onProgress?.(done++, planned.length);
      const v = verdicts.get(p.service)!;
      if (v.status !== 'pass') continue;
      const probe = { ...p.probe, sport: sport++ };
      const src = formatIp(sourceFor(net.hosts.get(probe.from)!, parseIp(probe.dst)!) ?? 0);
      const want = predict(cluster, layout, probe, src);
      if (!want) continue;
      v.probes++;
      const failure: ProbeFailure = { label: p.label, probe, oracle: showDistribution(expectedOf(want)) };
      if (input.sides !== 'kernel') {
        const runs = runProbe(lab, newWorld(lab), probe);
        const dist = runs.map((x) => ({ p: x.p, value: x.value.observation }));
        const miss = modelMiss(want, dist, src, probe.sport);
        if (miss)
          Object.assign(failure, {
            modelMiss: miss,
            model: dist,
            modelTrace: runs[Math.max(0, unexpectedBranch(want, dist, src, probe.sport))]?.value.trace ?? [],
          });
      }
      if (kernel) {
        const k = await kernel.probe(probe, { counters: true });
        const miss = kernelMiss(want, k, src, probe.sport);
        if (miss) Object.assign(failure, { kernelMiss: miss, kernel: k });
      }
      if (failure.modelMiss || failure.kernelMiss) Object.assign(v, { status: 'fail', failure });
    }
    input.onProgress?.(planned.length, planned.length);
  } finally {
    await kernel?.down();
  }
  return {
    node: nodeName,
    clusterCIDR,
    podCIDR,
    services: [...verdicts.values()],
    warnings: unexplainedRules(ruleset, cluster, nodeName),
    objectWarnings: cluster.warnings,
    unsupported,
    kernel: runKernel ? 'ran' : 'skipped',
    ...(input.kernelSkip && input.sides !== 'model' ? { kernelSkip: input.kernelSkip } : {}),
    topology: topo,
  };
}

// `nfconform validate`: a real node's iptables-save dump judged against its Services.
// A lab is built to match the node (its addresses, its pod network, the endpoints as
// hosts); probes per Service port are judged by the Service-level oracle, on the model
// and by replaying the dump on the kernel (spec/kube.md §6).
import {
  ruleComment,
  InputError,
  makeLab,
  newWorld,
  runProbe,
  parseIp,
  parseCidr,
  formatIp,
  cidrContains,
  compileTopology,
  sourceFor,
  type Ruleset,
  type Probe,
  type TopologySpec,
  type IptablesFlavor,
  type TraceEvent,
  type Observation,
  type Weighted,
  detectLanguage,
  KERNEL,
  type NftRuleset,
} from '../model/index.ts';
import { readNftDump } from './validate-nft.ts';
import { parseLeniently, RULE_LINE } from './validate-xt.ts';
import { readBesides, type BesidesInput } from './validate-besides.ts';

export { parseLeniently } from './validate-xt.ts';
import { nftDumpSettings, nftOwner, unexplainedNft, type NftDumpSettings } from '../kube/nft-dump.ts';
import { readCluster, type ObjectWarning } from '../kube/objects.ts';
import { resolve, reachableEndpoints } from '../kube/endpoints.ts';
import { predict } from '../kube/oracle.ts';
import { unexplainedRules, type RuleWarning } from '../kube/explain-rules.ts';
import { buildNodeLab, POD_CLIENT } from '../kube/node-lab.ts';
import { planProbes, type PlannedProbe } from '../kube/probe-plan.ts';
import { dumpSettings, type DumpSettings } from '../kube/dump-settings.ts';
import { dns1123Subdomain } from '../kube/names.ts';
import { KernelLab, type KernelObservation } from '../lab/kernel-lab.ts';
import type { LabRuntime } from '../lab/site.ts';
import { sctpSupport, sctpUnprobedWhy } from '../lab/sctp.ts';
import type { Sides } from './sides.ts';
import { FIRST_PORT } from './ports.ts';
import { modelMiss, kernelMiss, expectedOf, showDistribution, unexpectedBranch } from './oracle-compare.ts';

export interface ValidateInput {
  servicesText: string;
  servicesFile: string;
  rulesetText: string;
  rulesetFile: string;
  /** the dump's rule language: kube-proxy's iptables or nftables mode (default: told by its content) */
  mode?: 'iptables' | 'nftables';
  /** the node's rules in the other language, evaluated beside the dump as the node runs them: beside an nft
   *  dump its iptables rules (iptables-save text; `iptables` says which), beside an iptables dump its native
   *  nft tables (validate-besides.ts) */
  besides?: BesidesInput;
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
  /** unsupported because a probe's model result hinges on a rule the model cannot evaluate (the other probes
   *  are still sent: the kernel may fail the Service) */
  hinges?: boolean;
}

/** One probe of the plan: sent (with each side's verdict) or not, and why not. */
export interface ProbeRecord {
  service: string;
  label: string;
  probe?: Probe;
  status: 'sent' | 'skipped';
  why?: string;
  /** what the Services say */
  oracle?: string;
  /** indeterminate: the result hinges on a rule the model cannot evaluate (spec/semantics.md §10) */
  model?: 'pass' | 'fail' | 'indeterminate';
  kernel?: 'pass' | 'fail';
  modelMiss?: string;
  kernelMiss?: string;
  /** model indeterminate: the possible outcomes and the rules that decide */
  indeterminate?: string;
}

export interface ValidationReport {
  node: string;
  /** the pod-traffic detector used: a CIDR, an interface, or none */
  clusterCIDR: string;
  detector: string;
  settings: DumpSettings;
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
  /** every probe of the plan, in order */
  probes: ProbeRecord[];
  /** probes sent; 0 means nothing was checked, which is a failure */
  sent: number;
}

const bad = (file: string, reason: string) => new InputError('invalid', reason, { file, line: 1, col: 1 });

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
          const comment = ruleComment(r);
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
      `say which node the dump is from with --node NAME (the EndpointSlices name` +
        ` ${nodeNames.length ? nodeNames.join(', ') : 'no node'})`,
    );
  const nameWhy = dns1123Subdomain(nodeName);
  if (nameWhy || nodeName.length > 42)
    throw bad(
      '<command line>',
      `--node ${JSON.stringify(nodeName.slice(0, 60))}: ${nameWhy ?? 'at most 42 characters (it names a lab host)'}`,
    );
  const nftMode = input.mode ? input.mode === 'nftables' : detectLanguage(input.rulesetText) === 'nft';
  // the node's settings, read off the parsed dump (never off its text's order)
  const nftDump = nftMode ? readNftDump(input.rulesetText, input.rulesetFile) : undefined;
  const xt = nftDump ? undefined : parseLeniently(input.rulesetText, input.rulesetFile);
  const unsupported = nftDump?.unsupported ?? xt!.unsupported;
  const settings: NftDumpSettings = nftDump ? nftDumpSettings(nftDump.ruleset) : dumpSettings(xt!.ruleset);
  const besides = input.besides ? readBesides(input.besides, nftMode, cluster, nodeName) : undefined;
  let podTraffic: { cidr: string } | 'interface' | 'none';
  let bridge = 'cni0';
  let detector: string;
  let clusterCIDR: string | undefined;
  if (input.clusterCIDR !== undefined) {
    const c = parseCidr(input.clusterCIDR);
    if (!c || !input.clusterCIDR.includes('/'))
      throw bad('<command line>', `--cluster-cidr ${JSON.stringify(input.clusterCIDR.slice(0, 60))}: not an IPv4 CIDR`);
    clusterCIDR = input.clusterCIDR;
    podTraffic = { cidr: clusterCIDR };
    detector = `ClusterCIDR ${clusterCIDR} (--cluster-cidr)`;
  } else if (settings.detector.mode === 'ClusterCIDR') {
    clusterCIDR = settings.detector.cidr;
    podTraffic = { cidr: clusterCIDR };
    detector = `ClusterCIDR ${clusterCIDR} (from the dump)`;
  } else if (settings.detector.mode === 'Interface') {
    // the lab's bridge takes the interface's name (a prefix "cali+" names it "cali0")
    const iface = settings.detector.iface;
    bridge = iface.endsWith('+') ? `${iface.slice(0, -1)}0` : iface;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge))
      throw bad(
        input.rulesetFile,
        `the dump's pod interface ${JSON.stringify(iface.slice(0, 20))} cannot name a lab bridge`,
      );
    podTraffic = 'interface';
    detector = `interface ${iface} (from the dump)`;
  } else {
    podTraffic = 'none';
    detector =
      settings.detector.mode === 'None'
        ? 'none (the dump masquerades no ClusterIP traffic by source)'
        : 'none (the dump shows no detector)';
  }
  const ports = resolve(cluster, nodeName);
  const localIp = ports
    .flatMap((rp) => reachableEndpoints(rp))
    .find((e) => e.isLocal && !input.nodeIps.includes(e.ip))?.ip;
  const podCIDR =
    input.podCIDR ??
    (localIp
      ? `${localIp.split('.').slice(0, 3).join('.')}.0/24`
      : freePodCidr(
          clusterCIDR,
          ports.flatMap((rp) => reachableEndpoints(rp).map((e) => e.ip)),
        ));
  if (!podCIDR || !parseCidr(podCIDR))
    throw bad('<command line>', "give the node's pod CIDR with --pod-cidr CIDR (no local endpoint shows it)");
  const { topo, layout } = buildNodeLab({
    cluster,
    nodeName,
    nodeIps: input.nodeIps,
    podCIDR,
    bridge,
    podTraffic,
    routeLocalnet: settings.localhostNodePorts,
  });
  if (settings.masqueradeAll) layout.masqueradeAll = true;
  if (settings.localhostNodePorts) layout.localhostNodePorts = true;
  if (settings.proxyMode) layout.proxyMode = settings.proxyMode;
  if (settings.nodePortAddresses) layout.nodePortAddresses = settings.nodePortAddresses;
  // SCTP ports are not probed; why is measured on this kernel (only when there are some)
  const sctpWhy = ports.some((rp) => rp.port.protocol === 'SCTP') ? sctpUnprobedWhy(await sctpSupport()) : undefined;
  const { planned, unsent } = planProbes(ports, nodeName, input.nodeIps, layout.hostOf, sctpWhy);
  // NodePorts on 127.0.0.1 from the node itself: answered with localhost NodePorts, refused without
  for (const rp of ports)
    if (rp.hasNodePort && rp.port.protocol !== 'SCTP')
      planned.push({
        service: `${rp.svc.namespace}/${rp.svc.name}`,
        label:
          `${rp.spn} localhost NodePort` +
          ` 127.0.0.1:${rp.port.nodePort}/${rp.port.protocol.toLowerCase()} from ${nodeName}`,
        probe: {
          from: nodeName,
          proto: rp.port.protocol === 'UDP' ? 'udp' : 'tcp',
          dst: '127.0.0.1',
          dport: rp.port.nodePort!,
        },
      });
  // nftables mode rejects a ClusterIP on a port no Service port has (its cluster-ips check, spec/kube.md §2a): one
  // probe per ClusterIP, on a port the lab serves, so that a packet the node lets through is answered upstream
  if (settings.proxyMode === 'nftables') {
    const seen = new Set<string>();
    for (const rp of ports) {
      const cip = rp.svc.clusterIP;
      if (!cip || seen.has(cip)) continue;
      seen.add(cip);
      const used = ports.filter((x) => x.svc.clusterIP === cip && x.port.protocol === 'TCP').map((x) => x.port.port);
      const port = layout.serverPorts.find((p) => !used.includes(p));
      if (port !== undefined)
        planned.push({
          service: `${rp.svc.namespace}/${rp.svc.name}`,
          label: `${rp.svc.namespace}/${rp.svc.name} ClusterIP ${cip}:${port}/tcp (no Service port) from ${POD_CLIENT}`,
          probe: { from: POD_CLIENT, proto: 'tcp', dst: cip, dport: port },
        });
    }
  }

  // Services the model cannot judge: an unsupported rule in their chains, or in a chain every Service shares
  const owners = xt ? chainOwners(xt.ruleset) : new Map<string, string>();
  const unsupportedBy = new Map<string, string>();
  let everyService: string | undefined = besides?.unsupported
    ? `rules beside kube-proxy's the model cannot read (${besides.unsupported}) may affect every Service`
    : undefined;
  for (const u of unsupported) {
    // a kept rule is judged probe by probe (a Service is unsupported only when a probe hinges on it)
    if (!u.reason.endsWith('(left out)')) continue;
    // nft: the chain or set the item was in names its Service (kube-proxy's names carry "ns/name")
    const chain = nftDump ? (nftDump.blockOf(u.line) ?? '') : RULE_LINE.exec(u.text)![1]!;
    const named = nftDump ? nftOwner(chain) : /--comment "?([^/\s"]+\/[^:\s"]+)/.exec(u.text)?.[1];
    const svc = owners.get(chain) ?? named;
    const why = `line ${u.line}: ${u.reason}`;
    if (svc) unsupportedBy.set(svc, why);
    else everyService ??= `an unsupported rule in shared chain ${chain} (${why}) may affect every Service`;
  }

  const net = compileTopology(topo);
  // iptables rules and nft tables on one node: each hook runs both, by priority (the model loads iptables first,
  // as the kernel lab does below)
  const xtRules = xt?.ruleset ?? besides?.xt;
  const nftRules = nftDump?.ruleset ?? besides?.nft;
  const lab = makeLab(
    net,
    new Map(xtRules ? [[nodeName, xtRules]] : []),
    new Map(),
    KERNEL,
    nftRules ? { nft: new Map<string, NftRuleset>([[nodeName, nftRules]]) } : {},
  );
  const runKernel = input.sides !== 'model' && !input.kernelSkip;
  let kernel: KernelLab | undefined;
  const verdicts = new Map<string, ServiceVerdict>();
  for (const s of cluster.services) {
    const name = `${s.namespace}/${s.name}`;
    const why = everyService ?? unsupportedBy.get(name);
    const note = why ?? (s.clusterIP ? undefined : 'no virtual IP (headless or ExternalName): nothing to forward');
    verdicts.set(name, {
      service: name,
      status: why ? 'unsupported' : 'pass',
      probes: 0,
      ...(note ? { reason: note } : {}),
    });
  }
  const records: ProbeRecord[] = unsent.map((u) => ({ ...u, status: 'skipped' as const }));
  for (const u of unsent) {
    const v = verdicts.get(u.service)!;
    if (v.status === 'pass' && !v.reason) v.reason = u.why;
  }
  try {
    if (runKernel) {
      kernel = await KernelLab.up(topo, { ...(input.runtime ? { runtime: input.runtime } : {}) });
      const flavor = input.iptables ?? 'nft';
      const loads: { text: string; file: string; nft: boolean }[] = [];
      // iptables first, then nft: the order the model takes
      if (xt) loads.push({ text: input.rulesetText, file: input.rulesetFile, nft: false });
      if (besides?.xt) loads.push({ text: besides.kernelText, file: besides.file, nft: false });
      if (besides?.nft) loads.push({ text: besides.kernelText, file: besides.file, nft: true });
      if (nftDump) loads.push({ text: nftDump.kernelText, file: input.rulesetFile, nft: true });
      for (const l of loads) {
        const r = l.nft ? await kernel.applyNft(nodeName, l.text) : await kernel.apply(nodeName, l.text, flavor);
        if (!r.ok)
          throw new InputError(
            'invalid',
            `the kernel refused the dump (${l.nft ? 'nft -f' : `iptables-${flavor}-restore`}): ${r.stderr}`,
            { file: l.file, line: Number(/line:? (\d+)/.exec(r.stderr)?.[1] ?? 1), col: 1 },
          );
      }
    }
    let sport = FIRST_PORT;
    let done = 0;
    for (const p of planned) {
      input.onProgress?.(done++, planned.length);
      const v = verdicts.get(p.service)!;
      if (v.status === 'fail' || (v.status === 'unsupported' && !v.hinges)) {
        records.push({
          service: p.service,
          label: p.label,
          probe: p.probe,
          status: 'skipped',
          why: v.status === 'fail' ? 'the Service already failed at a simpler probe' : `unsupported: ${v.reason}`,
        });
        continue;
      }
      const probe = { ...p.probe, sport: sport++ };
      const src = probe.src ?? formatIp(sourceFor(net.hosts.get(probe.from)!, parseIp(probe.dst)!) ?? 0);
      const want = predict(cluster, layout, probe, src);
      if (!want) {
        records.push({
          service: p.service,
          label: p.label,
          probe,
          status: 'skipped',
          why: 'the Services say nothing about it',
        });
        continue;
      }
      v.probes++;
      if (p.check === 'sticks') {
        sport++;
        const rec = await stickiness(p, probe, lab, kernel, input.sides !== 'kernel');
        records.push(rec);
        if (rec.modelMiss || rec.kernelMiss)
          Object.assign(v, {
            status: 'fail',
            failure: {
              label: p.label,
              probe,
              oracle: rec.oracle!,
              ...(rec.modelMiss ? { modelMiss: rec.modelMiss } : {}),
              ...(rec.kernelMiss ? { kernelMiss: rec.kernelMiss } : {}),
            },
          });
        continue;
      }
      const oracle = showDistribution(expectedOf(want));
      const rec: ProbeRecord = { service: p.service, label: p.label, probe, status: 'sent', oracle };
      records.push(rec);
      const failure: ProbeFailure = { label: p.label, probe, oracle };
      if (input.sides !== 'kernel') {
        const runs = runProbe(lab, newWorld(lab), probe);
        const dist = runs.map((x) => ({ p: x.p, value: x.value.observation }));
        const open = dist.map((d) => d.value.indeterminate).filter((x) => x !== undefined);
        if (open.length) {
          // the probe's result hinges on rules the model cannot evaluate: the model cannot judge the Service
          // (the kernel still can); the record says which rules decide
          const rules = [
            ...new Set(open.flatMap((x) => x.decidedBy.map((r) => `${r.table} ${r.chain} rule ${r.rule} (${r.why})`))),
          ];
          const outcomes = [...new Set(open.flatMap((x) => x.outcomes))].join(' or ');
          rec.model = 'indeterminate';
          rec.indeterminate = `${outcomes}, decided by ${rules.join('; ')}`;
          if (v.status === 'pass') {
            v.status = 'unsupported';
            v.hinges = true;
            v.reason = `probe "${p.label}" hinges on ${rules.join('; ')}`;
          }
        } else {
          // every model probe starts from a fresh world: no affinity entry yet, so even a sticky Service's
          // first connection must follow the oracle's distribution exactly
          const miss = modelMiss(
            want.map(({ affinity: _a, ...w }) => w),
            dist,
            src,
            probe.sport,
          );
          rec.model = miss ? 'fail' : 'pass';
          if (miss) {
            rec.modelMiss = miss;
            Object.assign(failure, {
              modelMiss: miss,
              model: dist,
              modelTrace:
                runs[
                  Math.max(
                    0,
                    unexpectedBranch(
                      want.map(({ affinity: _a, ...w }) => w),
                      dist,
                      src,
                      probe.sport,
                    ),
                  )
                ]?.value.trace ?? [],
            });
          }
        }
      }
      if (kernel) {
        const k = await kernel.probe(probe, { counters: true });
        const miss = kernelMiss(want, k, src, probe.sport);
        rec.kernel = miss ? 'fail' : 'pass';
        if (miss) {
          rec.kernelMiss = miss;
          Object.assign(failure, { kernelMiss: miss, kernel: k });
        }
      }
      if (failure.modelMiss || failure.kernelMiss) {
        Object.assign(v, { status: 'fail', failure });
        delete v.hinges;
      }
    }
    input.onProgress?.(planned.length, planned.length);
  } finally {
    await kernel?.down();
  }
  const warnings = nftDump
    ? unexplainedNft(nftDump.ruleset, cluster, nodeName)
    : unexplainedRules(xt!.ruleset, cluster, nodeName);
  if (besides) warnings.push(...besides.warnings);
  for (const j of settings.missingJumps) {
    // iptables "nat PREROUTING -> KUBE-SERVICES"; nft "ip kube-proxy nat-prerouting -> services"
    const words = j.split(' ');
    const [table, chain] = nftDump ? [`${words[0]} ${words[1]}`, words[2]!] : [words[0]!, words[1]!];
    warnings.push({
      table,
      chain,
      text: j,
      why: nftDump
        ? "kube-proxy's jump from its base chain is missing (or the chain lacks its hook): that path is broken"
        : "kube-proxy's jump from a built-in chain is missing: the dump may be partial" +
          ' (iptables-save -t TABLE?) or that path is broken',
    });
  }
  if (settings.markMismatch)
    warnings.push({
      table: `ip kube-proxy`,
      chain: 'masquerading',
      text: settings.markMismatch,
      why: 'the masquerade mark set is not the one tested: traffic to masquerade is not masqueraded',
    });
  if (settings.localnetUnprotected)
    warnings.push({
      table: 'filter',
      chain: 'KUBE-FIREWALL',
      text: 'filter KUBE-FIREWALL: no drop of outside packets to 127.0.0.0/8',
      why:
        'localhost NodePorts are on (route_localnet=1) but nothing drops outside packets to 127/8' +
        ' (kube-proxy and kubelet add that rule)',
    });
  return {
    node: nodeName,
    clusterCIDR: clusterCIDR ?? '',
    detector,
    settings,
    podCIDR,
    services: [...verdicts.values()],
    warnings,
    objectWarnings: cluster.warnings,
    unsupported,
    kernel: runKernel ? 'ran' : 'skipped',
    ...(input.kernelSkip && input.sides !== 'model' ? { kernelSkip: input.kernelSkip } : {}),
    topology: topo,
    probes: records,
    sent: records.filter((r) => r.status === 'sent').length,
  };
}

/** ClientIP affinity: a second connection from the same client reaches the endpoint of the first. */
async function stickiness(
  p: PlannedProbe,
  probe: Probe & { sport: number },
  lab: ReturnType<typeof makeLab>,
  kernel: KernelLab | undefined,
  model: boolean,
): Promise<ProbeRecord> {
  const rec: ProbeRecord = {
    service: p.service,
    label: p.label,
    probe,
    status: 'sent',
    oracle: 'a second connection reaches the endpoint of the first',
  };
  const again = { ...probe, sport: probe.sport + 1 };
  if (model) {
    const misses: string[] = [];
    for (const first of runProbe(lab, newWorld(lab), probe)) {
      const was = first.value.observation.responder;
      for (const second of runProbe(lab, first.value.world, again))
        if (second.value.observation.responder !== was)
          misses.push(`first ${was ?? 'no answer'}, then ${second.value.observation.responder ?? 'no answer'}`);
    }
    rec.model = misses.length ? 'fail' : 'pass';
    if (misses.length) rec.modelMiss = `model: the affinity does not hold (${[...new Set(misses)].join('; ')})`;
  }
  if (kernel) {
    const a = await kernel.probe(probe);
    const b = await kernel.probe(again);
    rec.kernel = a.responder === b.responder ? 'pass' : 'fail';
    if (rec.kernel === 'fail')
      rec.kernelMiss =
        `kernel: the affinity does not hold (first ${a.responder ?? 'no answer'}, then` +
        ` ${b.responder ?? 'no answer'})`;
  }
  return rec;
}

/** A /24 for the lab's pods when no local endpoint shows one: inside the cluster CIDR if known, clear of endpoints. */
function freePodCidr(clusterCIDR: string | undefined, endpoints: string[]): string | undefined {
  const base = clusterCIDR ? parseCidr(clusterCIDR) : parseCidr('10.254.0.0/16');
  if (!base) return undefined;
  const used = endpoints.map((e) => parseIp(e)!);
  if (base.len > 24) return clusterCIDR;
  for (let k = 0; k < 2 ** (24 - base.len) && k < 4096; k++) {
    const net = { addr: (base.addr + k * 256) >>> 0, len: 24 };
    if (!used.some((a) => cidrContains(net, a))) return `${formatIp(net.addr)}/24`;
  }
  return undefined;
}

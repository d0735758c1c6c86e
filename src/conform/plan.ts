// One case, read and checked once: the plan every consumer reads (the model run, the kernel run, the mutant
// oracle, explain.md, repro.sh, the Docker runtime). Services are compiled, the iptables choice is applied,
// every ruleset is parsed once in its host's iptables flavor with its canonical text, and every probe's source
// ports are fixed by one counter (README "How the pieces are built", spec/equivalence.md §1).
import {
  parseRuleset,
  printRuleset,
  isInputError,
  compileTopology,
  K8S_NODE,
  InputError,
  type IptablesFlavor,
  type Network,
  type Probe,
  type Ruleset,
  type TopologySpec,
  type NftRuleset,
  type LoadKind,
  parseNft,
  parseNftCommands,
  detectLanguage,
  type RuleLanguage,
  LOAD_KINDS,
} from '../model/index.ts';
import type { ProxyMode } from '../kube/proxy-mode.ts';
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';
import { readCluster } from '../kube/objects.ts';
import { nftNodeState } from '../kube/compile-nft.ts';
import type { CompilerMutant } from '../kube/mutants.ts';
import { builtinImpl, type Implementation, type ImplInput } from './impl.ts';
import {
  caseTopology,
  isApply,
  isWait,
  isControl,
  isCommand,
  otherBackend,
  type CommandStep,
  type ConntrackMatch,
  mixesBackends,
  mixedHosts,
  type CaseFile,
  type CaseServices,
  type Expectation,
  type ProbeStep,
  type Step,
} from './case-file.ts';

import { FIRST_PORT } from './ports.ts';

export { FIRST_PORT, LAST_PORT } from './ports.ts';

/** A ruleset as the model read it (once), and what the kernel is given. */
export interface PlannedRuleset {
  host: string;
  /** iptables rules (in `flavor`); or, in an apply step, native nft (`nft -f` text; `flavor` then says nothing) */
  lang: RuleLanguage;
  flavor: IptablesFlavor;
  /** as the case wrote it */
  text: string;
  /** the model's reading; undefined when it refused the text */
  parsed: Ruleset | undefined;
  refusal: InputError | undefined;
  /** the canonical iptables-save form (command lines are not iptables-restore input); the raw text when the
   *  model refused it, so that the kernel judges it too */
  kernelText: string;
}

/** A native nft ruleset as the model read it (once); the kernel is given the text as written (`nft -f`). */
export interface PlannedNft {
  host: string;
  text: string;
  parsed: NftRuleset | undefined;
  refusal: InputError | undefined;
}

export interface ProbePlan {
  kind: 'probe';
  index: number;
  label: string;
  /** the probe without its source port */
  probe: Probe;
  /** the source port of each repetition (the same on every side) */
  sports: number[];
  expect: Expectation | undefined;
  /** with repeat: the kernel's counts must fit the model's probabilities (chi-square) */
  distribution: boolean;
  /** the Services in force at this step, when the Service-level oracle judges it */
  oracleCluster: string | undefined;
}

export interface ApplyPlan {
  kind: 'apply';
  index: number;
  label: string;
  rulesets: PlannedRuleset[];
  expectRefused: boolean;
}

export interface WaitPlan {
  kind: 'wait';
  index: number;
  label: string;
  seconds: number;
}

/** A command between probes (spec/case-file.md): typed, run on both sides. */
export type CaseCommand =
  | { type: 'conntrack'; host: string; match: ConntrackMatch | undefined }
  | {
      type: 'recent';
      host: string;
      list: string;
      op: 'add' | 'remove' | 'flush';
      addr: string | undefined;
      expectRefused: boolean;
    }
  | { type: 'iptables'; hosts: { host: string; flavor: IptablesFlavor; lines: string[] }[]; expectRefused: boolean }
  /** `nft -f` of each host's text on its current nft state, one transaction per host */
  | { type: 'nft'; hosts: { host: string; text: string }[]; expectRefused: boolean };

export interface CommandPlan {
  kind: 'command';
  index: number;
  label: string;
  command: CaseCommand;
}

export type PlannedStep = ProbePlan | ApplyPlan | WaitPlan | CommandPlan;

export interface CasePlan {
  /** the case with Services compiled and the iptables choice applied (what case.json and repro.sh replay) */
  case: CaseFile;
  name: string;
  file: string | undefined;
  topology: TopologySpec;
  network: Network;
  /** each host's rules in its own iptables flavor */
  rulesets: PlannedRuleset[];
  /** rules in a host's other flavor, loaded second: both are evaluated (spec/semantics.md §2.3) */
  otherRulesets: PlannedRuleset[];
  /** native nft rulesets (spec/nft.md) */
  nftRulesets: PlannedNft[];
  /** the order each host loads its rule sources in (hosts not listed: LOAD_KINDS' order) */
  loadOrder: Map<string, readonly LoadKind[]>;
  steps: PlannedStep[];
  /** probes sent in all (repetitions counted) */
  probes: number;
  /** a fresh lab, not a reset one: legacy tables, once used, stay registered */
  freshLab: boolean;
  /** the hosts the case mixes backends on: each needs a lab as new there (LabPool.get) */
  mixedHosts: string[];
  services: CaseServices | undefined;
  /** kube-proxy's mode the Services were compiled in */
  mode: ProxyMode;
}

export interface PlanOptions {
  /** the implementation that compiles Services (default: the built-in compiler, or `mutant`) */
  impl?: Implementation;
  mutant?: CompilerMutant;
  /** every host's rules with this iptables flavor, whatever the case says */
  iptables?: IptablesFlavor;
  /** the first source port (a lab pool gives cases sharing a lab disjoint ranges) */
  firstPort?: number;
  /** kube-proxy's mode the Services are compiled in (default iptables) */
  mode?: ProxyMode;
  /** nftables mode: the kube-proxy release whose table shape the Services are compiled in (default the newest) */
  kubeProxyVersion?: KubeProxyVersion;
}

export function stepLabel(s: Step, i: number): string {
  if (s.label) return s.label;
  if (isApply(s)) return `apply ${Object.keys(s.apply).join(', ')}`;
  if (isWait(s)) return `wait ${s.wait} s`;
  if ('conntrack' in s)
    return `conntrack ${s.conntrack.flush ? '-F' : `-D ${JSON.stringify(s.conntrack.delete)}`} on ${s.conntrack.host}`;
  if ('recent' in s) return `recent ${s.recent.list} on ${s.recent.host}`;
  if ('iptables' in s) return `iptables on ${Object.keys(s.iptables).join(', ')}`;
  if ('nft' in s) return `nft on ${Object.keys(s.nft).join(', ')}`;
  const port = s.proto === 'icmp' ? '' : `:${s.dport}`;
  return `${s.from} ${s.proto} ${s.dst}${port}${s.repeat ? ` ×${s.repeat}` : ''} (#${i + 1})`;
}

export function probeOf(s: ProbeStep): Probe {
  const p: Probe = { from: s.from, proto: s.proto, dst: s.dst };
  if (s.dport !== undefined) p.dport = s.dport;
  if (s.src !== undefined) p.src = s.src;
  if (s.sport !== undefined) p.sport = s.sport;
  if (s.connected === false) p.connected = false;
  return p;
}

/** How many probes a case sends (repetitions counted): the size of its port range. */
export const probeCount = (c: CaseFile): number =>
  c.steps.reduce((n, st) => n + (isControl(st) ? 0 : (st.repeat ?? 1)), 0);

/** A case's expected length on a lab, in probe times, to hand the longest out first (fuzz.ts): each probe, each
 *  second of a wait (about two dropped probes' time: DEFAULT_PROBE_TIMEOUT_MS and its confirmation), a little for
 *  each other step and for the case's set-up and reset. An estimate for ordering only. */
export const caseCost = (c: CaseFile): number =>
  c.steps.reduce((n, st) => n + (isWait(st) ? 2 * st.wait : isControl(st) ? 0.2 : (st.repeat ?? 1)), 1);

/** One host's ruleset, read once in the given flavor. */
/** One host's ruleset, read once in the given flavor; nft text (Services compiled in nftables mode, in an apply
 *  step) is read as nft and given to the kernel as written (the run applies it on the host's nft state). */
export function planRuleset(c: CaseFile, host: string, text: string, flavor: IptablesFlavor): PlannedRuleset {
  const lang = detectLanguage(text);
  try {
    if (lang === 'nft') {
      // its commands run on the host's nft state when applied (paired-run.ts nftOnto): a resync deletes objects
      // only the host holds, so only the syntax is read here
      parseNftCommands(text, `${c.file ?? c.name}#${host}@nft`);
      return { host, lang, flavor, text, parsed: undefined, refusal: undefined, kernelText: text };
    }
    const parsed = parseRuleset(text, { file: `${c.file ?? c.name}#${host}@${flavor}`, backend: flavor });
    return { host, lang, flavor, text, parsed, refusal: undefined, kernelText: printRuleset(parsed) };
  } catch (e) {
    if (!isInputError(e)) throw e;
    return { host, lang, flavor, text, parsed: undefined, refusal: e, kernelText: text };
  }
}

/** iptables-nft's tables (ip family): native nft beside iptables-nft must leave them alone. */
const XT_TABLES = new Set(['raw', 'mangle', 'nat', 'filter', 'security']);

/** One host's nft ruleset, read once. Beside iptables-nft rules, touching iptables-nft's own tables (or flushing
 *  the ruleset after them) is outside the model: refused as unsupported (spec/semantics.md §2.4). */
export function planNft(
  c: CaseFile,
  host: string,
  text: string,
  beside: { xtNft: boolean; xtNftBefore: boolean },
): PlannedNft {
  const file = `${c.file ?? c.name}#${host}@nft`;
  try {
    if (beside.xtNft)
      for (const cmd of parseNftCommands(text, file)) {
        if (cmd.op === 'flush-ruleset' && beside.xtNftBefore)
          throw new InputError('unsupported', "flush ruleset after iptables-nft's rules: not modelled", cmd.pos);
        if ('family' in cmd && cmd.family === 'ip' && XT_TABLES.has(cmd.table))
          throw new InputError(
            'unsupported',
            `table ip ${cmd.table} is iptables-nft's: not modelled beside it`,
            cmd.pos,
          );
      }
    // what is outside the subset is read around (spec/nft.md §3a): a packet that meets it is indeterminate
    return { host, text, parsed: parseNft(text, { file, problems: [] }), refusal: undefined };
  } catch (e) {
    if (!isInputError(e)) throw e;
    return { host, text, parsed: undefined, refusal: e };
  }
}

/** The plan of a case. Rulesets the model refuses are kept with their refusal (see `acceptedRulesets`). */
export async function planCase(c0: CaseFile, opts: PlanOptions = {}): Promise<CasePlan> {
  const c = withIptables(
    await withServices(c0, opts.impl ?? builtinImpl(opts.mutant), opts.mode ?? 'iptables', opts.kubeProxyVersion),
    opts.iptables,
  );
  const topology = caseTopology(c);
  const network = compileTopology(topology);
  const flavorOf = (h: string) => network.hosts.get(h)?.backend ?? 'nft';
  const rulesets: PlannedRuleset[] = [];
  const otherRulesets: PlannedRuleset[] = [];
  const nftRulesets: PlannedNft[] = [];
  const loadOrder = new Map<string, readonly LoadKind[]>();
  for (const [h, s] of Object.entries(c.hosts ?? {})) {
    if (s.ruleset !== undefined) rulesets.push(planRuleset(c, h, s.ruleset, flavorOf(h)));
    if (s.otherBackendRuleset !== undefined)
      otherRulesets.push(planRuleset(c, h, s.otherBackendRuleset, otherBackend(flavorOf(h))));
    const order = s.loadOrder ?? LOAD_KINDS;
    loadOrder.set(h, order);
    if (s.nft !== undefined) {
      const flavors = [flavorOf(h), otherBackend(flavorOf(h))];
      const before = order.slice(0, order.indexOf('nft'));
      const xtNft =
        (s.ruleset !== undefined && flavors[0] === 'nft') ||
        (s.otherBackendRuleset !== undefined && flavors[1] === 'nft');
      const xtNftBefore =
        (before.includes('ruleset') && s.ruleset !== undefined && flavors[0] === 'nft') ||
        (before.includes('otherBackendRuleset') && s.otherBackendRuleset !== undefined && flavors[1] === 'nft');
      nftRulesets.push(planNft(c, h, s.nft, { xtNft, xtNftBefore }));
    }
  }
  let port = opts.firstPort ?? FIRST_PORT;
  let cluster = c.services?.text;
  const steps = c.steps.map((s, index): PlannedStep => {
    const label = stepLabel(s, index);
    if (isWait(s)) return { kind: 'wait', index, label, seconds: s.wait };
    if (isCommand(s)) return { kind: 'command', index, label, command: commandOf(s, flavorOf) };
    if (isApply(s)) {
      cluster = servicesOf(s) ?? cluster;
      return {
        kind: 'apply',
        index,
        label,
        rulesets: Object.entries(s.apply).map(([h, text]) => planRuleset(c, h, text, flavorOf(h))),
        expectRefused: s.expectRefused ?? false,
      };
    }
    const probe = probeOf(s);
    const sports = Array.from({ length: s.repeat ?? 1 }, () => s.sport ?? port++);
    return {
      kind: 'probe',
      index,
      label,
      probe,
      sports,
      expect: (opts.mode === 'nftables' && s.expectNftables) || s.expect,
      distribution: s.distribution ?? false,
      oracleCluster: s.oracle === false ? undefined : cluster,
    };
  });
  return {
    case: c,
    name: c.name,
    file: c.file,
    topology,
    network,
    rulesets,
    otherRulesets,
    nftRulesets,
    loadOrder,
    steps,
    probes: probeCount(c),
    freshLab: mixesBackends(c),
    mixedHosts: mixedHosts(c),
    services: c.services,
    mode: opts.mode ?? 'iptables',
  };
}

function commandOf(s: CommandStep, flavorOf: (h: string) => IptablesFlavor): CaseCommand {
  if ('conntrack' in s) return { type: 'conntrack', host: s.conntrack.host, match: s.conntrack.delete };
  if ('recent' in s) {
    const r = s.recent;
    const op = r.add !== undefined ? 'add' : r.remove !== undefined ? 'remove' : 'flush';
    return {
      type: 'recent',
      host: r.host,
      list: r.list,
      op,
      addr: r.add ?? r.remove,
      expectRefused: s.expectRefused ?? false,
    };
  }
  if ('nft' in s)
    return {
      type: 'nft',
      hosts: Object.entries(s.nft).map(([host, text]) => ({ host, text })),
      expectRefused: s.expectRefused ?? false,
    };
  return {
    type: 'iptables',
    hosts: Object.entries(s.iptables).map(([host, lines]) => ({ host, flavor: flavorOf(host), lines })),
    expectRefused: s.expectRefused ?? false,
  };
}

/** The initial rulesets, all of which the model must accept: a refusal is the case's input error. */
export function acceptedRulesets(plan: CasePlan): void {
  for (const r of [...plan.rulesets, ...plan.otherRulesets, ...plan.nftRulesets])
    if (r.refusal && !(plan.mode === 'nftables' && plan.nftRulesets.includes(r as PlannedNft) && unsupported(r)))
      throw r.refusal;
}

const unsupported = (r: { refusal: InputError | undefined }) => r.refusal?.kind === 'unsupported';

/** Why the model cannot judge this plan, if it cannot: Services compiled in nftables mode with nft features
 *  outside the model's subset (spec/nft.md §3, e.g. ClientIP affinity's dynamic sets). The kernel and the
 *  Service-level oracle still judge it. */
export function modelUnsupported(plan: CasePlan): string | undefined {
  if (plan.mode !== 'nftables') return undefined;
  const later = plan.steps.flatMap((s) => (s.kind === 'apply' ? s.rulesets.filter((r) => r.lang === 'nft') : []));
  const part = [...plan.nftRulesets, ...later].find(unsupported);
  return part ? `the model does not read all of ${part.host}'s nft rules: ${part.refusal!.message}` : undefined;
}

/** host -> nft ruleset, for the model. */
export function modelNft(plan: CasePlan): Map<string, NftRuleset> {
  return new Map(plan.nftRulesets.flatMap((r) => (r.parsed ? [[r.host, r.parsed] as const] : [])));
}

/** The plan's rule sources in load order, host by host (what the kernel side loads, and repro.sh). */
export type PlannedLoad = { kind: 'xt'; r: PlannedRuleset } | { kind: 'nft'; r: PlannedNft };
export function plannedLoads(plan: CasePlan): PlannedLoad[] {
  const hosts = [...new Set([...plan.rulesets, ...plan.otherRulesets, ...plan.nftRulesets].map((r) => r.host))];
  return hosts.flatMap((h) =>
    (plan.loadOrder.get(h) ?? LOAD_KINDS).flatMap((k): PlannedLoad[] => {
      if (k === 'nft') return plan.nftRulesets.filter((r) => r.host === h).map((r) => ({ kind: 'nft' as const, r }));
      const list = k === 'ruleset' ? plan.rulesets : plan.otherRulesets;
      return list.filter((r) => r.host === h).map((r) => ({ kind: 'xt' as const, r }));
    }),
  );
}

/** host -> ruleset, for the model (each host's own flavor, or the other one). */
export function modelRulesets(list: readonly PlannedRuleset[]): Map<string, Ruleset> {
  return new Map(list.flatMap((r) => (r.parsed ? [[r.host, r.parsed] as const] : [])));
}

/** The case with every host on one iptables flavor (nft or legacy). */
export function withIptables(c: CaseFile, flavor: IptablesFlavor | undefined): CaseFile {
  if (!flavor) return c;
  const hosts = structuredClone(c.hosts ?? {});
  const topo = caseTopology(c);
  // a host with rules in both flavors keeps its own choice
  for (const h of topo.hosts)
    if (hosts[h.name]?.otherBackendRuleset === undefined) (hosts[h.name] ??= {}).backend = flavor;
  return { ...c, hosts };
}

/** A case with "services": each node's ruleset compiled from them by the implementation under test (the
 *  built-in compiler by default), bridge ports in hairpin mode (kubelet's hairpin-veth); `apply: { services }`
 *  steps become the nodes' new rulesets. What the implementation writes must parse: else an input error naming it. */
export async function withServices(
  c: CaseFile,
  impl: Implementation = builtinImpl(),
  mode: ProxyMode = 'iptables',
  kubeProxyVersion?: KubeProxyVersion,
): Promise<CaseFile> {
  if (!c.services?.text) return c;
  const svc = c.services;
  // nftables mode: each node's kube-proxy table as the model holds it after each compiled ruleset, so that a
  // resync is told what the node holds (kube-proxy deletes what went away: compile-nft.ts staleCommands)
  const state = new Map<string, NftRuleset>();
  const compileAll = async (text: string): Promise<Record<string, string>> => {
    const cluster: unknown = JSON.parse(text);
    readCluster(text, svc.file, { strict: true }); // the Services must be valid whatever the implementation
    const out: Record<string, string> = {};
    for (const n of K8S_NODE.nodes) {
      const held = state.get(n.name);
      const existing = held ? nftNodeState(held) : undefined;
      const input: ImplInput = {
        apiVersion: 'nfconform/v1',
        node: { name: n.name, addresses: [...n.addresses] },
        clusterCIDR: svc.clusterCIDR,
        masqueradeAll: svc.masqueradeAll ?? false,
        localhostNodePorts: svc.localhostNodePorts ?? false,
        ...(svc.localTrafficDetector === false ? { localTrafficDetector: false } : {}),
        ...(svc.nodePortAddresses ? { nodePortAddresses: svc.nodePortAddresses } : {}),
        proxyMode: mode,
        ...(mode === 'nftables' && kubeProxyVersion ? { kubeProxyVersion } : {}),
        cluster,
        ...(existing ? { existing } : {}),
      };
      const rules = await impl.compile(input, text, svc.file);
      const file = `${impl.name} (output for ${n.name})`;
      if (mode === 'nftables') {
        const rs = readNftOutput(rules, file, held);
        if (rs) state.set(n.name, rs);
      } else parseRuleset(rules, { file });
      out[n.name] = rules;
    }
    return out;
  };
  const hosts = structuredClone(c.hosts ?? {});
  for (const [node, text] of Object.entries(await compileAll(svc.text!))) {
    const h = (hosts[node] ??= {});
    // nftables mode: the node's native nft (hosts.H.nft), loaded after any iptables rules the case has
    if (mode === 'nftables') h.nft ??= text;
    else h.ruleset ??= text;
  }
  for (const n of K8S_NODE.nodes) if (hosts[n.name]!.hairpin === undefined) hosts[n.name]!.hairpin = [...n.bridgePorts];
  // in step order: each resync starts from what the one before left on the node
  const steps: Step[] = [];
  for (const s of c.steps) {
    if (!isApply(s) || s.apply.services === undefined) {
      steps.push(s);
      continue;
    }
    const compiled = { ...s, apply: await compileAll(s.apply.services), [SERVICES_TEXT]: s.apply.services };
    steps.push(compiled);
  }
  return { ...c, hosts, steps };
}

/** What an implementation wrote in nftables mode: nft text the model reads (features outside its subset are
 *  left to the kernel and the oracle: modelUnsupported); iptables-save text there is bad output. */
function readNftOutput(rules: string, file: string, base?: NftRuleset): NftRuleset | undefined {
  if (detectLanguage(rules) !== 'nft')
    throw new InputError('invalid', 'nftables mode: the implementation wrote no nft ruleset (`nft -f` text)', {
      file,
      line: 1,
      col: 1,
    });
  try {
    return parseNft(rules, { file, ...(base ? { base } : {}) });
  } catch (e) {
    if (!isInputError(e) || e.kind !== 'unsupported') throw e;
    return undefined;
  }
}

/** The Services text an apply step installed, kept beside the compiled rulesets (not written to case.json). */
const SERVICES_TEXT = Symbol('services');
function servicesOf(s: Step): string | undefined {
  return (s as { [SERVICES_TEXT]?: string })[SERVICES_TEXT];
}

/** The plan's probe steps. */
export const probeSteps = (plan: CasePlan): ProbePlan[] => plan.steps.filter((s): s is ProbePlan => s.kind === 'probe');

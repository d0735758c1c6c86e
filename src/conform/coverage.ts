// What a campaign exercised (issue 14 §4 "Coverage"): how often each descriptor option, match, target,
// sysctl value, step kind, topology variant and outcome occurred in the cases it ran, and which of the things
// the model implements never did. Counted from each case as the engine ran it (the rulesets the model
// loaded, the steps, the settings) and from the observations of the side that judged (the kernel, or the
// stand-in model).
import {
  EXTENSIONS,
  DEFAULT_SYSCTLS,
  K8S_NODE,
  parseRuleset,
  isInputError,
  compileTopology,
  lookupRoute,
  ifaceConf,
  SYSCTL_VALUES,
  type TopologySpec,
  type IfaceSysctls,
  type Outcome,
  type Ruleset,
  type Sysctls,
  type IptablesFlavor,
} from '../model/index.ts';
import { caseTopology, isApply, isCommand, isWait, mixesBackends, type CaseFile } from './case-file.ts';

/** Does `host` route some prefix to a gateway that routes it straight back (a two-router loop)? */
function routesBackAndForth(topo: TopologySpec, host: string): boolean {
  const net = compileTopology(topo);
  const h = net.hosts.get(host)!;
  // a loop needs both ends to forward: the preset's client, the node's default gateway, does not
  if (!h.sysctls.ip_forward) return false;
  return h.routes.some((r) => {
    if (r.via === undefined) return false;
    const gw = [...net.hosts.values()].find((x) => x.local.has(r.via!));
    if (!gw?.sysctls.ip_forward) return false;
    const back = gw && lookupRoute(gw, r.dst.addr);
    return back?.type === 'unicast' && h.local.has(back.nextHop);
  });
}

/** Does `h` route an address of a node on-link (a route with a device and no gateway, not its own subnet's)? */
function onlinkToANode(topo: TopologySpec, h: TopologySpec['hosts'][number]): boolean {
  const nodes = new Set(K8S_NODE.nodes.map((n) => n.name));
  const owner = new Map<string, string>();
  for (const x of topo.hosts)
    for (const f of x.ifaces) for (const a of f.addrs ?? []) owner.set(a.split('/')[0]!, x.name);
  return (h.routes ?? []).some(
    (r) => r.dev !== undefined && !r.via && nodes.has(owner.get(r.dst.split('/')[0]!) ?? ''),
  );
}

export const COVERAGE_KINDS = ['option', 'match', 'target', 'sysctl', 'step', 'topology', 'outcome'] as const;
export type CoverageKind = (typeof COVERAGE_KINDS)[number];

export interface CoverageReport {
  cases: number;
  /** kind -> item -> how many times (options, matches, targets: rules loaded; the rest: cases or steps) */
  counts: Record<CoverageKind, Record<string, number>>;
  /** kind -> what the model implements that the campaign never exercised */
  zero: Record<CoverageKind, string[]>;
}

const OUTCOMES = [
  'delivered',
  'refused',
  'icmp-error',
  'echo-reply',
  'dropped',
  'indeterminate',
] as const satisfies readonly Outcome[];
// every outcome the observation record can carry is listed (a new one fails typechecking here)
const _allOutcomes: [Exclude<Outcome, (typeof OUTCOMES)[number]>] extends [never] ? true : false = true;
void _allOutcomes;

/** the values of a sysctl the model reads (spec/semantics.md §6): the non-boolean ones' from the checker */
function valuesOf(k: string, v: unknown): readonly number[] {
  if (typeof v === 'boolean') return [0, 1];
  return k in SYSCTL_VALUES ? SYSCTL_VALUES[k as keyof typeof SYSCTL_VALUES] : [Number(v)];
}

/** An interface's own settings (net.ipv4.conf.IF.*) over its host's: counted as "conf.IF KEY=VALUE". */
const IFACE_KEYS = Object.keys(ifaceConf(DEFAULT_SYSCTLS, undefined)) as (keyof IfaceSysctls)[];
const ifaceItem = (k: string, v: unknown) => `conf.IF ${k}=${typeof v === 'boolean' ? Number(v) : v}`;

/** hosts other than the nodes that may route a node's address on-link (the rare draws' on-link variant) */
const ONLINK_HOSTS = K8S_NODE.others.map((o) => o.name);

const STEP_KINDS = [
  'probe tcp',
  'probe udp',
  'probe udp unconnected',
  'probe icmp',
  'probe repeated',
  'apply',
  'apply refused',
  'wait',
  'conntrack -F',
  'conntrack -D',
  'recent',
  ...['-A', '-I', '-R', '-D', '-N', '-F', '-X', '-P'].map((c) => `iptables ${c}`),
];

const VERDICTS = ['ACCEPT', 'DROP', 'RETURN', 'jump', 'goto'];

/** Everything the model implements, per kind: the universe the zero lists are taken from. */
export function coverageUniverse(): Record<CoverageKind, string[]> {
  const sysctl: string[] = [];
  for (const [k, v] of Object.entries(DEFAULT_SYSCTLS) as [keyof Sysctls, unknown][])
    for (const x of valuesOf(k, v)) sysctl.push(`${k}=${x}`);
  const conf = ifaceConf(DEFAULT_SYSCTLS, undefined);
  for (const k of IFACE_KEYS) for (const x of valuesOf(k, conf[k])) sysctl.push(ifaceItem(k, x));
  const ports = K8S_NODE.nodes.flatMap((n) => n.bridgePorts);
  return {
    option: EXTENSIONS.flatMap((d) => d.options.map((o) => `${d.name} ${o.name}`)),
    match: EXTENSIONS.filter((d) => d.type === 'match').map((d) => d.name),
    target: [...VERDICTS, ...EXTENSIONS.filter((d) => d.type === 'target').map((d) => d.name)],
    sysctl,
    step: STEP_KINDS,
    topology: [
      'iptables nft',
      'iptables legacy',
      'both flavors on one host',
      ...ports.flatMap((p) => [`hairpin ${p} on`, `hairpin ${p} off`]),
      ...K8S_NODE.nodes.map((n) => `rules on ${n.name}`),
      ...K8S_NODE.nodes.map((n) => `no default route on ${n.name}`),
      'routing loop',
      ...ONLINK_HOSTS.map((h) => `on-link route to a node address on ${h}`),
    ],
    outcome: [...OUTCOMES],
  };
}

const descOf = (ext: string, type: 'match' | 'target') => EXTENSIONS.find((d) => d.name === ext && d.type === type);

/** The option as written: a spelling the parser stores under another name (MARK --or-mark as --set-xmark, tcp
 *  --syn as --tcp-flags: descriptors' storeAs) counts as itself when the rule's line has it. */
function spelling(ext: string, type: 'match' | 'target', stored: string, words: ReadonlySet<string>): string {
  const desc = descOf(ext, type);
  const written = desc?.options.find((od) => od.storeAs?.name === stored && words.has(od.name));
  return written?.name ?? stored;
}

export class CoverageCounter {
  private cases = 0;
  private readonly counts = Object.fromEntries(COVERAGE_KINDS.map((k) => [k, new Map<string, number>()])) as Record<
    CoverageKind,
    Map<string, number>
  >;

  private add(kind: CoverageKind, item: string, n = 1): void {
    const m = this.counts[kind];
    m.set(item, (m.get(item) ?? 0) + n);
  }

  /** One case as run: its rulesets (as the model reads them), settings and steps; `outcomes`: the judging
   *  side's observed outcome of every probe (repetitions counted). */
  record(c: CaseFile, outcomes: readonly string[]): void {
    this.cases++;
    const topo = caseTopology(c);
    const mixed = mixesBackends(c);
    if (mixed) this.add('topology', 'both flavors on one host');
    for (const h of topo.hosts) {
      const s = c.hosts?.[h.name];
      const flavor: IptablesFlavor = h.backend ?? 'nft';
      const isNode = K8S_NODE.nodes.some((n) => n.name === h.name);
      if (isNode) {
        for (const [k, v] of Object.entries({ ...DEFAULT_SYSCTLS, ...h.sysctls }))
          this.add('sysctl', `${k}=${typeof v === 'boolean' ? Number(v) : v}`);
        for (const f of h.ifaces) if (f.master) this.add('topology', `hairpin ${f.name} ${f.hairpin ? 'on' : 'off'}`);
        if (!(h.routes ?? []).some((r) => r.dst === 'default')) this.add('topology', `no default route on ${h.name}`);
        if (routesBackAndForth(topo, h.name)) this.add('topology', 'routing loop');
        for (const f of h.ifaces)
          for (const [k, v] of Object.entries(f.sysctls ?? {})) this.add('sysctl', ifaceItem(k, v));
      }
      if (ONLINK_HOSTS.includes(h.name) && onlinkToANode(topo, h))
        this.add('topology', `on-link route to a node address on ${h.name}`);
      if (!s?.ruleset && !s?.otherBackendRuleset) continue;
      this.add('topology', `rules on ${h.name}`);
      if (s.ruleset) {
        this.add('topology', `iptables ${flavor}`);
        this.rules(s.ruleset, flavor);
      }
      if (s.otherBackendRuleset) this.rules(s.otherBackendRuleset, flavor === 'nft' ? 'legacy' : 'nft');
    }
    for (const st of c.steps) {
      if (isWait(st)) this.add('step', 'wait');
      else if (isApply(st)) {
        this.add('step', st.expectRefused ? 'apply refused' : 'apply');
        for (const [h, text] of Object.entries(st.apply))
          this.rules(text, topo.hosts.find((x) => x.name === h)?.backend ?? 'nft');
      } else if (isCommand(st)) {
        if ('conntrack' in st) this.add('step', st.conntrack.flush ? 'conntrack -F' : 'conntrack -D');
        else if ('recent' in st) this.add('step', 'recent');
        else if ('nft' in st)
          for (const text of Object.values(st.nft))
            for (const l of text.split(/[\n;]/)) {
              const cmd = /^\s*(add|insert|delete|flush|create)\s+(\w+)/.exec(l);
              if (cmd) this.add('step', `nft ${cmd[1]} ${cmd[2]}`);
            }
        else
          for (const lines of Object.values(st.iptables))
            for (const l of lines) {
              const cmd = /(?:^|\s)(-[AIRDNFXP])(?:\s|$)/.exec(l)?.[1];
              if (cmd) this.add('step', `iptables ${cmd}`);
            }
      } else {
        const unconnected = st.proto === 'udp' && st.connected === false;
        this.add('step', `probe ${st.proto}${unconnected ? ' unconnected' : ''}`);
        if ((st.repeat ?? 1) > 1) this.add('step', 'probe repeated');
      }
    }
    for (const o of outcomes) this.add('outcome', o);
  }

  /** Options, matches and targets of the rules a ruleset text loads (nothing when the model refuses it). */
  private rules(text: string, backend: IptablesFlavor): void {
    let rs: Ruleset;
    try {
      rs = parseRuleset(text, { backend });
    } catch (e) {
      if (isInputError(e)) return;
      throw e;
    }
    const lines = text.split('\n');
    for (const t of rs.tables.values())
      for (const ch of t.chains.values())
        for (const r of ch.rules) {
          const words = new Set((r.pos ? (lines[r.pos.line - 1] ?? '') : '').split(/\s+/));
          for (const m of r.matches) {
            this.add('match', m.name);
            for (const o of m.opts) this.add('option', `${m.name} ${spelling(m.name, 'match', o.name, words)}`);
            // written, but a default the parser drops at once (time --utc: descriptors' omitWhen)
            for (const od of descOf(m.name, 'match')?.options ?? [])
              if (od.omitWhen && words.has(od.name) && !m.opts.some((o) => o.name === od.name))
                this.add('option', `${m.name} ${od.name}`);
          }
          const tg = r.target;
          if (!tg) continue;
          if (tg.kind === 'verdict') this.add('target', tg.verdict);
          else if (tg.kind === 'jump' || tg.kind === 'goto') this.add('target', tg.kind);
          else {
            this.add('target', tg.ext.name);
            for (const o of tg.ext.opts)
              this.add('option', `${tg.ext.name} ${spelling(tg.ext.name, 'target', o.name, words)}`);
          }
        }
  }

  report(): CoverageReport {
    const universe = coverageUniverse();
    const counts = {} as CoverageReport['counts'];
    const zero = {} as CoverageReport['zero'];
    for (const k of COVERAGE_KINDS) {
      const m = this.counts[k];
      counts[k] = Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
      zero[k] = universe[k].filter((x) => !m.get(x));
    }
    return { cases: this.cases, counts, zero };
  }
}

/** The report as text: per kind, how much of the universe was exercised, the items and counts, and the zeros. */
export function renderCoverage(r: CoverageReport, opts: { markdown?: boolean; items?: boolean } = {}): string {
  const universe = coverageUniverse();
  const out: string[] = [];
  if (opts.markdown) {
    out.push('| kind | exercised | counts (most first) | never exercised |', '|---|---|---|---|');
    for (const k of COVERAGE_KINDS) {
      const seen = universe[k].length - r.zero[k].length;
      const items = Object.entries(r.counts[k]).map(([x, n]) => `${x} ${n}`);
      out.push(
        `| ${k} | ${seen} of ${universe[k].length} | ${items.join(', ').replace(/\|/g, '\\|')} |` +
          ` ${r.zero[k].join(', ').replace(/\|/g, '\\|') || '-'} |`,
      );
    }
    return out.join('\n');
  }
  out.push(`coverage of ${r.cases} cases:`);
  for (const k of COVERAGE_KINDS) {
    const seen = universe[k].length - r.zero[k].length;
    out.push(`  ${k}: ${seen} of ${universe[k].length} exercised`);
    if (opts.items)
      out.push(
        `    ${Object.entries(r.counts[k])
          .map(([x, n]) => `${x} ${n}`)
          .join(', ')}`,
      );
    if (r.zero[k].length) out.push(`    never: ${r.zero[k].join(', ')}`);
  }
  return out.join('\n');
}

/** Campaigns run as parts (one seed each: scripts/campaign.ts) as one: counts summed, and a thing is never
 *  exercised only when no part exercised it. */
export function mergeCoverage(parts: readonly CoverageReport[]): CoverageReport {
  const universe = coverageUniverse();
  const counts = {} as CoverageReport['counts'];
  const zero = {} as CoverageReport['zero'];
  for (const k of COVERAGE_KINDS) {
    const m = new Map<string, number>();
    for (const p of parts) for (const [x, n] of Object.entries(p.counts[k] ?? {})) m.set(x, (m.get(x) ?? 0) + n);
    counts[k] = Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
    zero[k] = universe[k].filter((x) => !m.get(x));
  }
  return { cases: parts.reduce((s, p) => s + p.cases, 0), counts, zero };
}

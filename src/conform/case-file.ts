// Case files (spec/case-file.md, spec/case.schema.json): a topology, per-host
// rulesets and settings, and steps (probes with optional expectations, or new
// rulesets). Suites are named, tagged case files.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's suites folder. */
export const SUITES_DIR = fileURLToPath(new URL('../../suites/', import.meta.url));

/** Every case file below `dir` (JSON files; schemas and the fixtures/ inputs excluded), in a stable order. */
/** Folders findCaseFiles does not walk into: fixtures, and the real-world corpus (its own runner,
 *  `npm run realworld`: suites/realworld/README.md), whose rulesets may hold what the model lacks. */
const NOT_SUITES = new Set(['fixtures', 'realworld']);

export function findCaseFiles(dir: string = SUITES_DIR): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (!NOT_SUITES.has(name)) out.push(...findCaseFiles(p));
    } else if (name.endsWith('.json') && !name.endsWith('.schema.json')) out.push(p);
  }
  return out;
}

import {
  PRESETS,
  compileTopology,
  type TopologySpec,
  type Probe,
  type Observation,
  type IptablesFlavor,
  type Sysctls,
  type IfaceSysctls,
  type LoadKind,
  LOAD_KINDS,
} from '../model/index.ts';
import { quote } from '../model/index.ts';
import { JsonChecker, loadJson, type JsonPath } from '../model/index.ts';
import { limits, limitHint } from '../model/index.ts';
import { parseIp, parseCidr } from '../model/index.ts';
import {
  checkTopology,
  checkSysctls,
  checkIfaceSysctls,
  checkIpCapture,
  isIpCapture,
  topologyFromIpJson,
} from '../model/index.ts';
import { ifNameProblem } from '../model/index.ts';
import { readInputFile, readReference } from './input-files.ts';
import type { ConntrackArgs } from '../lab/kernel-lab.ts';
import type { ErrorReport } from '../model/index.ts';

export interface HostSettings {
  /** iptables-save text or iptables command lines (a list of lines is joined) */
  ruleset?: string;
  /** or a file with it, relative to the case file */
  rulesetFile?: string;
  backend?: IptablesFlavor;
  /** rules loaded with the other iptables backend after `ruleset`: both are evaluated (spec/semantics.md §2.3) */
  otherBackendRuleset?: string;
  /** a native nft ruleset (`nft -f` text), loaded after the iptables rules unless `loadOrder` says otherwise */
  nft?: string;
  /** or a file with it, relative to the case file */
  nftFile?: string;
  /** the order the host loads its rule sources in: each of those given, once (spec/semantics.md §2.4) */
  loadOrder?: LoadKind[];
  sysctls?: Partial<Sysctls>;
  /** bridge ports with hairpin mode on */
  hairpin?: string[];
  /** per-interface sysctls (net.ipv4.conf.IFACE.*), by interface name */
  ifaceSysctls?: Record<string, Partial<IfaceSysctls>>;
  /** ipset state (`ipset save` lines), loaded before the rules (spec/modules.md) */
  ipsets?: string[];
}

export type Expectation = Partial<Pick<Observation, 'outcome' | 'responder' | 'icmp' | 'replyFrom'>> & {
  /** fields of the error record that must hold; null: no error */
  error?: Partial<ErrorReport> | null;
  /** "any": at least one possible result meets the expectation; default "all" */
  mode?: 'all' | 'any';
  seenSrc?: string;
  seenDst?: string;
  /** the server saw this source address (any port) */
  seenSrcAddr?: string;
  /** `responder` may be any of these */
  responderIn?: string[];
  /** with repeat: every repetition has the same responder (session affinity) */
  sticky?: boolean;
};

export interface ProbeStep extends Probe {
  /** false: the Service-level oracle does not judge this probe (it describes fresh connections only) */
  oracle?: boolean;
  repeat?: number;
  /** with repeat: the kernel's outcome/responder counts must fit the model's probabilities (chi-square) */
  distribution?: boolean;
  expect?: Expectation;
  /** what holds instead of `expect` when the case's Services are compiled in kube-proxy's nftables mode (its
   *  documented differences: spec/kube.md §2a) */
  expectNftables?: Expectation;
  /** a name for the step in reports */
  label?: string;
}

export interface ApplyStep {
  /** host -> ruleset; or, in a case with "services", the key "services" -> a new Services file */
  apply: Record<string, string>;
  /** the kernel (and so the model) must refuse it */
  expectRefused?: boolean;
  label?: string;
}

/** Time passes (seconds): conntrack and recent entries age on both backends. */
export interface WaitStep {
  wait: number;
  label?: string;
}

/** conntrack -D filters (typed: each becomes one option of the command, never shell text) */
export type ConntrackMatch = ConntrackArgs;

/** `conntrack -F` (flush) or `conntrack -D` (delete, with filters) on one host, on both sides. */
export interface ConntrackStep {
  conntrack: { host: string; flush?: true; delete?: ConntrackMatch };
  label?: string;
}

/** A write to /proc/net/xt_recent/LIST on one host: add or remove an address, or empty the list. */
export interface RecentStep {
  recent: { host: string; list: string; add?: string; remove?: string; flush?: true };
  /** the write must fail on both sides: no rule of the host names the list (its /proc file is gone) */
  expectRefused?: boolean;
  label?: string;
}

/** iptables commands run one by one on each host's current rules (-A -I -R -D -N -F -X -P), in its flavor. */
export interface IptablesStep {
  iptables: Record<string, string[]>;
  /** the kernel (and so the model) must refuse one of them */
  expectRefused?: boolean;
  label?: string;
}

/** nft commands (`nft -f` text) run on each host's current nft state as one transaction, all or nothing
 *  (spec/case-file.md, spec/nft.md §8.2): kube-proxy's incremental updates (`add|delete element`, `flush chain`,
 *  `delete rule ... handle N`, ...). */
export interface NftStep {
  nft: Record<string, string>;
  /** the kernel (and so the model) must refuse it on one host */
  expectRefused?: boolean;
  label?: string;
}

export type CommandStep = ConntrackStep | RecentStep | IptablesStep | NftStep;
export type Step = ProbeStep | ApplyStep | WaitStep | CommandStep;

export function isCommand(s: Step): s is CommandStep {
  return 'conntrack' in s || 'recent' in s || 'iptables' in s || 'nft' in s;
}

export function isWait(s: Step): s is WaitStep {
  return 'wait' in s;
}

export interface CaseServices {
  /** `kubectl get svc,endpointslices -A -o json` output, relative to the case file */
  file: string;
  clusterCIDR: string;
  masqueradeAll?: boolean;
  localhostNodePorts?: boolean;
  /** false: kube-proxy runs without a local-traffic detector (no --cluster-cidr; spec/kube.md); the cluster
   *  CIDR then only says where the pods are */
  localTrafficDetector?: boolean;
  /** kube-proxy's --nodeport-addresses: IPv4 CIDRs or addresses, or `primary` (spec/kube.md) */
  nodePortAddresses?: string[];
  /** read from `file` */
  text?: string;
}

export interface CaseFile {
  /** Services compiled into each node's ruleset and judged by the Service-level oracle */
  services?: CaseServices;
  name: string;
  description?: string;
  tags?: string[];
  /** what the seed says and what is actually true, for claim suites */
  claim?: { id: string; seed: string; actual?: string };
  topology: string | TopologySpec;
  hosts?: Record<string, HostSettings>;
  steps: Step[];
  /** where it was read from */
  file?: string;
}

export function isApply(s: Step): s is ApplyStep {
  return 'apply' in s;
}

/** A step that sends nothing (a ruleset change or a pause). */
export function isControl(s: Step): s is Exclude<Step, ProbeStep> {
  return !('from' in s);
}

/** Where a case file may read the files it names (spec/case-file.md "Files"). */
export interface CaseLoadOptions {
  /** folders besides the case file's own and the project's suites/ below which its references may point */
  allowPaths?: readonly string[];
}

/** Reads and checks a case file; every problem names the file, line:col and the JSON path of the field. */
export function loadCase(file: string): CaseFile {
  return readCase(file, {});
}

/** loadCase, with more folders its references may point into. */
export function readCase(file: string, opts: CaseLoadOptions): CaseFile {
  const text = readInputFile(file, 'a case file');
  return loadJson(text, file, (raw, j) => checkCaseWith(raw, j, file, opts), 'the case file');
}

/** A parsed case file, checked (the files it names are read, confined as in loadCase). */
export function checkCase(raw: unknown, file: string, opts: CaseLoadOptions = {}): CaseFile {
  return checkCaseWith(raw, new JsonChecker(file), file, opts);
}

const STEP_KEYS = {
  wait: ['wait', 'label'],
  conntrack: ['conntrack', 'label'],
  recent: ['recent', 'expectRefused', 'label'],
  iptables: ['iptables', 'expectRefused', 'label'],
  nft: ['nft', 'expectRefused', 'label'],
  apply: ['apply', 'expectRefused', 'label'],
  probe: [
    'from',
    'proto',
    'dst',
    'dport',
    'src',
    'sport',
    'connected',
    'repeat',
    'oracle',
    'label',
    'expect',
    'expectNftables',
    'distribution',
    'observed',
  ],
} as const;
const EXPECT_KEYS = [
  'mode',
  'outcome',
  'responder',
  'responderIn',
  'icmp',
  'seenSrc',
  'seenDst',
  'seenSrcAddr',
  'sticky',
  'replyFrom',
  'error',
];
const OUTCOMES = ['delivered', 'refused', 'icmp-error', 'echo-reply', 'dropped'] as const;
const ipv4 = (s: string) => (parseIp(s) === undefined ? 'not an IPv4 address' : undefined);
const noControl = (s: string) => (/[\u0000-\u001f\u007f]/.test(s) ? 'control characters are not allowed' : undefined);

function checkCaseWith(raw: unknown, j: JsonChecker, file: string, opts: CaseLoadOptions): CaseFile {
  const lim = limits();
  const c = j.obj(
    raw,
    [],
    ['$schema', 'name', 'description', 'tags', 'claim', 'services', 'topology', 'topologyFile', 'hosts', 'steps'],
  );
  const ref = (v: unknown, path: JsonPath) =>
    readReference(file, j.str(v, path, { max: 4096 }), path, j, [SUITES_DIR, ...(opts.allowPaths ?? [])]);
  const out: CaseFile = {
    name: j.str(c.name, ['name'], { max: 500, grammar: noControl }),
    topology: 'k8s-node',
    steps: [],
    file,
  };
  if (c.description !== undefined) out.description = j.str(c.description, ['description'], { min: 0 });
  if (c.tags !== undefined)
    out.tags = j.arr(c.tags, ['tags'], 1000).map((t, i) => j.str(t, ['tags', i], { max: 200, grammar: noControl }));
  if (c.claim !== undefined) {
    const cl = j.obj(c.claim, ['claim'], ['id', 'seed', 'actual']);
    out.claim = {
      id: j.str(cl.id, ['claim', 'id'], {
        grammar: (s) => (/^C[0-9]{1,6}$/.test(s) ? undefined : 'must be C<number>'),
      }),
      seed: j.str(cl.seed, ['claim', 'seed'], { min: 0 }),
    };
    if (cl.actual !== undefined) out.claim.actual = j.str(cl.actual, ['claim', 'actual'], { min: 0 });
  }

  // the topology first: hosts, steps and settings are checked against it
  if (c.topologyFile !== undefined) {
    // a topology file or an ip capture (one host's `ip -j` output: spec/snapshot.md), relative to the case
    if (c.topology !== undefined) j.fail(['topologyFile'], 'give either "topology" or "topologyFile", not both');
    const name = j.str(c.topologyFile, ['topologyFile'], { max: 4096 });
    const text = ref(c.topologyFile, ['topologyFile']);
    out.topology = loadJson(
      text,
      name,
      (raw, tj) =>
        isIpCapture(raw) ? topologyFromIpJson(checkIpCapture(raw, tj), { name }).spec : checkTopology(raw, tj),
      'the topology file',
    );
  } else if (c.topology === undefined) out.topology = 'k8s-node';
  else if (typeof c.topology === 'string') {
    if (!PRESETS.has(c.topology))
      j.fail(['topology'], `unknown preset ${quote(c.topology)} (known: ${[...PRESETS.keys()].join(', ')})`);
    out.topology = c.topology;
  } else if (typeof c.topology === 'object' && c.topology !== null && !Array.isArray(c.topology))
    out.topology = checkTopology(c.topology, j, ['topology']);
  else j.fail(['topology'], `must be a preset name (${[...PRESETS.keys()].join(', ')}) or a topology object`);
  const base = typeof out.topology === 'string' ? PRESETS.get(out.topology)!() : out.topology;
  const hostNames = new Set(base.hosts.map((h) => h.name));

  if (c.services !== undefined) {
    const sv = j.obj(
      c.services,
      ['services'],
      ['file', 'clusterCIDR', 'masqueradeAll', 'localhostNodePorts', 'localTrafficDetector', 'nodePortAddresses'],
    );
    const services: CaseServices = {
      file: j.str(sv.file, ['services', 'file']),
      clusterCIDR: j.str(sv.clusterCIDR, ['services', 'clusterCIDR'], {
        grammar: (s) =>
          /^\d+\.\d+\.\d+\.\d+\/\d{1,2}$/.test(s) && parseCidr(s) ? undefined : 'not an IPv4 CIDR a.b.c.d/len',
      }),
    };
    if (sv.masqueradeAll !== undefined)
      services.masqueradeAll = j.bool(sv.masqueradeAll, ['services', 'masqueradeAll']);
    if (sv.localhostNodePorts !== undefined)
      services.localhostNodePorts = j.bool(sv.localhostNodePorts, ['services', 'localhostNodePorts']);
    if (sv.localTrafficDetector !== undefined)
      services.localTrafficDetector = j.bool(sv.localTrafficDetector, ['services', 'localTrafficDetector']);
    if (sv.nodePortAddresses !== undefined)
      services.nodePortAddresses = j.arr(sv.nodePortAddresses, ['services', 'nodePortAddresses'], 64).map((v, i) =>
        j.str(v, ['services', 'nodePortAddresses', i], {
          grammar: (s) =>
            s === 'primary' || (/^\d+\.\d+\.\d+\.\d+(\/\d{1,2})?$/.test(s) && parseCidr(s))
              ? undefined
              : 'not an IPv4 CIDR, an IPv4 address or "primary"',
        }),
      );
    for (const n of ['node', 'node2'])
      if (!hostNames.has(n))
        j.fail(['services'], `a case with Services needs the k8s-node layout (no host ${quote(n)})`);
    services.text = ref(sv.file, ['services', 'file']);
    out.services = services;
  }

  const text = (v: unknown, path: JsonPath): string => {
    if (typeof v === 'string') return v;
    if (Array.isArray(v))
      return (
        j
          .arr(v, path)
          .map((l, i) => j.str(l, [...path, i], { min: 0 }))
          .join('\n') + '\n'
      );
    return j.fail(path, `must be a string or a list of lines, not ${quote(v)}`);
  };
  const hosts: Record<string, HostSettings> = {};
  if (c.hosts !== undefined) {
    const ho = j.obj(c.hosts, ['hosts']);
    for (const [h, v] of Object.entries(ho)) {
      const at = ['hosts', h];
      if (!hostNames.has(h))
        j.fail(at, `no such host in topology ${quote(base.name)} (hosts: ${[...hostNames].join(', ')})`);
      const o = j.obj(v, at, [
        'ruleset',
        'rulesetFile',
        'backend',
        'otherBackendRuleset',
        'nft',
        'nftFile',
        'loadOrder',
        'sysctls',
        'hairpin',
        'ifaceSysctls',
        'ipsets',
      ]);
      const s: HostSettings = {};
      if (o.ruleset !== undefined && o.rulesetFile !== undefined)
        j.fail([...at, 'rulesetFile'], 'give "ruleset" or "rulesetFile", not both');
      if (o.ruleset !== undefined) s.ruleset = text(o.ruleset, [...at, 'ruleset']);
      if (o.rulesetFile !== undefined) {
        s.rulesetFile = j.str(o.rulesetFile, [...at, 'rulesetFile']);
        s.ruleset = ref(o.rulesetFile, [...at, 'rulesetFile']);
      }
      if (o.backend !== undefined) s.backend = j.oneOf(o.backend, [...at, 'backend'], ['nft', 'legacy'] as const);
      if (o.otherBackendRuleset !== undefined)
        s.otherBackendRuleset = text(o.otherBackendRuleset, [...at, 'otherBackendRuleset']);
      if (o.nft !== undefined && o.nftFile !== undefined)
        j.fail([...at, 'nftFile'], 'give "nft" or "nftFile", not both');
      if (o.nft !== undefined) s.nft = text(o.nft, [...at, 'nft']);
      if (o.nftFile !== undefined) {
        s.nftFile = j.str(o.nftFile, [...at, 'nftFile']);
        s.nft = ref(o.nftFile, [...at, 'nftFile']);
      }
      if (o.loadOrder !== undefined) {
        const given = LOAD_KINDS.filter(
          (k) => (k === 'ruleset' ? s.ruleset : k === 'nft' ? s.nft : s.otherBackendRuleset) !== undefined,
        );
        const list = j
          .arr(o.loadOrder, [...at, 'loadOrder'], 3)
          .map((x, i) => j.oneOf(x, [...at, 'loadOrder', i], LOAD_KINDS));
        if (list.length !== given.length || !given.every((k) => list.includes(k)))
          j.fail([...at, 'loadOrder'], `must list each of the host's rule sources once: ${given.join(', ')}`);
        s.loadOrder = list;
      }
      if (o.sysctls !== undefined) s.sysctls = checkSysctls(j, o.sysctls, [...at, 'sysctls']);
      if (o.hairpin !== undefined)
        s.hairpin = j
          .arr(o.hairpin, [...at, 'hairpin'], 256)
          .map((x, i) => j.str(x, [...at, 'hairpin', i], { grammar: ifNameProblem }));
      if (o.ifaceSysctls !== undefined) {
        const per = j.obj(o.ifaceSysctls, [...at, 'ifaceSysctls']);
        // fromEntries: an own property even for a name such as "__proto__"
        s.ifaceSysctls = Object.fromEntries(
          Object.entries(per).map(([name, conf]) => {
            j.str(name, [...at, 'ifaceSysctls', name], { grammar: ifNameProblem });
            return [name, checkIfaceSysctls(j, conf, [...at, 'ifaceSysctls', name])];
          }),
        );
      }
      // read (and each line checked) with the topology, in caseTopology -> compileTopology
      if (o.ipsets !== undefined)
        s.ipsets = text(o.ipsets, [...at, 'ipsets'])
          .split('\n')
          .filter((l) => l.trim() !== '');
      hosts[h] = s;
    }
  }
  out.hosts = hosts;

  const steps = j.arr(c.steps, ['steps'], lim.steps);
  if (steps.length === 0) j.fail(['steps'], 'must have at least one step');
  out.steps = steps.map((v, i): Step => {
    const at = ['steps', i];
    const st = j.obj(v, at);
    if ('wait' in st) {
      j.obj(st, at, STEP_KEYS.wait);
      const w: WaitStep = { wait: j.num(st.wait, [...at, 'wait'], 0, 600) };
      if (st.label !== undefined) w.label = j.str(st.label, [...at, 'label'], { min: 0, max: 500 });
      return w;
    }
    if ('apply' in st) {
      j.obj(st, at, STEP_KEYS.apply);
      const apply: Record<string, string> = {};
      for (const [h, r] of Object.entries(j.obj(st.apply, [...at, 'apply']))) {
        const p = [...at, 'apply', h];
        if (h === 'services') {
          // new Services mid-case: compiled again for every node when the case runs
          if (out.services === undefined) j.fail(p, 'needs a case with "services"');
          apply[h] = ref(r, p);
        } else {
          if (!hostNames.has(h))
            j.fail(p, `no such host in topology ${quote(base.name)} (hosts: ${[...hostNames].join(', ')})`);
          apply[h] = text(r, p);
        }
      }
      const a: ApplyStep = { apply };
      if (st.expectRefused !== undefined) a.expectRefused = j.bool(st.expectRefused, [...at, 'expectRefused']);
      if (st.label !== undefined) a.label = j.str(st.label, [...at, 'label'], { min: 0, max: 500 });
      return a;
    }
    if ('conntrack' in st || 'recent' in st || 'iptables' in st || 'nft' in st)
      return checkCommand(j, st, at, hostNames, text);
    return checkProbe(j, st, at, hostNames, lim.repeat);
  });

  // the topology with the case's settings must hold together (bridge ports, peers, routes)
  compileTopology(caseTopology(out), file, typeof out.topology === 'string' ? [] : ['topology']);
  return out;
}

const CT_MATCH_KEYS = [
  'proto',
  'origSrc',
  'origDst',
  'origSport',
  'origDport',
  'replySrc',
  'replyDst',
  'replySport',
  'replyDport',
] as const;
/** xt_recent: a list name is 1..200 characters, no "/" (it names a file under /proc/net/xt_recent) */
const recentName = (s: string) => (/^[A-Za-z0-9_.-]{1,200}$/.test(s) ? undefined : 'not a recent list name');

function checkCommand(
  j: JsonChecker,
  st: Record<string, unknown>,
  at: JsonPath,
  hosts: Set<string>,
  text: (v: unknown, path: JsonPath) => string,
): CommandStep {
  const host = (v: unknown, p: JsonPath) =>
    j.str(v, p, { grammar: (x) => (hosts.has(x) ? undefined : `no such host (hosts: ${[...hosts].join(', ')})`) });
  const label = (step: { label?: string }) => {
    if (st.label !== undefined) step.label = j.str(st.label, [...at, 'label'], { min: 0, max: 500 });
  };
  if ('conntrack' in st) {
    j.obj(st, at, STEP_KEYS.conntrack);
    const p = [...at, 'conntrack'];
    const o = j.obj(st.conntrack, p, ['host', 'flush', 'delete']);
    const c: ConntrackStep['conntrack'] = { host: host(o.host, [...p, 'host']) };
    if ((o.flush === undefined) === (o.delete === undefined))
      j.fail(p, 'needs one of "flush": true or "delete": {filters}');
    if (o.flush !== undefined) {
      if (j.bool(o.flush, [...p, 'flush']) !== true) j.fail([...p, 'flush'], 'must be true');
      c.flush = true;
    } else {
      const dp = [...p, 'delete'];
      const d = j.obj(o.delete, dp, CT_MATCH_KEYS);
      if (Object.keys(d).length === 0) j.fail(dp, 'needs at least one filter (to delete every entry: "flush": true)');
      const m: ConntrackMatch = {};
      if (d.proto !== undefined) m.proto = j.oneOf(d.proto, [...dp, 'proto'], ['tcp', 'udp', 'icmp'] as const);
      for (const k of ['origSrc', 'origDst', 'replySrc', 'replyDst'] as const)
        if (d[k] !== undefined) m[k] = j.str(d[k], [...dp, k], { grammar: ipv4 });
      for (const k of ['origSport', 'origDport', 'replySport', 'replyDport'] as const)
        if (d[k] !== undefined) {
          if (m.proto !== 'tcp' && m.proto !== 'udp') j.fail([...dp, k], 'a port filter needs "proto": "tcp" or "udp"');
          m[k] = j.int(d[k], [...dp, k], 1, 65535);
        }
      c.delete = m;
    }
    const step: ConntrackStep = { conntrack: c };
    label(step);
    return step;
  }
  if ('recent' in st) {
    j.obj(st, at, STEP_KEYS.recent);
    const p = [...at, 'recent'];
    const o = j.obj(st.recent, p, ['host', 'list', 'add', 'remove', 'flush']);
    const r: RecentStep['recent'] = {
      host: host(o.host, [...p, 'host']),
      list: j.str(o.list, [...p, 'list'], { grammar: recentName }),
    };
    const ops = ['add', 'remove', 'flush'].filter((k) => o[k] !== undefined);
    if (ops.length !== 1) j.fail(p, 'needs exactly one of "add": address, "remove": address, "flush": true');
    if (o.add !== undefined) r.add = j.str(o.add, [...p, 'add'], { grammar: ipv4 });
    if (o.remove !== undefined) r.remove = j.str(o.remove, [...p, 'remove'], { grammar: ipv4 });
    if (o.flush !== undefined) {
      if (j.bool(o.flush, [...p, 'flush']) !== true) j.fail([...p, 'flush'], 'must be true');
      r.flush = true;
    }
    const step: RecentStep = { recent: r };
    if (st.expectRefused !== undefined) step.expectRefused = j.bool(st.expectRefused, [...at, 'expectRefused']);
    label(step);
    return step;
  }
  if ('nft' in st) {
    // nft -f text per host (a string or a list of lines); nft reads it, the model and the kernel judge it
    j.obj(st, at, STEP_KEYS.nft);
    const p = [...at, 'nft'];
    const texts: Record<string, string> = {};
    const o = j.obj(st.nft, p);
    if (Object.keys(o).length === 0) j.fail(p, 'needs at least one host');
    for (const [h, v] of Object.entries(o)) {
      host(h, [...p, h]);
      const t = text(v, [...p, h]);
      if (t.trim() === '') j.fail([...p, h], 'needs at least one command');
      if (t.length > 1_000_000) j.fail([...p, h], 'at most 1,000,000 characters');
      texts[h] = t;
    }
    const step: NftStep = { nft: Object.fromEntries(Object.entries(texts)) };
    if (st.expectRefused !== undefined) step.expectRefused = j.bool(st.expectRefused, [...at, 'expectRefused']);
    label(step);
    return step;
  }
  j.obj(st, at, STEP_KEYS.iptables);
  const p = [...at, 'iptables'];
  const cmds: Record<string, string[]> = {};
  for (const [h, v] of Object.entries(j.obj(st.iptables, p))) {
    host(h, [...p, h]);
    cmds[h] = j
      .arr(v, [...p, h], 1000)
      .map((line, k) => j.str(line, [...p, h, k], { max: 10_000, grammar: noControl }));
    if (cmds[h].length === 0) j.fail([...p, h], 'needs at least one command');
  }
  const step: IptablesStep = { iptables: cmds };
  if (st.expectRefused !== undefined) step.expectRefused = j.bool(st.expectRefused, [...at, 'expectRefused']);
  label(step);
  return step;
}

function checkProbe(
  j: JsonChecker,
  st: Record<string, unknown>,
  at: JsonPath,
  hosts: Set<string>,
  maxRepeat: number,
): ProbeStep {
  j.obj(st, at, STEP_KEYS.probe);
  const from = j.str(st.from, [...at, 'from'], {
    grammar: (s) => (hosts.has(s) ? undefined : `no such host (hosts: ${[...hosts].join(', ')})`),
  });
  const proto = j.oneOf(st.proto, [...at, 'proto'], ['tcp', 'udp', 'icmp'] as const);
  const p: ProbeStep = { from, proto, dst: j.str(st.dst, [...at, 'dst'], { grammar: ipv4 }) };
  if (proto !== 'icmp' && st.dport === undefined) j.fail([...at, 'dport'], `a port 1..65535 is required for ${proto}`);
  if (st.dport !== undefined) p.dport = j.int(st.dport, [...at, 'dport'], 1, 65535);
  if (st.src !== undefined) p.src = j.str(st.src, [...at, 'src'], { grammar: ipv4 });
  if (st.sport !== undefined) p.sport = j.int(st.sport, [...at, 'sport'], 1, 65535);
  if (st.connected !== undefined) {
    if (proto !== 'udp') j.fail([...at, 'connected'], 'is for UDP probes only');
    p.connected = j.bool(st.connected, [...at, 'connected']);
  }
  if (st.repeat !== undefined) {
    if (typeof st.repeat === 'number' && Number.isInteger(st.repeat) && st.repeat > maxRepeat)
      j.fail([...at, 'repeat'], `${st.repeat} repetitions: ${limitHint('repeat')}`);
    p.repeat = j.int(st.repeat, [...at, 'repeat'], 1, maxRepeat);
  }
  if (st.oracle !== undefined) p.oracle = j.bool(st.oracle, [...at, 'oracle']);
  if (st.label !== undefined) p.label = j.str(st.label, [...at, 'label'], { min: 0, max: 500 });
  if (st.distribution !== undefined) p.distribution = j.bool(st.distribution, [...at, 'distribution']);
  if (st.observed !== undefined) j.obj(st.observed, [...at, 'observed']); // informational, not read
  if (st.expect !== undefined) p.expect = checkExpect(j, st.expect, [...at, 'expect']);
  if (st.expectNftables !== undefined) p.expectNftables = checkExpect(j, st.expectNftables, [...at, 'expectNftables']);
  return p;
}

function checkExpect(j: JsonChecker, v: unknown, ep: JsonPath): Expectation {
  const e = j.obj(v, ep, EXPECT_KEYS);
  const x: Expectation = {};
  const orNull = (v: unknown, k: string) => (v === null ? null : j.str(v, [...ep, k], { max: 200 }));
  if (e.mode !== undefined) x.mode = j.oneOf(e.mode, [...ep, 'mode'], ['all', 'any'] as const);
  if (e.outcome !== undefined) x.outcome = j.oneOf(e.outcome, [...ep, 'outcome'], OUTCOMES);
  if (e.responder !== undefined) x.responder = orNull(e.responder, 'responder');
  if (e.responderIn !== undefined)
    x.responderIn = j
      .arr(e.responderIn, [...ep, 'responderIn'], 1000)
      .map((r, k) => j.str(r, [...ep, 'responderIn', k], { max: 200 }));
  if (e.icmp !== undefined) x.icmp = orNull(e.icmp, 'icmp');
  for (const k of ['seenSrc', 'seenDst', 'seenSrcAddr'] as const)
    if (e[k] !== undefined) x[k] = j.str(e[k], [...ep, k], { max: 200 });
  if (e.sticky !== undefined) x.sticky = j.bool(e.sticky, [...ep, 'sticky']);
  if (e.replyFrom !== undefined)
    x.replyFrom = e.replyFrom === null ? null : j.str(e.replyFrom, [...ep, 'replyFrom'], { grammar: ipv4 });
  if (e.error !== undefined) x.error = e.error === null ? null : checkErrorExpect(j, e.error, [...ep, 'error']);
  return x;
}

function checkErrorExpect(j: JsonChecker, v: unknown, path: JsonPath): Partial<ErrorReport> {
  const o = j.obj(v, path, ['kind', 'from', 'type', 'code', 'quoted', 'errno']);
  const out: Partial<ErrorReport> = {};
  const strOrNull = (k: 'from' | 'quoted' | 'errno') =>
    o[k] === null ? null : j.str(o[k], [...path, k], { max: 200, grammar: noControl });
  const intOrNull = (k: 'type' | 'code') => (o[k] === null ? null : j.int(o[k], [...path, k], 0, 255));
  if (o.kind !== undefined) out.kind = j.oneOf(o.kind, [...path, 'kind'], ['tcp-reset', 'icmp', 'local'] as const);
  for (const k of ['from', 'quoted', 'errno'] as const) if (o[k] !== undefined) out[k] = strOrNull(k);
  for (const k of ['type', 'code'] as const) if (o[k] !== undefined) out[k] = intOrNull(k);
  return out;
}

/** The case's topology with its per-host settings (sysctls, hairpin, interface sysctls, backend, ipsets) applied. */
export function caseTopology(c: CaseFile): TopologySpec {
  const base: TopologySpec = typeof c.topology === 'string' ? PRESETS.get(c.topology)!() : structuredClone(c.topology);
  const j: JsonChecker = new JsonChecker(c.file ?? '<case>');
  for (const [h, s] of Object.entries(c.hosts ?? {})) {
    const host = base.hosts.find((x) => x.name === h);
    if (!host) j.fail(['hosts', h], `no such host in topology ${quote(base.name)}`);
    if (s.sysctls) host.sysctls = { ...host.sysctls, ...s.sysctls };
    if (s.backend) host.backend = s.backend;
    if (s.ipsets) host.ipsets = [...(host.ipsets ?? []), ...s.ipsets];
    (s.hairpin ?? []).forEach((port, i) => {
      const iface = host.ifaces.find((x) => x.name === port);
      if (!iface?.master) j.fail(['hosts', h, 'hairpin', i], `${quote(port)} is not a bridge port of ${quote(h)}`);
      iface.hairpin = true;
    });
    for (const [name, conf] of Object.entries(s.ifaceSysctls ?? {})) {
      const iface = host.ifaces.find((x) => x.name === name);
      if (!iface) j.fail(['hosts', h, 'ifaceSysctls', name], `no interface ${quote(name)} on ${quote(h)}`);
      iface.sysctls = { ...iface.sysctls, ...conf };
    }
  }
  return base;
}

export const otherBackend = (b: IptablesFlavor | undefined): IptablesFlavor => (b === 'legacy' ? 'nft' : 'legacy');

/** Cases with rules in both iptables backends, or nft beside iptables, need a fresh lab: legacy tables, once used,
 *  stay registered, and hook registration order decides ties (spec/semantics.md §2.4). */
export function mixesBackends(c: CaseFile): boolean {
  return mixedHosts(c).length > 0;
}

/** The hosts a case gives rules of two backends (iptables-nft and -legacy, or nft beside iptables). */
export function mixedHosts(c: CaseFile): string[] {
  return Object.entries(c.hosts ?? {})
    .filter(([, h]) => h.otherBackendRuleset !== undefined || (h.nft !== undefined && h.ruleset !== undefined))
    .map(([name]) => name);
}

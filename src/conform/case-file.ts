// Case files (spec/case-file.md, spec/case.schema.json): a topology, per-host
// rulesets and settings, and steps (probes with optional expectations, or new
// rulesets). Suites are named, tagged case files.
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's suites folder. */
export const SUITES_DIR = fileURLToPath(new URL('../../suites/', import.meta.url));

/** Every case file below `dir` (JSON files; schemas and the fixtures/ inputs excluded), in a stable order. */
export function findCaseFiles(dir: string = SUITES_DIR): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') out.push(...findCaseFiles(p));
    } else if (name.endsWith('.json') && !name.endsWith('.schema.json')) out.push(p);
  }
  return out;
}

import {
  InputError,
  PRESETS,
  type TopologySpec,
  type Probe,
  type Observation,
  type IptablesFlavor,
} from '../model/index.ts';
import type { Sysctls } from '../model/index.ts';
import type { ErrorReport } from '../model/index.ts';

export interface HostSettings {
  /** iptables-save text or iptables command lines (a list of lines is joined) */
  ruleset?: string;
  /** or a file with it, relative to the case file */
  rulesetFile?: string;
  backend?: IptablesFlavor;
  /** rules loaded with the other iptables backend after `ruleset`: both are evaluated (spec/semantics.md §2.3) */
  otherBackendRuleset?: string;
  sysctls?: Partial<Sysctls>;
  /** bridge ports with hairpin mode on */
  hairpin?: string[];
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

export type Step = ProbeStep | ApplyStep | WaitStep;

export function isWait(s: Step): s is WaitStep {
  return 'wait' in s;
}

export interface CaseServices {
  /** `kubectl get svc,endpointslices -A -o json` output, relative to the case file */
  file: string;
  clusterCIDR: string;
  masqueradeAll?: boolean;
  localhostNodePorts?: boolean;
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
export function isControl(s: Step): s is ApplyStep | WaitStep {
  return 'apply' in s || 'wait' in s;
}

function fail(file: string, reason: string): never {
  throw new InputError('invalid', reason, { file, line: 1, col: 1 });
}

/** Reads and checks a case file; every problem names the file and the field. */
export function loadCase(file: string): CaseFile {
  if (!existsSync(file)) fail(file, 'file not found');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const text = readFileSync(file, 'utf8');
    const pos = m ? Number(m[1]) : 0;
    const line = text.slice(0, pos).split('\n').length;
    const col = pos - text.lastIndexOf('\n', pos - 1);
    throw new InputError('syntax', `not valid JSON: ${(e as Error).message}`, { file, line, col });
  }
  return checkCase(raw, file);
}

export function checkCase(raw: unknown, file: string): CaseFile {
  const c = raw as Record<string, unknown>;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(file, 'a case file is a JSON object');
  if (typeof c.name !== 'string' || !c.name) fail(file, '"name" (a string) is required');
  if (typeof c.topology !== 'string' && (typeof c.topology !== 'object' || c.topology === null))
    fail(file, '"topology" must be a preset name or a topology object');
  if (typeof c.topology === 'string' && !PRESETS[c.topology])
    fail(file, `"topology": unknown preset "${c.topology}" (known: ${Object.keys(PRESETS).join(', ')})`);
  if (!Array.isArray(c.steps) || c.steps.length === 0) fail(file, '"steps" must be a non-empty array');
  const hosts = (c.hosts ?? {}) as Record<string, HostSettings>;
  if (c.services !== undefined) {
    const sv = c.services as Record<string, unknown>;
    if (typeof sv !== 'object' || sv === null || typeof sv.file !== 'string' || typeof sv.clusterCIDR !== 'string')
      fail(file, '"services" needs "file" and "clusterCIDR"');
    const path = resolve(dirname(file), sv.file as string);
    if (!existsSync(path)) fail(file, `services.file: ${path} not found`);
    sv.text = readFileSync(path, 'utf8');
  }
  const text = (v: unknown, where: string): string => {
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.every((l) => typeof l === 'string')) return v.join('\n') + '\n';
    return fail(file, `${where} must be a string or a list of lines`);
  };
  for (const [h, s] of Object.entries(hosts)) {
    if (s.ruleset !== undefined) s.ruleset = text(s.ruleset, `hosts.${h}.ruleset`);
    if (s.rulesetFile !== undefined) {
      const path = resolve(dirname(file), s.rulesetFile);
      if (!existsSync(path)) fail(file, `hosts.${h}.rulesetFile: ${path} not found`);
      s.ruleset = readFileSync(path, 'utf8');
    }
    if (s.backend !== undefined && s.backend !== 'nft' && s.backend !== 'legacy')
      fail(file, `hosts.${h}.backend must be "nft" or "legacy"`);
    if (s.otherBackendRuleset !== undefined)
      s.otherBackendRuleset = text(s.otherBackendRuleset, `hosts.${h}.otherBackendRuleset`);
  }
  (c.steps as unknown[]).forEach((s, i) => {
    const st = s as Record<string, unknown>;
    if (typeof st !== 'object' || st === null) fail(file, `steps[${i}] must be an object`);
    if ('wait' in st) {
      if (typeof st.wait !== 'number' || st.wait < 0 || st.wait > 600)
        fail(file, `steps[${i}].wait must be 0..600 seconds`);
      return;
    }
    if ('apply' in st) {
      if (typeof st.apply !== 'object' || st.apply === null) fail(file, `steps[${i}].apply must map hosts to rulesets`);
      const apply = st.apply as Record<string, unknown>;
      for (const h of Object.keys(apply)) {
        if (h === 'services') {
          // new Services mid-case: compiled again for every node when the case runs
          if (c.services === undefined || typeof apply[h] !== 'string')
            fail(file, `steps[${i}].apply.services needs a case with "services" and a file name`);
          const path = resolve(dirname(file), apply[h] as string);
          if (!existsSync(path)) fail(file, `steps[${i}].apply.services: ${path} not found`);
          apply[h] = readFileSync(path, 'utf8');
        } else apply[h] = text(apply[h], `steps[${i}].apply.${h}`);
      }
      return;
    }
    if (typeof st.from !== 'string') fail(file, `steps[${i}].from (a host) is required`);
    if (!['tcp', 'udp', 'icmp'].includes(st.proto as string)) fail(file, `steps[${i}].proto must be tcp, udp or icmp`);
    if (typeof st.dst !== 'string') fail(file, `steps[${i}].dst (an address) is required`);
    if (st.proto !== 'icmp' && typeof st.dport !== 'number')
      fail(file, `steps[${i}].dport (a number) is required for ${st.proto}`);
    if (st.connected !== undefined && (typeof st.connected !== 'boolean' || st.proto !== 'udp'))
      fail(file, `steps[${i}].connected (true or false) is for UDP probes only`);
    if (st.repeat !== undefined && (typeof st.repeat !== 'number' || st.repeat < 1 || st.repeat > 10000))
      fail(file, `steps[${i}].repeat must be 1..10000`);
  });
  return { ...(c as unknown as CaseFile), hosts, file };
}

/** The case's topology with its per-host settings (sysctls, hairpin, backend) applied. */
export function caseTopology(c: CaseFile): TopologySpec {
  const base: TopologySpec = typeof c.topology === 'string' ? PRESETS[c.topology]!() : structuredClone(c.topology);
  for (const [h, s] of Object.entries(c.hosts ?? {})) {
    const host = base.hosts.find((x) => x.name === h);
    if (!host) fail(c.file ?? '<case>', `hosts.${h}: no such host in topology ${base.name}`);
    if (s.sysctls) host.sysctls = { ...host.sysctls, ...s.sysctls };
    if (s.backend) host.backend = s.backend;
    for (const port of s.hairpin ?? []) {
      const i = host.ifaces.find((x) => x.name === port);
      if (!i?.master) fail(c.file ?? '<case>', `hosts.${h}.hairpin: ${port} is not a bridge port`);
      i.hairpin = true;
    }
  }
  return base;
}

export const otherBackend = (b: IptablesFlavor | undefined): IptablesFlavor => (b === 'legacy' ? 'nft' : 'legacy');

/** Cases with rules in both iptables backends at once need a fresh lab: legacy tables, once used, stay registered. */
export function mixesBackends(c: CaseFile): boolean {
  return Object.values(c.hosts ?? {}).some((h) => h.otherBackendRuleset !== undefined);
}

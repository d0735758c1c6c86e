// Reading the CLI's inputs: topologies (preset or file) and rulesets per host.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  InputError,
  parseRuleset,
  compileTopology,
  PRESETS,
  type Ruleset,
  type Network,
  type TopologySpec,
  type IptablesFlavor,
  detectLanguage,
  parseNft,
  parseNftJson,
  isNftJson,
  printNft,
  type NftRuleset,
  type RuleLanguage,
} from '../model/index.ts';
import { quote } from '../model/index.ts';
import { loadJson } from '../model/index.ts';
import {
  checkTopology,
  checkIpCapture,
  isIpCapture,
  topologyFromIpJson,
  readSysctlText,
  parseJson,
} from '../model/index.ts';
import type { IpJson } from '../model/index.ts';
import { readInputFile } from '../conform/input-files.ts';
import { systemAccounts } from '../conform/system-accounts.ts';

const kindOf = (p: string) => (existsSync(p) ? 'exists' : 'missing');

/** A file named on the command line: a regular file within the size cap (directories and devices are refused). */
export function readText(path: string): string {
  return readInputFile(path);
}

/**
 * A folder of one host's `ip -j` output (spec/snapshot.md "A topology from ip -j output"): link.json
 * (`ip -j -d link`), addr.json (`ip -j addr`), route.json (`ip -j route`, optional) and sysctl.txt
 * (`sysctl -a` text, optional).
 */
export function readIpDir(dir: string): IpJson {
  if (!existsSync(join(dir, 'link.json')))
    throw new InputError(
      'invalid',
      '--topology: is a directory, and not one of ip -j output (link.json, addr.json, route.json: spec/snapshot.md)',
      { file: dir, line: 0, col: 0 },
    );
  const part = (name: string): unknown[] => {
    const file = join(dir, name);
    const raw = parseJson(readInputFile(file, `an ip -j output (${name})`), file);
    if (!Array.isArray(raw))
      throw new InputError('invalid', `expected a JSON array, as ip -j prints`, { file, line: 1, col: 1 });
    return raw;
  };
  const out: IpJson = { link: part('link.json'), addr: part('addr.json'), route: [] };
  if (existsSync(join(dir, 'route.json'))) out.route = part('route.json');
  const sysctl = join(dir, 'sysctl.txt');
  if (existsSync(sysctl)) out.sysctls = readSysctlText(readInputFile(sysctl, 'sysctl output'), sysctl);
  return out;
}

/** `--topology`: a preset's name (looked up in a Map), a topology file (spec/topology.schema.json), an ip
 *  capture file, or a folder of `ip -j` output; the last two describe one host, named "node". */
export function loadTopologySpec(nameOrFile: string): TopologySpec {
  const preset = PRESETS.get(nameOrFile);
  if (preset) return preset();
  if (existsSync(nameOrFile) && statSync(nameOrFile).isDirectory()) {
    const spec = topologyFromIpJson(readIpDir(nameOrFile), { name: nameOrFile }).spec;
    compileTopology(spec, nameOrFile);
    return spec;
  }
  if (!/[./]/.test(nameOrFile) && kindOf(nameOrFile) === 'missing')
    throw new InputError(
      'invalid',
      `--topology: no preset or file ${quote(nameOrFile)} (presets: ${[...PRESETS.keys()].join(', ')})`,
      { file: '<command line>', line: 0, col: 0 },
    );
  const text = readInputFile(nameOrFile, 'a topology file');
  return loadJson(
    text,
    nameOrFile,
    (raw, j) => {
      const spec = isIpCapture(raw)
        ? topologyFromIpJson(checkIpCapture(raw, j), { name: nameOrFile }).spec
        : checkTopology(raw, j);
      compileTopology(spec, nameOrFile); // the parts must hold together too
      return spec;
    },
    'the topology file',
  );
}

export function loadTopology(nameOrFile: string): Network {
  return compileTopology(loadTopologySpec(nameOrFile), nameOrFile);
}

/** "host=path" pairs; each file is iptables-save output or iptables command lines. */
export function loadRulesets(pairs: readonly string[], net: Network): Map<string, Ruleset> {
  return loadHostRules(pairs, net, 'iptables').xt;
}

/** Each host's rules from --ruleset HOST=FILE: iptables-save input, or nft (`nft -f` input, `nft list ruleset`,
 *  `nft -j list ruleset`) told by the content unless `lang` says; a host may have one of each. `nftText` keeps
 *  what the kernel loads with `nft -f` (JSON: the model's listing of it). */
export function loadHostRules(
  pairs: readonly string[],
  net: Network,
  lang?: RuleLanguage,
): { xt: Map<string, Ruleset>; nft: Map<string, NftRuleset>; nftText: Map<string, string> } {
  const out = new Map<string, Ruleset>();
  const nft = new Map<string, NftRuleset>();
  const nftText = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new InputError('syntax', `--ruleset expects HOST=FILE, got "${pair}"`, {
        file: '<command line>',
        line: 1,
        col: 1,
      });
    const host = pair.slice(0, eq);
    const file = pair.slice(eq + 1);
    const h = net.hosts.get(host);
    if (!h)
      throw new InputError(
        'invalid',
        `--ruleset: no host "${host}" in topology ${net.name} (hosts: ${[...net.hosts.keys()].join(', ')})`,
        { file: '<command line>', line: 1, col: 1 },
      );
    const text = readText(file);
    const twice = (what: string) =>
      new InputError('invalid', `--ruleset: two ${what} rulesets for host "${host}"`, {
        file: '<command line>',
        line: 1,
        col: 1,
      });
    if ((lang ?? detectLanguage(text)) === 'nft') {
      if (nft.has(host)) throw twice('nft');
      const rs = isNftJson(text) ? parseNftJson(text, file) : parseNft(text, { file });
      nft.set(host, rs);
      nftText.set(host, isNftJson(text) ? printNft(rs) : text);
      continue;
    }
    if (out.has(host)) throw twice('iptables');
    out.set(host, parseRuleset(text, { file, backend: h.backend as IptablesFlavor, accounts: systemAccounts() }));
  }
  return { xt: out, nft, nftText };
}

// Reading the CLI's inputs: topologies (preset or file) and rulesets per host.
import { readFileSync, existsSync } from 'node:fs';
import {
  InputError,
  parseRuleset,
  compileTopology,
  PRESETS,
  type Ruleset,
  type Network,
  type TopologySpec,
  type IptablesFlavor,
} from '../model/index.ts';

export function readText(path: string): string {
  if (!existsSync(path)) throw new InputError('invalid', `file not found: ${path}`, { file: path, line: 1, col: 1 });
  return readFileSync(path, 'utf8');
}

export function loadTopologySpec(nameOrFile: string): TopologySpec {
  const preset = PRESETS[nameOrFile];
  if (preset) return preset();
  const text = readText(nameOrFile);
  try {
    return JSON.parse(text) as TopologySpec;
  } catch (e) {
    throw new InputError('syntax', `topology is not valid JSON: ${(e as Error).message}`, {
      file: nameOrFile,
      line: 1,
      col: 1,
    });
  }
}

export function loadTopology(nameOrFile: string): Network {
  return compileTopology(loadTopologySpec(nameOrFile), nameOrFile);
}

/** "host=path" pairs; each file is iptables-save output or iptables command lines. */
export function loadRulesets(pairs: readonly string[], net: Network): Map<string, Ruleset> {
  const out = new Map<string, Ruleset>();
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
    out.set(host, parseRuleset(readText(file), { file, backend: h.backend as IptablesFlavor }));
  }
  return out;
}

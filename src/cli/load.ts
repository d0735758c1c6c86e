// Reading the CLI's inputs: topologies (preset or file) and rulesets per host.
import { existsSync } from 'node:fs';
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
import { quote } from '../model/index.ts';
import { loadJson } from '../model/index.ts';
import { checkTopology } from '../model/index.ts';
import { readInputFile } from '../conform/input-files.ts';

const kindOf = (p: string) => (existsSync(p) ? 'exists' : 'missing');

/** A file named on the command line: a regular file within the size cap (directories and devices are refused). */
export function readText(path: string): string {
  return readInputFile(path);
}

/** `--topology`: a preset's name (looked up in a Map) or a topology file, checked against spec/topology.schema.json. */
export function loadTopologySpec(nameOrFile: string): TopologySpec {
  const preset = PRESETS.get(nameOrFile);
  if (preset) return preset();
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
      const spec = checkTopology(raw, j);
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

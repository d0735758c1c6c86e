// `nfconform lint FILE`: read a ruleset as iptables-restore would, print its canonical iptables-save form.
import { parseArgs } from 'node:util';
import { InputError, parseRuleset, printRuleset, type Backend } from '../model/index.ts';
import { readText } from './load.ts';

export const LINT_USAGE =
  'usage: nfconform lint FILE [--backend nft|legacy]   (prints the canonical iptables-save form, or the first error)';

export function lintCommand(argv: string[], write: (s: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { backend: { type: 'string', default: 'nft' } },
  });
  const backend = values.backend;
  if (backend !== 'nft' && backend !== 'legacy')
    throw new InputError('syntax', `--backend must be nft or legacy`, { file: '<command line>', line: 1, col: 1 });
  if (positionals.length === 0) throw new InputError('syntax', LINT_USAGE, { file: '<command line>', line: 1, col: 1 });
  for (const file of positionals)
    write(printRuleset(parseRuleset(readText(file), { file, backend: backend as Backend })));
  return 0;
}

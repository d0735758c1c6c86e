// `nfconform lint FILE`: read a ruleset as iptables-restore would, print its canonical iptables-save form.
import { parseRuleset, printRuleset } from '../model/index.ts';
import { readText } from './load.ts';
import { readFlags, cmdline, oneOf, IPTABLES_FLAVORS } from './args.ts';

export const LINT_USAGE =
  'usage: nfconform lint FILE [--iptables nft|legacy]   (prints the canonical iptables-save form, or the first error)';

export function lintCommand(argv: string[], write: (s: string) => void): number {
  const { values, positionals } = readFlags(argv, { iptables: { type: 'string' }, backend: { type: 'string' } }, true);
  // --backend is the older spelling of --iptables
  const flavor = values.iptables ?? values.backend;
  const backend = oneOf(values.iptables ? '--iptables' : '--backend', flavor ?? 'nft', IPTABLES_FLAVORS);
  if (positionals.length === 0) throw cmdline(LINT_USAGE);
  for (const file of positionals) write(printRuleset(parseRuleset(readText(file), { file, backend })));
  return 0;
}

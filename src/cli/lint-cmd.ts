// `nfconform lint FILE`: read a ruleset as iptables-restore or `nft -f` would, print its canonical form
// (iptables-save, or `nft list ruleset`). The language is read off the content unless --lang says it.
import { parseArgs } from 'node:util';
import { InputError, parseRuleset, printRuleset, type Backend } from '../model/index.ts';
import { lintNft, printNft, detectLanguage } from '../model/nft/index.ts';
import { readText } from './load.ts';

export const LINT_USAGE =
  'usage: nfconform lint FILE [--lang iptables|nft] [--backend nft|legacy]   (prints the canonical form, or the errors)';

const cmdLine = { file: '<command line>', line: 1, col: 1 };

export function lintCommand(argv: string[], write: (s: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { backend: { type: 'string', default: 'nft' }, lang: { type: 'string' } },
  });
  const backend = values.backend;
  if (backend !== 'nft' && backend !== 'legacy')
    throw new InputError('syntax', `--backend must be nft or legacy`, cmdLine);
  if (values.lang !== undefined && values.lang !== 'nft' && values.lang !== 'iptables')
    throw new InputError('syntax', `--lang must be iptables or nft`, cmdLine);
  if (positionals.length === 0) throw new InputError('syntax', LINT_USAGE, cmdLine);
  for (const file of positionals) {
    const text = readText(file);
    const lang = values.lang ?? detectLanguage(text);
    if (lang === 'iptables') {
      write(printRuleset(parseRuleset(text, { file, backend: backend as Backend })));
      continue;
    }
    const { ruleset, errors } = lintNft(text, { file });
    if (errors.length) {
      const [first, ...rest] = errors as [InputError, ...InputError[]];
      const more = rest.map((e) => `\nnfconform: ${e.message}`).join('');
      throw new InputError(first.kind, `${first.reason}${more}`, first.pos);
    }
    write(printNft(ruleset));
  }
  return 0;
}

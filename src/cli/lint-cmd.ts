// `nfconform lint FILE`: read a ruleset as iptables-restore or `nft -f` would, print its canonical form
// (iptables-save, or `nft list ruleset`). The language is read off the content unless --lang says it.
import { InputError, parseRuleset, printRuleset, lintNft, printNft, detectLanguage } from '../model/index.ts';
import { readText } from './load.ts';
import { readFlags, cmdline, oneOf, IPTABLES_FLAVORS } from './args.ts';
import { LINT_USAGE } from './usage.ts';

const LANGS = ['iptables', 'nft'] as const;

export function lintCommand(argv: string[], write: (s: string) => void): number {
  const { values, positionals } = readFlags(
    argv,
    { iptables: { type: 'string' }, backend: { type: 'string' }, lang: { type: 'string' } },
    true,
  );
  // --backend is the older spelling of --iptables
  const flavor = values.iptables ?? values.backend;
  const backend = oneOf(values.iptables ? '--iptables' : '--backend', flavor ?? 'nft', IPTABLES_FLAVORS);
  const forced = values.lang === undefined ? undefined : oneOf('--lang', values.lang, LANGS);
  if (positionals.length === 0) throw cmdline(LINT_USAGE);
  for (const file of positionals) {
    const text = readText(file);
    if ((forced ?? detectLanguage(text)) === 'iptables') {
      write(printRuleset(parseRuleset(text, { file, backend })));
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

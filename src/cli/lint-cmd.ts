// `nfconform lint FILE`: read a ruleset as iptables-restore or `nft -f` would, print its canonical form
// (iptables-save, or `nft list ruleset`). The language is read off the content unless --lang says it.
import {
  InputError,
  parseRuleset,
  printRuleset,
  lintNft,
  printNft,
  detectLanguage,
  isNftJson,
  parseNftJson,
} from '../model/index.ts';
import { readText } from './load.ts';
import { systemAccounts } from '../conform/system-accounts.ts';
import { readFlags, cmdline, oneOf, IPTABLES_FLAVORS } from './args.ts';
import { LINT_USAGE } from './usage.ts';

const LANGS = ['iptables', 'nft'] as const;

export function lintCommand(argv: string[], write: (s: string) => void): number {
  const { values, positionals } = readFlags(
    argv,
    {
      iptables: { type: 'string' },
      backend: { type: 'string' },
      lang: { type: 'string' },
      strict: { type: 'boolean' },
      noflush: { type: 'boolean' },
    },
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
      // every problem of the file in one run: errors (exit 2), and unsupported features as warnings
      // unless --strict makes them errors too
      const problems: InputError[] = [];
      // -m owner names resolve through this machine's accounts, as iptables here resolves them
      const rs = parseRuleset(text, {
        file,
        backend,
        problems,
        accounts: systemAccounts(),
        ...(values.noflush ? { noflush: true } : {}),
      });
      const byPos = (a: InputError, b: InputError) =>
        (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0);
      const fatal = problems.filter((p) => values.strict || p.kind !== 'unsupported').sort(byPos);
      if (fatal.length) {
        const [first, ...rest] = problems.sort(byPos) as [InputError, ...InputError[]];
        const more = rest.map((e) => `\nnfconform: ${e.message}`).join('');
        throw new InputError(first.kind, `${first.reason}${more}`, first.pos);
      }
      for (const w of problems.sort(byPos)) process.stderr.write(`nfconform lint: warning: ${w.message}\n`);
      write(printRuleset(rs));
      continue;
    }
    // the JSON form: its first error (exit 2), else the same listing. Text: what is outside the subset is read
    // around as the packet path reads it (spec/nft.md §3a) and reported as a warning, an error with --strict
    const problems: InputError[] = [];
    const { ruleset, errors } = isNftJson(text)
      ? { ruleset: parseNftJson(text, file), errors: [] }
      : lintNft(text, { file, problems });
    const fatal = [...(values.strict ? problems : []), ...errors];
    if (fatal.length) {
      const [first, ...rest] = fatal as [InputError, ...InputError[]];
      const more = rest.map((e) => `\nnfconform: ${e.message}`).join('');
      throw new InputError(first.kind, `${first.reason}${more}`, first.pos);
    }
    for (const w of problems) process.stderr.write(`nfconform lint: warning: ${w.message}\n`);
    write(printNft(ruleset));
  }
  return 0;
}

// Variants of a node's dump for measuring validate's detection power (`npm run validate-power`):
// each rule deleted in turn, and systematic edits (a wrong DNAT port, a wrong probability, a
// masquerade mark that no longer matches KUBE-POSTROUTING). Variants that cannot change what any
// packet meets are named equivalent, with the reason, and left out of the score.
import { parseRuleset, printRuleSpec, type Rule } from '../model/index.ts';

export type VariantKind = 'delete' | 'dnat-port' | 'probability' | 'masq-mark';

export interface DumpVariant {
  id: string;
  kind: VariantKind;
  /** 1-based line of the dump that was changed */
  line: number;
  before: string;
  after?: string;
  text: string;
  /** why this variant cannot change behaviour, if so */
  equivalent?: string;
}

const RULE = /^(?:\[\d+:\d+\]\s+)?-A (\S+) ?(.*)$/;

/** The rules of the dump by line, parsed (for the equivalence checks). */
function rulesByLine(text: string): Map<number, { chain: string; rule: Rule; table: string }> {
  const out = new Map<number, { chain: string; rule: Rule; table: string }>();
  const rs = parseRuleset(text, { file: 'dump' });
  for (const [table, t] of rs.tables)
    for (const c of t.chains.values())
      for (const r of c.rules) if (r.pos) out.set(r.pos.line, { chain: c.name, rule: r, table });
  return out;
}

const specTokens = (r: Rule) => {
  const { target: _t, counters: _c, ...rest } = r;
  return printRuleSpec({ ...rest, matches: r.matches.filter((m) => m.name !== 'comment') })
    .split(' ')
    .filter(Boolean);
};
const targetOf = (r: Rule) => (r.target ? printRuleSpec({ matches: [], target: r.target }) : '');

/** Why deleting this rule changes nothing, if so. */
function deletionEquivalent(
  line: number,
  rules: Map<number, { chain: string; rule: Rule; table: string }>,
  chains: Map<string, number>,
): string | undefined {
  const me = rules.get(line);
  if (!me) return undefined;
  if (!me.rule.target) return 'a rule without a target only counts packets';
  const to = me.rule.target.kind === 'jump' ? me.rule.target.chain : undefined;
  if (to && (chains.get(`${me.table} ${to}`) ?? 0) === 0) return `it jumps to ${to}, which is empty`;
  // subsumed by the next rule of the same chain: same target, matches a superset of its packets
  const next = [...rules.entries()]
    .filter(([l, x]) => l > line && x.chain === me.chain && x.table === me.table)
    .sort((a, b) => a[0] - b[0])[0]?.[1];
  if (next && targetOf(next.rule) === targetOf(me.rule)) {
    const mine = specTokens(me.rule).join(' ');
    const theirs = specTokens(next.rule);
    // every match of the next rule also appears in this one (it matches at least the same packets)
    const subsumes = theirs.every((t) => mine.split(' ').includes(t));
    if (subsumes && !me.rule.matches.some((m) => m.name === 'statistic' || m.name === 'recent'))
      return 'the next rule has the same target and matches every packet this one does (only counters differ)';
  }
  return undefined;
}

/** The dump's lines with line `i` (0-based) replaced by `s`, or deleted. */
export const withLine = (lines: readonly string[], i: number, s: string | undefined): string =>
  [...lines.slice(0, i), ...(s === undefined ? [] : [s]), ...lines.slice(i + 1)].join('\n');

/** A variant that replaces line `i` by `after`. */
export const edited = (
  lines: readonly string[],
  i: number,
  kind: VariantKind,
  id: string,
  after: string,
): DumpVariant => ({
  id: `${id} line ${i + 1}`,
  kind,
  line: i + 1,
  before: lines[i]!,
  after,
  text: withLine(lines, i, after),
});

/** Rule line `i` deleted, and its DNAT port changed (the DNAT written `<dnat> ADDR:PORT`): both languages. */
export function ruleLineVariants(
  lines: readonly string[],
  i: number,
  dnat: '--to-destination' | 'dnat to',
  equivalent: string | undefined,
): DumpVariant[] {
  const l = lines[i]!;
  const out: DumpVariant[] = [
    {
      id: `delete line ${i + 1}`,
      kind: 'delete',
      line: i + 1,
      before: l,
      text: withLine(lines, i, undefined),
      ...(equivalent ? { equivalent } : {}),
    },
  ];
  const port = new RegExp(`${dnat} (\\d+\\.\\d+\\.\\d+\\.\\d+):(\\d+)`).exec(l);
  if (port)
    out.push(
      edited(
        lines,
        i,
        'dnat-port',
        'wrong DNAT port',
        l.replace(port[0], `${dnat} ${port[1]}:${(Number(port[2]) % 65535) + 1}`),
      ),
    );
  return out;
}

export function dumpVariants(text: string): DumpVariant[] {
  const lines = text.split('\n');
  const rules = rulesByLine(text);
  const chains = new Map<string, number>();
  for (const x of rules.values()) chains.set(`${x.table} ${x.chain}`, (chains.get(`${x.table} ${x.chain}`) ?? 0) + 1);
  const out: DumpVariant[] = [];
  lines.forEach((l, i) => {
    if (!RULE.test(l)) return;
    out.push(...ruleLineVariants(lines, i, '--to-destination', deletionEquivalent(i + 1, rules, chains)));
    const prob = /--probability (\d+(?:\.\d+)?)/.exec(l);
    if (prob)
      out.push(
        edited(
          lines,
          i,
          'probability',
          'wrong probability',
          l.replace(prob[0], `--probability ${(Number(prob[1]) / 2).toFixed(11)}`),
        ),
      );
    const mark = /^(?:\[\d+:\d+\]\s+)?-A KUBE-MARK-MASQ .*--or-mark (0x[0-9a-f]+)/i.exec(l);
    if (mark) {
      const shifted = (Number(mark[1]) << 1) >>> 0;
      const after = l.replace(`--or-mark ${mark[1]}`, `--or-mark ${shifted ? `0x${shifted.toString(16)}` : '0x1'}`);
      out.push(edited(lines, i, 'masq-mark', 'masquerade mark dropped', after));
    }
  });
  return out;
}

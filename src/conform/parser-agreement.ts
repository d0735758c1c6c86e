// The parser judged by iptables itself: each generated rule text is read by
// `lint` (parse + canonical print) and by real iptables-restore + iptables-save,
// and the two must agree on acceptance and on the canonical text (spec/iptables.md §8).
import fc from 'fast-check';
import { parseSave, printRuleSpec, InputError, type IptablesFlavor } from '../model/index.ts';
import { judgeWithIptables, TARGET_CHAIN, type OracleVerdict, type RuleItem } from './iptables-oracle.ts';
import { ruleItem } from './rule-text-arb.ts';
import { systemAccounts } from './system-accounts.ts';

export type LintVerdict = { ok: true; rules: string[] } | { ok: false; message: string; unsupported: boolean };

/** What `lint` makes of one item, placed exactly as the oracle places it. */
export function lintItem(item: RuleItem, backend: IptablesFlavor): LintVerdict {
  const chain = item.builtin ?? 'R0';
  const lines = [`*${item.table}`, `:${TARGET_CHAIN} - [0:0]`];
  if (!item.builtin) lines.push(':R0 - [0:0]');
  if (!item.builtin && item.via) lines.push(`-A ${item.via} -j R0`);
  lines.push(`-A ${chain} ${item.spec}`, 'COMMIT', '');
  try {
    // the oracle runs this machine's iptables: owner names resolve through this machine's accounts
    const rs = parseSave(lines.join('\n'), { file: '<rule>', backend, accounts: systemAccounts() });
    const rules = rs.tables.get(item.table)!.chains.get(chain)!.rules;
    const own = item.builtin ? rules : rules;
    // kept by the model, but a stock iptables 1.8.9 has no such extension and refuses the rule
    const foreign = own
      .flatMap((r) => [...r.matches, ...(r.target?.kind === 'ext' ? [r.target.ext] : [])])
      .find((x) => x.opaque?.foreign);
    if (foreign) return { ok: false, message: `unsupported: ${foreign.opaque!.why}`, unsupported: true };
    return { ok: true, rules: own.map((r) => printRuleSpec(r)) };
  } catch (e) {
    if (e instanceof InputError) return { ok: false, message: e.message, unsupported: e.kind === 'unsupported' };
    return { ok: false, message: `internal: ${(e as Error).stack ?? String(e)}`, unsupported: false };
  }
}

export interface Disagreement {
  item: RuleItem;
  lint: LintVerdict;
  iptables: OracleVerdict;
  /** 'accept' when one side accepts and the other refuses, 'text' when both accept with different text */
  kind: 'accept' | 'text';
}

export interface AgreementReport {
  backend: IptablesFlavor;
  checked: number;
  agreed: number;
  /** rules both sides accepted */
  accepted: number;
  disagreements: Disagreement[];
}

export function agrees(l: LintVerdict, o: OracleVerdict): 'accept' | 'text' | undefined {
  if (l.ok !== o.ok) return 'accept';
  if (l.ok && o.ok && (l.rules.length !== o.rules.length || l.rules.some((r, i) => r !== o.rules[i]))) return 'text';
  return undefined;
}

export async function compareItems(backend: IptablesFlavor, items: readonly RuleItem[]): Promise<AgreementReport> {
  const lints = items.map((item) => lintItem(item, backend));
  // lint's verdict only decides how iptables is asked (alone or in a batch), never the answer
  const verdicts = await judgeWithIptables(
    backend,
    items,
    lints.map((l) => !l.ok),
  );
  const report: AgreementReport = { backend, checked: items.length, agreed: 0, accepted: 0, disagreements: [] };
  items.forEach((item, i) => {
    const o = verdicts[i]!;
    const l = lints[i]!;
    const kind = agrees(l, o);
    if (kind) report.disagreements.push({ item, lint: l, iptables: o, kind });
    else {
      report.agreed++;
      if (o.ok) report.accepted++;
    }
  });
  return report;
}

/** `n` generated items from a seed (the same seed gives the same items). */
export function sampleItems(n: number, seed: number): RuleItem[] {
  return fc.sample(ruleItem(), { numRuns: n, seed });
}

/** Runs `n` generated rules in batches of `batch` per restore call, `parallel` namespaces at a time. */
export async function measureAgreement(
  backend: IptablesFlavor,
  n: number,
  seed: number,
  batch = 200,
  parallel = 4,
): Promise<AgreementReport> {
  const items = sampleItems(n, seed);
  const chunks: RuleItem[][] = [];
  for (let i = 0; i < items.length; i += batch) chunks.push(items.slice(i, i + batch));
  const results: AgreementReport[] = new Array(chunks.length);
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const k = next++;
      results[k] = await compareItems(backend, chunks[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, chunks.length) }, worker));
  const total: AgreementReport = { backend, checked: 0, agreed: 0, accepted: 0, disagreements: [] };
  for (const r of results) {
    total.checked += r.checked;
    total.agreed += r.agreed;
    total.accepted += r.accepted;
    total.disagreements.push(...r.disagreements);
  }
  return total;
}

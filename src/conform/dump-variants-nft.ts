// Variants of an nft dump (kube-proxy's nftables mode) for `npm run validate-power`: every rule deleted in
// turn, every set or map element deleted in turn, every DNAT port changed. Variants that cannot change what
// any packet meets are named equivalent, with the reason, and left out of the score.
import type { NftRuleset, NftElement as Element } from '../model/index.ts';
import { readNftDump } from './validate-nft.ts';
import { ruleLineVariants, type DumpVariant } from '../kube/dump-variants.ts';

/** Why deleting this element changes nothing, if so. */
function elementEquivalent(rs: NftRuleset, set: string, el: Element): string | undefined {
  const t = rs.tables.get('ip kube-proxy');
  // a ClusterIP's reject for "no endpoints": cluster-ips-check, right after service-endpoints-check at every
  // hook that has it, rejects every ClusterIP packet that reaches it with the same reject
  const addr = el.key[0];
  if (
    set === 'no-endpoint-services' &&
    el.verdict?.kind === 'goto' &&
    el.verdict.chain === 'reject-chain' &&
    addr?.kind === 'value' &&
    t?.sets.get('cluster-ips')?.elements.some((e) => e.key[0]?.kind === 'value' && e.key[0].v === addr.v) &&
    t.chains.get('reject-chain')?.rules.length === 1 &&
    t.chains.get('cluster-ips-check')?.rules.length === 1
  )
    return 'cluster-ips-check rejects the same ClusterIP packets the same way right after'; // spec/kube.md §6.7
  return undefined;
}

/** Deleting reject-chain's reject changes nothing when only ClusterIPs' no-endpoint elements go there. */
function onlyClusterIpRejects(rs: NftRuleset): string | undefined {
  const t = rs.tables.get('ip kube-proxy');
  const users = [...(t?.sets.values() ?? [])].flatMap((s) =>
    s.elements
      .filter((e) => e.verdict?.kind === 'goto' && e.verdict.chain === 'reject-chain')
      .map((e) => elementEquivalent(rs, s.name, e)),
  );
  return users.every((u) => u !== undefined)
    ? 'only ClusterIPs without endpoints go to reject-chain, and cluster-ips-check rejects them the same way' +
        ' right after'
    : undefined;
}

/** The element lines of a dump's sets and maps: the line and its set. */
function elementLines(text: string, rs: NftRuleset): { line: number; set: string }[] {
  const t = rs.tables.get('ip kube-proxy');
  const out: { line: number; set: string }[] = [];
  const lines = text.split('\n');
  let set: string | undefined;
  let inElements = false;
  lines.forEach((l, i) => {
    const head = /^\s*(?:set|map) (\S+) \{\s*$/.exec(l);
    if (head) {
      set = head[1];
      inElements = false;
      return;
    }
    if (set === undefined) return;
    if (/^\s*elements = \{/.test(l)) inElements = true;
    // one element per line, as nft lists them and the compiler writes them
    if (inElements && t?.sets.has(set)) out.push({ line: i + 1, set });
    if (inElements && /\}\s*$/.test(l)) {
      inElements = false;
      set = undefined;
    }
  });
  return out;
}

/** The dump without the element on `line` (one element per line), commas mended. */
function withoutElementLine(lines: readonly string[], i: number): string {
  const out = [...lines];
  const l = out[i]!;
  const first = /^(\s*elements = \{ )(.*?)(,?)( \})?\s*$/.exec(l);
  if (first && !first[3])
    out.splice(i, 1); // the only element: the list goes
  else if (first) out[i] = `${first[1]!.trimEnd()}`;
  else if (/\}\s*$/.test(l)) {
    out[i] = l.replace(/^(\s*).*$/, '$1}');
    out[i - 1] = out[i - 1]!.replace(/,\s*$/, '');
  } else out.splice(i, 1);
  return out.join('\n');
}

export function nftDumpVariants(text: string, file = 'dump.nft'): DumpVariant[] {
  const { ruleset } = readNftDump(text, file);
  const lines = text.split('\n');
  const out: DumpVariant[] = [];
  for (const t of ruleset.tables.values())
    for (const c of t.chains.values())
      for (const r of c.rules) {
        const line = r.pos?.line;
        if (line === undefined) continue;
        const eq = c.name === 'reject-chain' && c.rules.length === 1 ? onlyClusterIpRejects(ruleset) : undefined;
        out.push(...ruleLineVariants(lines, line - 1, 'dnat to', eq));
      }
  const setOf = (rs: NftRuleset, name: string) => rs.tables.get('ip kube-proxy')?.sets.get(name)?.elements ?? [];
  for (const e of elementLines(text, ruleset)) {
    const variant = withoutElementLine(lines, e.line - 1);
    // the variant must hold exactly one element fewer in that set, else the text was not one element a line
    const left = new Set(setOf(readNftDump(variant, file).ruleset, e.set).map((x) => JSON.stringify(x)));
    const gone = setOf(ruleset, e.set).filter((x) => !left.has(JSON.stringify(x)));
    const el = gone[0];
    if (gone.length !== 1 || left.size !== setOf(ruleset, e.set).length - 1 || !el) continue;
    const eq = elementEquivalent(ruleset, e.set, el);
    out.push({
      id: `delete element line ${e.line} (${e.set})`,
      kind: 'delete',
      line: e.line,
      before: lines[e.line - 1]!,
      text: variant,
      ...(eq ? { equivalent: eq } : {}),
    });
  }
  return out.sort((a, b) => a.line - b.line);
}

// Variants of an nft dump (kube-proxy's nftables mode) for `npm run validate-power`: every rule deleted in
// turn, every set or map element deleted in turn, every DNAT port changed. Variants that cannot change what
// any packet meets are named equivalent, with the reason, and left out of the score.
import { printNftElementKey, type NftRuleset, type NftElement as Element } from '../model/index.ts';
import { readNftDump } from './validate-nft.ts';
import { ruleLineVariants, edited, type DumpVariant } from '../kube/dump-variants.ts';

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

/** The line of the dump that shows an element (the first line of its set's block holding its key's text), else
 *  the set's own line. */
function elementLine(lines: readonly string[], set: string, key: string): number {
  const head = lines.findIndex((l) => [`set ${set} {`, `map ${set} {`].includes(l.trim()));
  if (head < 0) return 1;
  // the key whole: not "10.96.0.10" inside "10.96.0.100"
  const shows = (l: string) => ` ${l.split(/[\s,{}]+/).join(' ')} `.includes(` ${key} `);
  for (let i = head; i < lines.length && lines[i]!.trim() !== '}'; i++) if (shows(lines[i]!)) return i + 1;
  return head + 1;
}

/** kube-proxy 1.36's `dnat ip to numgen random mod N map { K : ADDR . PORT, ... }` (and 1.35's numgen vmap):
 *  each element's port wrong in turn, and the modulus one too large (a share of the packets meets no element:
 *  the lookup fails and the rule does nothing, nft_lookup's NFT_BREAK). */
function numgenVariants(lines: readonly string[], i: number): DumpVariant[] {
  const l = lines[i]!;
  const out: DumpVariant[] = [];
  const mod = /numgen (random|inc) mod (\d+)/.exec(l);
  if (!mod) return out;
  out.push(
    edited(
      lines,
      i,
      'probability',
      'numgen modulus one too large',
      l.replace(mod[0], `numgen ${mod[1]} mod ${Number(mod[2]) + 1}`),
    ),
  );
  for (const m of l.matchAll(/(\d+) : (\d+\.\d+\.\d+\.\d+) \. (\d+)/g)) {
    const wrong = `${m[1]} : ${m[2]} . ${(Number(m[3]) % 65535) + 1}`;
    out.push(edited(lines, i, 'dnat-port', `wrong DNAT port of element ${m[1]}`, l.replace(m[0], wrong)));
  }
  return out;
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
        out.push(...ruleLineVariants(lines, line - 1, 'dnat to', eq), ...numgenVariants(lines, line - 1));
      }
  // an element deleted by a command after the dump: one element fewer whatever the dump's layout (nft lists
  // several short elements a line)
  for (const t of ruleset.tables.values())
    for (const s of t.sets.values())
      for (const el of s.elements) {
        const key = printNftElementKey(s, el);
        const line = elementLine(lines, s.name, key);
        const eq = elementEquivalent(ruleset, s.name, el);
        out.push({
          id: `delete element ${s.name} { ${key} }`,
          kind: 'delete',
          line,
          before: lines[line - 1]!,
          text: `${text.replace(/\n?$/, '\n')}delete element ${t.family} ${t.name} ${s.name} { ${key} }\n`,
          ...(eq ? { equivalent: eq } : {}),
        });
      }
  return out.sort((a, b) => a.line - b.line);
}

// A snapshot's native nft tables (spec/snapshot.md "nftables"): the tables of its `nft list ruleset` that are
// not iptables-nft's. iptables-nft keeps its rules in nft tables of family ip named after the iptables tables
// (iptables/nft.c: filter, nat, mangle, raw, security), which nft lists with xt expressions the model reads
// from `iptables-nft-save` instead; a table iptables-nft-save shows is left out.
import type { Snapshot } from './snapshot.ts';

/** One top-level table of an `nft list ruleset` listing: from `table FAMILY NAME {` to the `}` closing it. */
interface ListedTable {
  family: string;
  name: string;
  text: string;
}

/** nft lists each table from column 0 and closes it with a `}` alone on a line, its body indented. */
function listedTables(listing: string): ListedTable[] {
  const out: ListedTable[] = [];
  let cur: { family: string; name: string; lines: string[] } | undefined;
  for (const line of listing.split('\n')) {
    const head = /^table (\S+) (\S+) \{$/.exec(line);
    if (!cur && head) cur = { family: head[1]!, name: head[2]!, lines: [line] };
    else if (cur) {
      cur.lines.push(line);
      if (line === '}') {
        out.push({ family: cur.family, name: cur.name, text: cur.lines.join('\n') + '\n' });
        cur = undefined;
      }
    }
  }
  return out;
}

/** The tables of the snapshot's nft listing that iptables-nft does not own, as one text (undefined when the
 *  snapshot has no listing or no such table). */
export function nativeNftTables(snapshot: Snapshot): { text: string; tables: string[] } | undefined {
  if (!snapshot.nft) return undefined;
  const xt = new Set([...(snapshot.iptables.nft ?? '').matchAll(/^\*(\S+)$/gm)].map((m) => m[1]!));
  const kept = listedTables(snapshot.nft).filter((t) => !(t.family === 'ip' && xt.has(t.name)));
  if (!kept.length) return undefined;
  return { text: kept.map((t) => t.text).join('\n'), tables: kept.map((t) => `${t.family} ${t.name}`) };
}

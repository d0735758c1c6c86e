// Rule counters from `iptables-save -c`: which rules a probe moved.
import type { TableName } from '../model/index.ts';

export interface RuleCount {
  host: string;
  table: TableName;
  chain: string;
  /** 1-based rule number, or "policy" */
  rule: number | 'policy';
  packets: number;
  verdict: string;
  spec: string;
}

/** "table/chain/n" or "table/chain/policy" -> packet count, plus the rule text under "text:" keys. */
export function countersOf(save: string): Map<string, number> {
  const out = new Map<string, number>();
  let table = '';
  const seen = new Map<string, number>();
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      seen.clear();
      continue;
    }
    const pol = /^:(\S+) (ACCEPT|DROP) \[(\d+):\d+\]/.exec(line);
    if (pol) {
      out.set(`${table}/${pol[1]}/policy|${pol[2]}`, Number(pol[3]));
      continue;
    }
    const rule = /^\[(\d+):\d+\] -A (\S+)(.*)$/.exec(line);
    if (rule) {
      const chain = rule[2]!;
      const n = (seen.get(chain) ?? 0) + 1;
      seen.set(chain, n);
      out.set(`${table}/${chain}/${n}|${rule[3]!.trim()}`, Number(rule[1]));
    }
  }
  return out;
}

export function movedRules(
  before: Map<string, Map<string, number>>,
  after: Map<string, Map<string, number>>,
): RuleCount[] {
  const out: RuleCount[] = [];
  for (const [host, a] of after) {
    const b = before.get(host) ?? new Map<string, number>();
    for (const [key, n] of a) {
      const d = n - (b.get(key) ?? 0);
      if (d <= 0) continue;
      const [where, text] = key.split('|') as [string, string];
      const [table, chain, rule] = where.split('/') as [TableName, string, string];
      const verdict =
        rule === 'policy' ? text : (/-j (DROP|REJECT)\b/.exec(text)?.[1] ?? /-j (\S+)/.exec(text)?.[1] ?? '');
      out.push({
        host,
        table,
        chain,
        rule: rule === 'policy' ? 'policy' : Number(rule),
        packets: d,
        verdict,
        spec: rule === 'policy' ? '' : text,
      });
    }
  }
  return out;
}

// Which limit/hashlimit rules the model may decide from a fresh bucket (spec/modules.md "Token buckets").
// A bucket starts full and only refills with time, so while the packets that may have spent its tokens are
// fewer than it holds, the next one passes: the model must see every such packet. It does in the nat table
// (only a connection's first packet meets it, and the model sends each probe's first packet as the lab does),
// if nothing but TCP, UDP and ICMP can reach the rule (a host's own IGMP reports start connections the model
// does not follow). Everywhere else the lab sends packets the model does not (a TCP exchange's last ACKs and
// FINs, retransmissions), so the bucket is left open.
import type { Ruleset, Table, TableName } from '../rules/types.ts';
import { isBuiltinChain } from '../rules/types.ts';

/** matches the model may answer as unknown */
const MAYBE_UNKNOWN = new Set([
  'limit',
  'hashlimit',
  'connlimit',
  'socket',
  'rpfilter',
  'mac',
  'string',
  'u32',
  'time',
]);

/** the protocols the model follows packet by packet */
const FOLLOWED = new Set([1, 6, 17]);

type Reach = Set<number> | 'any';

/** The protocols that can enter each chain of a table: any at a built-in chain, else what the jumps to it
 *  let through (their -p, or their own chain's reach). A fixpoint over the jumps. */
function chainReach(t: Table): Map<string, Reach> {
  const reach = new Map<string, Reach>();
  for (const c of t.chains.keys()) if (isBuiltinChain(t.name, c)) reach.set(c, 'any');
  const ruleReach = (from: Reach, proto: { neg: boolean; value: number } | undefined): Reach => {
    if (!proto || proto.neg) return from;
    if (from === 'any') return new Set([proto.value]);
    return from.has(proto.value) ? new Set([proto.value]) : new Set();
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const c of t.chains.values()) {
      const from = reach.get(c.name);
      if (!from) continue;
      for (const r of c.rules) {
        const tg = r.target;
        if (!tg || (tg.kind !== 'jump' && tg.kind !== 'goto')) continue;
        const add = ruleReach(from, r.proto);
        const cur = reach.get(tg.chain);
        if (cur === 'any') continue;
        if (add === 'any') {
          reach.set(tg.chain, 'any');
          changed = true;
          continue;
        }
        const next = new Set([...(cur ?? []), ...add]);
        if (!cur || next.size !== cur.size) {
          reach.set(tg.chain, next);
          changed = true;
        }
      }
    }
  }
  return reach;
}

/** "table/chain/number" of every rule whose limit and hashlimit matches a fresh bucket decides */
export function pinnedRules(rs: Ruleset): Set<string> {
  const pinned = new Set<string>();
  // hashlimit tables are shared by name across rules and tables, with the first rule's settings: a name is
  // pinned only when every rule that uses it is, with the same settings
  const names = new Map<string, { cfg: string; ok: boolean }>();
  const tables: [TableName, Table][] = [...rs.tables];
  for (const [tn, t] of tables) {
    const reach = tn === 'nat' ? chainReach(t) : undefined;
    for (const c of t.chains.values())
      c.rules.forEach((r, i) => {
        const from = reach?.get(c.name) ?? new Set<number>();
        const pr = r.proto && !r.proto.neg ? new Set([r.proto.value]) : undefined;
        const protos: Reach = pr ? (from === 'any' || from.has([...pr][0]!) ? pr : new Set()) : from;
        const ok = reach !== undefined && protos !== 'any' && [...protos].every((p) => FOLLOWED.has(p));
        r.matches.forEach((m, k) => {
          if (m.name !== 'hashlimit' || m.opaque) return;
          // a match before it that may be unknown can leave it unevaluated in an inert rule (taken as no
          // match): the kernel still spends the token there
          const first = r.matches.slice(0, k).every((x) => !x.opaque && !MAYBE_UNKNOWN.has(x.name));
          const name = m.opts.find((o) => o.name === '--hashlimit-name')!.value as string;
          const cfg = JSON.stringify(m.opts.filter((o) => o.name !== '--hashlimit-name'));
          const prev = names.get(name);
          if (!prev) names.set(name, { cfg, ok: ok && first });
          else names.set(name, { cfg: prev.cfg, ok: prev.ok && ok && first && prev.cfg === cfg });
        });
        if (ok) pinned.add(`${tn}/${c.name}/${i + 1}`);
      });
  }
  // a rule with a hashlimit whose name is not pinned is not either
  for (const [tn, t] of tables)
    for (const c of t.chains.values())
      c.rules.forEach((r, i) => {
        const bad = r.matches.some(
          (m) =>
            m.name === 'hashlimit' &&
            !m.opaque &&
            !names.get(m.opts.find((o) => o.name === '--hashlimit-name')!.value as string)?.ok,
        );
        if (bad) pinned.delete(`${tn}/${c.name}/${i + 1}`);
      });
  return pinned;
}

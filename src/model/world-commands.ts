// What the commands a case may run between probes do to the model's state: `conntrack -F`,
// `conntrack -D` with filters, and writes to /proc/net/xt_recent/LIST (spec/case-file.md).
import type { U32 } from './ip.ts';
import type { World } from './lab-model.ts';
import { remove, entriesOf, type CtEntry, type Tuple } from './conntrack.ts';

/** conntrack -D filters: each given field must match (the --orig-* and --reply-* options). */
export interface ConntrackFilter {
  proto?: number;
  origSrc?: U32;
  origDst?: U32;
  origSport?: number;
  origDport?: number;
  replySrc?: U32;
  replyDst?: U32;
  replySport?: number;
  replyDport?: number;
}

const ports = (t: Tuple) => t.proto === 6 || t.proto === 17;

function matches(e: CtEntry, f: ConntrackFilter): boolean {
  const o = e.orig;
  const r = e.reply;
  return (
    (f.proto === undefined || o.proto === f.proto) &&
    (f.origSrc === undefined || o.src === f.origSrc) &&
    (f.origDst === undefined || o.dst === f.origDst) &&
    (f.origSport === undefined || (ports(o) && o.sport === f.origSport)) &&
    (f.origDport === undefined || (ports(o) && o.dport === f.origDport)) &&
    (f.replySrc === undefined || r.src === f.replySrc) &&
    (f.replyDst === undefined || r.dst === f.replyDst) &&
    (f.replySport === undefined || (ports(r) && r.sport === f.replySport)) &&
    (f.replyDport === undefined || (ports(r) && r.dport === f.replyDport))
  );
}

/** conntrack -D (a filter) or -F (none): the matching entries leave the host's table; how many did. */
export function conntrackDelete(world: World, host: string, filter: ConntrackFilter | undefined): number {
  const ct = world.hosts.get(host)!.ct;
  const gone = entriesOf(ct).filter((e) => e.expires > world.now && (!filter || matches(e, filter)));
  for (const e of gone) remove(ct, e);
  return gone.length;
}

/** A write to /proc/net/xt_recent/LIST: "+addr" adds a hit now, "-addr" forgets it, "/" empties the list
 *  (recent_mt_proc_write in net/netfilter/xt_recent.c). */
export function recentWrite(
  world: World,
  host: string,
  list: string,
  op: { add: U32 } | { remove: U32 } | { flush: true },
): void {
  const lists = world.hosts.get(host)!.recent;
  let l = lists.get(list);
  if (!l) lists.set(list, (l = new Map()));
  if ('flush' in op) l.clear();
  else if ('remove' in op) l.delete(op.remove);
  else l.set(op.add, [...(l.get(op.add) ?? []), world.now].slice(-20));
}

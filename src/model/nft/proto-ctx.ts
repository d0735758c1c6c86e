// nft's protocol context over a rule (nftables src/proto.c, src/meta.c, src/payload.c), as measured with
// nft 1.0.6: which transport protocol a later tcp/udp/th expression is checked against and named by.
import { selector } from './descriptors.ts';
import type { Stmt, Value } from './types.ts';

/** the upper-layer protocols nft's ip header description knows (src/proto.c proto_ip) */
export const IP_UPPER_PROTOS: readonly number[] = [1, 2, 6, 17, 33, 50, 51, 108, 132, 136];

/**
 * The context after a statement: "meta l4proto X" sets it to X (known to nft or not), "ip protocol X"
 * only to a protocol nft knows; once set, a later known protocol leaves it, an unknown one replaces it;
 * a set of protocols leaves the last that applies in sorted order. All measured, nft 1.0.6.
 */
export function protoAfter(s: Stmt, current: number | undefined): number | undefined {
  if (s.k !== 'match' || s.op !== 'eq' || s.left.kind !== 'sel' || selector(s.left.name).field !== 'l4proto')
    return current;
  const meta = s.left.name === 'meta l4proto';
  const values: Value[] =
    s.right.kind === 'values' ? [s.right.value] : s.right.kind === 'set' ? s.right.elements.map((e) => e.key[0]!) : [];
  const nums = values
    .filter((v) => v.kind === 'value')
    .map((v) => v.v as number)
    .filter((n) => meta || IP_UPPER_PROTOS.includes(n))
    .sort((a, b) => a - b);
  if (!nums.length) return current;
  if (s.right.kind === 'set') return nums[nums.length - 1];
  const n = nums[0]!;
  return current === undefined || !IP_UPPER_PROTOS.includes(n) ? n : current;
}

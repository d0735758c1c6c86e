// Does an observation meet a case's partial expectation?
import type { Observation } from '../model/index.ts';
import type { ErrorReport } from '../model/index.ts';
import type { Expectation } from './case-file.ts';
import { endpointAgrees } from './compare.ts';

/** What of `exp` the observation misses (empty: it meets it). */
export function misses(o: Observation, exp: Expectation): string[] {
  const out: string[] = [];
  if (exp.outcome !== undefined && o.outcome !== exp.outcome) out.push(`outcome ${o.outcome}, expected ${exp.outcome}`);
  if (exp.responder !== undefined && o.responder !== exp.responder)
    out.push(`responder ${o.responder}, expected ${exp.responder}`);
  if (exp.responderIn !== undefined && !exp.responderIn.includes(o.responder ?? ''))
    out.push(`responder ${o.responder}, expected one of ${exp.responderIn.join(', ')}`);
  if (exp.icmp !== undefined && o.icmp !== exp.icmp) out.push(`icmp ${o.icmp}, expected ${exp.icmp}`);
  if (
    exp.seenSrc !== undefined &&
    !((o.seen && endpointAgrees(o.seen.src, exp.seenSrc)) || (o.seen && endpointAgrees(exp.seenSrc, o.seen.src)))
  )
    out.push(`seen source ${o.seen?.src ?? '-'}, expected ${exp.seenSrc}`);
  if (exp.seenDst !== undefined && o.seen?.dst !== exp.seenDst)
    out.push(`seen destination ${o.seen?.dst ?? '-'}, expected ${exp.seenDst}`);
  if (exp.seenSrcAddr !== undefined && o.seen?.src.split(':')[0] !== exp.seenSrcAddr)
    out.push(`seen source address ${o.seen?.src.split(':')[0] ?? '-'}, expected ${exp.seenSrcAddr}`);
  if (exp.replyFrom !== undefined && o.replyFrom !== exp.replyFrom)
    out.push(`reply from ${o.replyFrom ?? '-'}, expected ${exp.replyFrom ?? '-'}`);
  if (exp.error === null && o.error !== null) out.push(`error ${JSON.stringify(o.error)}, expected none`);
  if (exp.error) {
    const e = o.error;
    for (const [k, v] of Object.entries(exp.error) as [keyof ErrorReport, unknown][])
      if (!e || e[k] !== v) out.push(`error.${k} ${e ? String(e[k]) : '(no error)'}, expected ${String(v)}`);
  }
  return out;
}

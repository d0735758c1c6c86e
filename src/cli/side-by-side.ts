// Model and kernel observations next to each other, with every differing field marked.
import pc from 'picocolors';
import type { Observation, Weighted } from '../model/index.ts';
import { compareObservation, compareBranch } from '../conform/compare.ts';

const FIELDS = ['outcome', 'responder', 'replyFrom', 'seen', 'icmp', 'error', 'droppedAt'] as const;
function show(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown>;
  if ('src' in o && 'dst' in o) return `${o.src} → ${o.dst}`;
  if ('host' in o && 'reason' in o)
    return o.reason ? `${o.host}: ${o.reason}` : `${o.host} ${o.table} ${o.chain} #${o.rule}`;
  return JSON.stringify(v);
}

export function sideBySide(model: readonly Weighted<Observation>[], kernel: Observation): string {
  // an indeterminate result stands for its possible results: the kernel is compared with each
  // (spec/semantics.md §10)
  const candidates = model.flatMap((m) =>
    m.value.indeterminate
      ? m.value.indeterminate.possible.map((b) => ({
          m: { p: m.p, value: b },
          d: compareBranch(b, kernel),
          open: true,
        }))
      : [{ m, d: compareObservation(m.value, kernel), open: false }],
  );
  const best = candidates.sort((a, b) => a.d.length - b.d.length)[0];
  if (!best) return 'no model result';
  const differs = new Set(best.d.map((d) => d.field.split('.')[0]));
  const rows: string[] = [`${'field'.padEnd(12)} ${'model'.padEnd(44)} kernel`];
  for (const f of FIELDS) {
    const mark = differs.has(f) ? pc.red('✗') : pc.green('✓');
    rows.push(`${mark} ${f.padEnd(10)} ${show(best.m.value[f]).padEnd(44)} ${show(kernel[f])}`);
  }
  const hosts = new Set([...Object.keys(best.m.value.conntrack), ...Object.keys(kernel.conntrack)]);
  for (const h of hosts) {
    const mark =
      differs.has('conntrack') && best.d.some((d) => d.field === `conntrack.${h}`) ? pc.red('✗') : pc.green('✓');
    const m = (best.m.value.conntrack[h] ?? []).map((c) => `${c.orig} / ${c.reply}`).join('; ') || '-';
    const k = (kernel.conntrack[h] ?? []).map((c) => `${c.orig} / ${c.reply}`).join('; ') || '-';
    rows.push(`${mark} ${`ct ${h}`.padEnd(10)} ${m.padEnd(44)} ${k}`);
  }
  if (model.length > 1)
    rows.push(
      pc.dim(`(the model allows ${model.length} results; compared with the closest, p=${best.m.p.toFixed(4)})`),
    );
  if (best.open && best.d.length === 0)
    rows.push(
      pc.yellow(
        "model and kernel agree, but not exactly: the model's result is indeterminate (rules it" +
          " cannot evaluate decide) and the kernel's is one of its possible results",
      ),
    );
  else
    rows.push(
      best.d.length === 0
        ? pc.green('model and kernel agree')
        : pc.red(`model and kernel differ in: ${best.d.map((d) => d.field).join(', ')}`),
    );
  return rows.join('\n');
}

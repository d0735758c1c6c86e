// Self-contained HTML pages (no network access needed to open them: CSS and script inline): a probe's
// path drawn as a diagram with the model and the kernel side by side (`trace --html`, fuzz explain.html),
// and a run's truth table with filters by tag, suite and status (`run --html`). Every text is escaped.
import type { Observation, Probe, TraceEvent, Weighted } from '../model/index.ts';
import { compareObservation } from './compare.ts';
import { diagramOf, branchP, type DiagramEntry, type DiagramStage } from './diagram.ts';
import type { CaseReport, Mark } from './run-case.ts';

export const esc = (s: unknown): string =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}code,.mono{font-family:ui-monospace,monospace;font-size:12px}
.stage{margin:1em 0;padding:.6em .8em;border:1px solid #d0d7de;border-radius:8px;background:#fff}
.stage>h3{margin:.2em 0 .6em;font-size:1em;color:#0b5394}
.path{display:flex;flex-wrap:wrap;align-items:flex-start;gap:.4em}
.host{border:2px solid #6a7b90;border-radius:8px;padding:.4em .6em;min-width:14em;max-width:30em;background:#f6f8fa}
.host>h4{margin:0 0 .3em;font-size:1em}
.hop{align-self:center;color:#57606a;font-size:12px;text-align:center;max-width:9em}
.hop b{display:block;font-size:20px;color:#6a7b90}
.hook{border-left:4px solid #0b5394;margin:.3em 0;padding:.2em .5em;background:#fff}
.hook>.name{font-weight:600}.hook>.pkt{color:#57606a}
.e{margin:.15em 0;font-family:ui-monospace,monospace;font-size:12px;word-break:break-word}
.rule{color:#57606a}.rule.matched{color:#1a7f37}.rule.decided{font-weight:700;background:#dafbe1;border-radius:3px}
.nat{color:#8250df}.ct{color:#0969da}.note{color:#6e7781}.choice{color:#9a6700;font-weight:600}
.drop{color:#cf222e;font-weight:700}.deliver{color:#1a7f37;font-weight:700}
table{border-collapse:collapse;margin:.5em 0;background:#fff}
td,th{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
tr.diff td{background:#ffebe9}tr.diff td.mark{color:#cf222e;font-weight:700}td.mark{color:#1a7f37}
.pass{color:#1a7f37;font-weight:700}.fail{color:#cf222e;font-weight:700}.skip{color:#8c959f}
.filters{display:flex;gap:1em;flex-wrap:wrap;margin:.5em 0}.summary{font-weight:600}
details{margin:.3em 0}.miss{color:#cf222e}
`;

export function page(title: string, body: string, script = ''): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>${body}${script ? `<script>${script}</script>` : ''}</body></html>
`;
}

function entryHtml(en: DiagramEntry): string {
  switch (en.kind) {
    case 'rule': {
      const where = `${en.table} ${en.chain} ${en.rule === 'policy' ? 'policy' : `#${en.rule}`}`;
      const verdict = en.matched ? `→ ${en.action}` : '(no match)';
      const cls = `e rule${en.matched ? ' matched' : ''}${en.decided ? ' decided' : ''}`;
      return (
        `<div class="${cls}" title="${esc(en.spec)}"` +
        `>${esc(where)} ${en.rule === 'policy' ? '' : esc(en.spec)} ${esc(verdict)}` +
        `${en.decided ? ' ◀ decided' : ''}</div>`
      );
    }
    case 'nat':
      return `<div class="e nat">NAT ${esc(en.what)}: ${esc(en.before)} ⇒ ${esc(en.after)}</div>`;
    case 'ct':
      return `<div class="e ct">conntrack ${esc(en.what)}</div>`;
    case 'note':
      return `<div class="e note">${esc(en.what)}</div>`;
    case 'choice':
      return (
        `<div class="e choice">⑂ ${esc(en.label)}:` +
        ` ${en.taken ? 'taken' : 'not taken'} (p=${branchP(en).toFixed(4)})</div>`
      );
    case 'drop':
      return `<div class="e drop">✗ ${esc(en.reason)}</div>`;
    case 'deliver':
      return `<div class="e deliver">✓ delivered to the local stack: ${esc(en.what)}</div>`;
  }
}

/** The path as boxes: a stage per packet, a box per host in the order crossed, its hooks in kernel order. */
export function diagramHtml(stages: readonly DiagramStage[]): string {
  return stages
    .map((s) => {
      const hosts = s.hosts
        .map((h, i) => {
          const hop = i > 0 || h.via ? `<div class="hop"><b>→</b>${esc(h.via ?? '')}</div>` : '';
          const steps = h.steps
            .map((st) => {
              const entries = st.entries.map(entryHtml).join('');
              if (!st.hook) return entries;
              const io = `${st.hook.in ? ` in=${st.hook.in}` : ''}${st.hook.out ? ` out=${st.hook.out}` : ''}`;
              return (
                `<div class="hook" data-hook="${esc(st.hook.name)}"><span` +
                ` class="name">${esc(st.hook.name)}</span>${esc(io)} <span class="pkt` +
                ` mono">${esc(st.hook.packet)}</span>${entries}</div>`
              );
            })
            .join('');
          return `${hop}<div class="host" data-host="${esc(h.host)}"><h4>${esc(h.host)}</h4>${steps}</div>`;
        })
        .join('');
      return (
        `<section class="stage"><h3>▶ ${esc(s.title)}: <span` +
        ` class="mono">${esc(s.packet)}</span></h3><div class="path">${hosts}</div></section>`
      );
    })
    .join('\n');
}

const FIELDS = ['outcome', 'responder', 'replyFrom', 'seen', 'icmp', 'error', 'droppedAt', 'conntrack'] as const;
const show = (v: unknown) => (v === null || v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

/** Model and kernel field by field; the rows that differ (spec/equivalence.md) are marked and highlighted. */
export function sideBySideHtml(model: readonly Weighted<Observation>[], kernel: Observation | undefined): string {
  const best = kernel
    ? [...model].map((m) => ({ m, d: compareObservation(m.value, kernel) })).sort((a, b) => a.d.length - b.d.length)[0]
    : undefined;
  const shown = best?.m ?? [...model].sort((a, b) => b.p - a.p)[0];
  if (!shown) return '<p>no model result</p>';
  const differs = new Set((best?.d ?? []).map((d) => d.field.split('.')[0]));
  const rows = FIELDS.map((f) => {
    const diff = differs.has(f);
    const k = kernel ? `<td class="mono">${esc(show(kernel[f]))}</td>` : '';
    return (
      `<tr class="${diff ? 'diff' : 'same'}" data-field="${f}"><td` +
      ` class="mark">${kernel ? (diff ? '✗' : '✓') : ''}</td><th>${f}</th><td` +
      ` class="mono">${esc(show(shown.value[f]))}</td>${k}</tr>`
    );
  }).join('');
  const verdict = !kernel
    ? ''
    : differs.size
      ? `<p class="fail">model and kernel differ in ${[...differs].join(', ')}</p>`
      : '<p class="pass">model and kernel agree</p>';
  return (
    `<table class="sbs"><tr><th></th><th>field</th><th>mode` +
    `l${model.length > 1 ? ` (closest of ${model.length}, p=${shown.p.toFixed(4)})` : ''}</th` +
    `>${kernel ? '<th>kernel</th>' : ''}</tr>${rows}</table>${verdict}`
  );
}

export interface TracePageInput {
  title: string;
  probe: Probe;
  /** every possibility of the model, with its probability and trace */
  results: readonly { p: number; observation: Observation; trace: readonly TraceEvent[] }[];
  kernel?: Observation | undefined;
  /** extra sections (already HTML), e.g. the rules whose counters moved */
  extra?: string;
}

export function tracePage(input: TracePageInput): string {
  const { probe } = input;
  const port = probe.dport !== undefined ? `:${probe.dport}` : '';
  const sent = `${probe.from} → ${probe.proto} ${probe.dst}${port}`;
  const head = `<h1>${esc(input.title)}</h1><p class="mono">${esc(sent)}</p>`;
  const sbs = `<h2>${input.kernel ? 'Model and kernel' : 'Observation (model)'}</h2>${sideBySideHtml(
    input.results.map((r) => ({ p: r.p, value: r.observation })),
    input.kernel,
  )}`;
  const n = input.results.length;
  const paths = input.results
    .map(
      (r, i) =>
        `<h2>Path${n > 1 ? ` — possibility ${i + 1} of ${n}, p=${r.p.toFixed(6)}` : ''}` +
        `</h2><div class="diagram">${diagramHtml(diagramOf(r.trace))}</div>`,
    )
    .join('\n');
  return page(input.title, `${head}${sbs}${paths}${input.extra ?? ''}`);
}

const markHtml = (m: Mark, used: boolean) =>
  !used ? '<span class="skip">·</span>' : `<span class="${m}">${m === 'pass' ? '✓' : m === 'fail' ? '✗' : '–'}</span>`;

export const statusOf = (r: CaseReport): 'fail' | 'pass' | 'skip' =>
  r.error || [r.model, r.kernel, r.agree, r.oracle].includes('fail')
    ? 'fail'
    : [r.model, r.kernel].includes('pass')
      ? 'pass'
      : 'skip';

/** "seed" for suites/seed/c1.json; the case file's folder. */
const suiteOf = (r: CaseReport) => (r.file ? (/([^/]+)\/[^/]+$/.exec(r.file)?.[1] ?? '-') : '-');

// filters: every row carries its tags, suite and status; the selects hide the rows that do not match
const FILTER_SCRIPT = `
const rows=[...document.querySelectorAll('tr.case')];
const sel=(id)=>document.getElementById(id);
function apply(){const t=sel('f-tag').value,s=sel('f-suite').value,
st=sel('f-status').value,q=sel('f-text').value.toLowerCase();let n=0;
for(const r of rows){const ok=(!t||r.dataset.tags.split(' ').includes(t))&&(!s||r.dataset.suite===s)&&
(!st||r.dataset.status===st)&&(!q||r.dataset.name.toLowerCase().includes(q));
r.hidden=!ok;const d=document.getElementById('d-'+r.dataset.i);if(d)d.hidden=!ok;if(ok)n++;}
sel('shown').textContent=n+' of '+rows.length+' cases shown';}
for(const id of ['f-tag','f-suite','f-status','f-text'])sel(id).addEventListener('input',apply);
// a link can carry filters: index.html#status=fail&tag=seed
for(const [k,v] of new URLSearchParams(location.hash.slice(1))){const e=sel('f-'+k);if(e)e.value=v;}
apply();document.body.dataset.ready='1';
`;

export function runPage(
  reports: readonly CaseReport[],
  used: { model: boolean; kernel: boolean; agree: boolean },
  title = 'nfconform run',
): string {
  const tags = [...new Set(reports.flatMap((r) => r.tags))].sort();
  const suites = [...new Set(reports.map(suiteOf))].sort();
  const options = (xs: readonly string[]) => xs.map((x) => `<option>${esc(x)}</option>`).join('');
  const counts = { pass: 0, fail: 0, skip: 0 };
  for (const r of reports) counts[statusOf(r)]++;
  const rows = reports
    .map(
      (r, i) =>
        `<tr class="case" data-i="${i}" data-name="${esc(r.name)}"` +
        ` data-tags="${esc(r.tags.join(' '))}" data-suite="${esc(suiteOf(r))}"` +
        ` data-status="${statusOf(r)}"><td>${esc(r.name)}</td><td>${esc(suiteOf(r))}</td><td` +
        `>${esc(r.tags.join(', '))}</td><td>${markHtml(r.model, used.model)}</td><td` +
        `>${markHtml(r.kernel, used.kernel)}</td><td>${markHtml(r.agree, used.agree)}</td><td` +
        `>${markHtml(r.oracle, r.oracle !== 'skip')}</td><td` +
        ` class="${statusOf(r)}">${statusOf(r)}</td><td>${Math.round(r.ms)}</td></tr>`,
    )
    .join('\n');
  const details = reports
    .map((r, i) => (statusOf(r) === 'fail' ? `<div id="d-${i}">${failureHtml(r)}</div>` : ''))
    .join('\n');
  const body = `<h1>${esc(title)}</h1>
<p class="summary">${reports.length} cases: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped</p>
<div class="filters">
<label>tag <select id="f-tag"><option value="">all</option>${options(tags)}</select></label>
<label>suite <select id="f-suite"><option value="">all</option>${options(suites)}</select></label>
<label>status <select id="f-status"><option value="">all</option>${options(['pass', 'fail', 'skip'])}</select></label>
<label>name <input id="f-text" type="search"></label>
<span id="shown"></span></div>
<table id="truth"><thead><tr><th>case</th><th>suite</th><th>tags</th><th>model</th><th>kernel</th><th>agree</th>
<th>oracle</th><th>status</th><th>ms</th></tr></thead><tbody>
${rows}
</tbody></table>
${details ? `<h2>Failures</h2>${details}` : ''}`;
  return page(title, body, FILTER_SCRIPT);
}

/** Why a case failed: each failing step's misses, and its path with model and kernel side by side. */
function failureHtml(r: CaseReport): string {
  const steps = r.steps
    .filter((s) => s.modelMisses.length || s.kernelMisses.length || s.diffs.length || s.oracleMisses.length)
    .map((s) => {
      const misses = [
        ...s.modelMisses.map((m) => `model: ${m}`),
        ...s.kernelMisses.map((m) => `kernel: ${m}`),
        ...s.oracleMisses.map((m) => `oracle: ${m}`),
        ...s.diffs.map((d) => `differs in ${d.field}: model ${show(d.model)}, kernel ${show(d.kernel)}`),
      ];
      const sbs = s.model[0] ? sideBySideHtml(s.model[0], s.kernel[0]) : '';
      const path = s.trace ? `<div class="diagram">${diagramHtml(diagramOf(s.trace))}</div>` : '';
      return (
        `<details open><summary>${esc(s.label)}</summary><ul` +
        `>${misses.map((m) => `<li class="miss">${esc(m)}</li>`).join('')}</ul>${sbs}${path}</details>`
      );
    })
    .join('');
  return `<h3 class="fail">${esc(r.name)}</h3>${r.error ? `<p class="miss">${esc(r.error)}</p>` : ''}${steps}`;
}

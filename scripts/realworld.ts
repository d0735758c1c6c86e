// The real-world corpus (suites/realworld/): per file lint, modelled rules, traceable, probes agreeing.
// usage: npm run realworld [-- --sides model|both] [--only ID,...] [--json FILE] [--markdown] [--verbose]
// Exit 1 when a probe's expectation is missed or model and kernel disagree; 0 otherwise.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { readCorpus, measureCorpus, renderTable, renderMarkdown, totals, blockers } from '../src/conform/realworld.ts';
import { labSkipReason } from '../src/lab/prereq.ts';

const { values } = parseArgs({
  options: {
    sides: { type: 'string', default: 'both' },
    only: { type: 'string' },
    json: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    markdown: { type: 'boolean', default: false },
  },
});
if (values.sides !== 'model' && values.sides !== 'both') {
  console.error(`realworld: --sides model|both, not ${values.sides}`);
  process.exit(2);
}
const kernelSkip = values.sides === 'model' ? undefined : await labSkipReason('netns');
if (kernelSkip) console.error(`kernel runs skipped: ${kernelSkip}`);
const entries = readCorpus();
const rows = await measureCorpus(entries, {
  sides: values.sides,
  ...(values.only ? { only: values.only.split(',') } : {}),
  ...(kernelSkip ? { kernelSkip } : {}),
  onRow: (r, i, n) =>
    process.stderr.write(
      `[${i + 1}/${n}] ${r.id}:` +
        ` ${r.traceable ? 'traceable' : `not traceable (${r.blocker ?? '?'})`},` +
        ` ${r.problems.length} problems\n`,
    ),
});
console.log(values.markdown ? renderMarkdown(rows) : renderTable(rows));
const b = blockers(rows);
if (b.size) {
  console.log('\nwhat blocks the files that do not trace:');
  for (const [f, ids] of [...b].sort((x, y) => y[1].length - x[1].length)) console.log(`  ${f}: ${ids.join(', ')}`);
}
const problems = rows.flatMap((r) => r.problems.map((p) => `${r.id}: ${p}`));
if (problems.length) console.log(`\nproblems:\n${problems.map((p) => `  ${p}`).join('\n')}`);
if (values.verbose) for (const r of rows) for (const w of r.warnings) console.log(`  warning ${r.id}: ${w}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ totals: totals(rows), rows }, null, 2));
process.exit(problems.length ? 1 : 0);

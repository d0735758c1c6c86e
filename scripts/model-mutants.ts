// `npm run mutants -- --model`: a fuzz campaign against each model mutant (src/model/mutants.ts).
// The mutant always plays the model. `--kernel` (the default as root; `--oracle kernel`): the kernel
// judges; `--model-only` (`--oracle model`; the default without root): the reference model stands in
// for the kernel (no lab, fast). Prints killed N of M and the median number of cases to the first divergence.
import { fuzz, type FuzzOracle } from '../src/conform/fuzz.ts';
import { LabPool } from '../src/conform/run-case.ts';
import { MUTATIONS, modelMutant, KERNEL, type Mutation } from '../src/model/index.ts';

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

interface Row {
  name: Mutation;
  killedAt: number | undefined;
  first: string;
  seconds: number;
}

export async function runModelMutants(args: readonly string[]): Promise<number> {
  const cases = Number(flag(args, '--cases') ?? 1000);
  const seed = Number(flag(args, '--seed') ?? 20261201);
  const oracleKind = args.includes('--kernel')
    ? 'kernel'
    : args.includes('--model-only')
      ? 'model'
      : (flag(args, '--oracle') ?? (process.getuid?.() === 0 ? 'kernel' : 'model'));
  if (oracleKind !== 'kernel' && oracleKind !== 'model') {
    console.error(`--oracle takes kernel or model, not "${oracleKind}"`);
    return 2;
  }
  const only = flag(args, '--only')?.split(',');
  if (oracleKind === 'kernel' && process.getuid?.() !== 0) {
    console.error('the kernel campaign needs root; --model-only compares with the reference model instead');
    return 2;
  }
  // --only keeps its own order (cheap kills first on a slow kernel run)
  const names = only ? (only.filter((m) => (MUTATIONS as readonly string[]).includes(m)) as Mutation[]) : MUTATIONS;
  // --labs N: the kernel campaign's cases on N labs side by side (the same cases, in the same order)
  const labs = Number(flag(args, '--labs') ?? 1);
  const pool = oracleKind === 'kernel' ? new LabPool({ timeoutMs: 150 }) : undefined;
  const rows: Row[] = [];
  try {
    for (const name of names) {
      const t0 = performance.now();
      let killedAt: number | undefined;
      let first = '';
      const passed: number[] = [];
      let oracle: FuzzOracle;
      if (pool) oracle = { kind: 'kernel', pool, semantics: modelMutant(name).semantics };
      else oracle = { kind: 'mutant', mutation: name, plays: 'model' };
      // a case where the reference model diverges from the kernel as well says nothing about the mutant: the
      // campaign goes on after it, within the same budget of cases
      let from = 0;
      let ran = 0;
      while (from < cases) {
        const r = await fuzz({
          oracle,
          runs: cases,
          seed,
          shrinkSeconds: 0,
          ...(pool ? { labs, from } : {}),
          // a kernel campaign is slow: how far it got, should it be stopped
          onProgress: (p) => {
            if (pool && p.cases % 50 === 0) process.stderr.write(`${name}: ${from + p.cases} cases so far\n`);
          },
        });
        ran = from + r.cases;
        if (!r.divergence) break;
        // the failing case's place in draw order (its path's first step), whatever lab ran it
        const at = Number(r.divergence.path.split(':')[0]) + 1;
        const d = r.divergence.diffs[0]!;
        const why =
          `${d.step}: ${d.diff.field} model ${JSON.stringify(d.diff.model)} kernel` +
          ` ${JSON.stringify(d.diff.kernel)}`;
        if (pool) {
          // a kill counts only if the reference model agrees with the kernel on the same case
          const again = await fuzz({
            oracle: { kind: 'kernel', pool, semantics: KERNEL },
            replay: { seed: r.divergence.seed, path: r.divergence.path },
            shrinkSeconds: 0,
          });
          if (again.divergence) {
            process.stderr.write(`${name}: case ${at} not counted (the reference model diverges too): ${why}\n`);
            passed.push(at);
            from = at;
            continue;
          }
        }
        killedAt = at;
        first = why;
        break;
      }
      // first, so that the table's cut of the difference keeps it
      if (passed.length)
        first = `(past case ${passed.join(', ')}: the reference model diverges there too) ${first}`.trimEnd();
      const row: Row = { name, killedAt, first, seconds: (performance.now() - t0) / 1000 };
      rows.push(row);
      process.stderr.write(
        `${name}: ${killedAt !== undefined ? `killed after ${killedAt} cases` : `survived ${ran} cases`}` +
          ` (${row.seconds.toFixed(0)} s)${first ? `: ${first.slice(0, 240)}` : ''}\n`,
      );
    }
  } finally {
    await pool?.close();
  }
  console.log(
    `\nModel mutants against` +
      ` ${oracleKind === 'kernel' ? 'the kernel' : 'the reference model'}: fuzz campaigns of up` +
      ` to ${cases} cases (seed ${seed})\n`,
  );
  // a kernel campaign's time is part of its cost (a model-only one takes seconds for the whole table)
  const timed = oracleKind === 'kernel';
  console.log(
    `| mutant | the misreading | cases to the first divergence |${timed ? ' seconds |' : ''} first difference |`,
  );
  console.log(`|---|---|---|${timed ? '---|' : ''}---|`);
  for (const r of rows)
    console.log(
      `| ${r.name} | ${modelMutant(r.name).description} | ${r.killedAt ?? '**survived**'} |` +
        `${timed ? ` ${r.seconds.toFixed(0)} |` : ''} ${r.first.replace(/\|/g, '\\|').slice(0, 160)} |`,
    );
  const killed = rows.filter((r) => r.killedAt !== undefined);
  const at = killed.map((r) => r.killedAt!).sort((a, b) => a - b);
  const median = at.length ? at[Math.floor((at.length - 1) / 2)]! : undefined;
  console.log(
    `\nkilled ${killed.length} of` +
      ` ${rows.length} (${rows.length ? Math.round((killed.length / rows.length) * 100) : 0}%),` +
      ` median cases to the first divergence ${median ?? '-'} (goal: >= 90% within ${cases})`,
  );
  return 0;
}

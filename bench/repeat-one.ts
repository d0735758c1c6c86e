// One case with one repeated DNAT probe, run in its own process so that its peak memory is its own:
// `tsx bench/repeat-one.ts N [model|both]` prints (after a warm-up that builds the lab) {"ms", "maxRssMb", "marks"}
// (bench/repeat.ts).
import { runCases, LabPool } from '../src/conform/run-case.ts';
import type { CaseFile } from '../src/conform/case-file.ts';

const n = Number(process.argv[2]);
const sides = process.argv[3] === 'model' ? 'model' : 'both';
const c: CaseFile = {
  name: `repeat ${n}`,
  topology: 'k8s-node',
  hosts: {
    node: {
      ruleset:
        'iptables -t nat -A PREROUTING -d 10.96.0.100 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.11:8080',
    },
  },
  steps: [
    {
      from: 'client',
      proto: 'tcp',
      dst: '10.96.0.100',
      dport: 80,
      repeat: n,
      expect: { outcome: 'delivered', responder: 'pod1' },
    },
  ],
};
// the lab is built by a first, one-probe run: the figure is the probes' time, not the lab's
const pool = new LabPool();
await runCases([{ ...c, steps: [{ ...c.steps[0]!, repeat: 1 }] }], { sides, pool });
const t0 = performance.now();
const [r] = await runCases([c], { sides, pool });
const ms = performance.now() - t0;
await pool.close();
process.stdout.write(
  JSON.stringify({
    ms: Math.round(ms),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    marks: [r!.model, r!.kernel, r!.agree],
  }) + '\n',
);

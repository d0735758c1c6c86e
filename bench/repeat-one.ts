// One case with one repeated DNAT probe, run in its own process so that its peak memory is its own:
// `node --expose-gc --import tsx bench/repeat-one.ts N [model|both]` prints (after a warm-up that builds the lab)
// {"ms", "maxRssMb", "heapMb", "reportKb", "marks"} (bench/repeat.ts). heapMb: the live heap (after a full GC) at
// the last repetition, above the heap before the run; reportKb: the case's report as JSON.
import { runCases, LabPool } from '../src/conform/run-case.ts';
import type { CaseFile } from '../src/conform/case-file.ts';
import { runProbe } from '../src/model/index.ts';

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
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => (gc?.(), process.memoryUsage().heapUsed);
// the lab is built by a first, one-probe run: the figure is the probes' time, not the lab's
const pool = new LabPool();
await runCases([{ ...c, steps: [{ ...c.steps[0]!, repeat: 1 }] }], { sides, pool });
const h0 = heap();
let probes = 0;
let last = 0;
// the model's probe, wrapped: the live heap is read once, before the last repetition
const probe: typeof runProbe = (lab, world, p) => {
  if (++probes === n) last = heap();
  return runProbe(lab, world, p);
};
const t0 = performance.now();
const [r] = await runCases([c], { sides, pool, runProbe: probe });
const ms = performance.now() - t0;
await pool.close();
process.stdout.write(
  JSON.stringify({
    ms: Math.round(ms),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    heapMb: gc ? Math.round((last - h0) / 1e5) / 10 : null,
    reportKb: Math.round(JSON.stringify(r).length / 1024),
    marks: [r!.model, r!.kernel, r!.agree],
  }) + '\n',
);

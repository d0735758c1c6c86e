// Kernel lab costs: up/down, ruleset apply, probes per second (one lab, two labs at once).
import { KernelLab } from '../src/lab/kernel-lab.ts';
import { k8sNode } from '../src/model/net/presets.ts';
import { kubeShapedRuleset } from './kube-shaped.ts';
import type { Figure } from './model.ts';
import type { Probe } from '../src/model/index.ts';

async function probeRate(
  lab: KernelLab,
  n: number,
  inFlight: number,
  portBase: number,
  conntrack = true,
): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const p: Probe = {
        from: (['client', 'pod2', 'node'] as const)[i % 3]!,
        proto: 'tcp',
        dst: '10.96.0.100',
        dport: 80,
        sport: portBase + i,
      };
      const o = await lab.probe(p, { conntrack });
      if (o.outcome !== 'delivered') throw new Error(`bench probe ${JSON.stringify(p)} was ${o.outcome}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((performance.now() - t0) / 1000);
}

export async function benchLab(): Promise<Figure[]> {
  if (process.getuid?.() !== 0) return [{ name: 'lab: skipped (not root)', value: 0, unit: '' }];
  const figures: Figure[] = [];
  const ups: number[] = [];
  const downs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const lab = await KernelLab.up(k8sNode());
    ups.push(performance.now() - t0);
    const t1 = performance.now();
    await lab.down();
    downs.push(performance.now() - t1);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  figures.push({
    name: 'lab: k8s-node up (median of 3)',
    value: Math.round(median(ups)),
    unit: 'ms',
    goal: 'well under 1 s with down',
  });
  figures.push({ name: 'lab: k8s-node down (median of 3)', value: Math.round(median(downs)), unit: 'ms' });

  const lab = await KernelLab.up(k8sNode());
  try {
    const big = kubeShapedRuleset(140, 2);
    const rules = big.text.split('\n').filter((l) => l.startsWith('-A')).length;
    for (const backend of ['nft', 'legacy'] as const) {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        const r = await lab.apply('node', big.text, backend);
        times.push(performance.now() - t);
        if (!r.ok) throw new Error(r.stderr);
      }
      figures.push({
        name: `lab: apply a ${rules}-rule ruleset with iptables-${backend}-restore (median of 5)`,
        value: Math.round(median(times)),
        unit: 'ms',
        goal: '<= 30 ms',
      });
      await lab.reset();
    }
    const svc = kubeShapedRuleset(1, 1)
      .text.replace(/10\.244\.\d+\.\d+:8080/, '10.244.1.11:8080')
      .replace('-s 10.244.1.0/32', '-s 10.244.1.11/32');
    await lab.apply('node', svc.replace(/10\.96\.0\.0/g, '10.96.0.100'));
    figures.push({
      name: 'lab: TCP probes/s, one at a time, conntrack read per probe',
      value: Math.round(await probeRate(lab, 300, 1, 20000)),
      unit: 'probes/s',
      goal: '>= 300',
    });
    await lab.reset();
    await lab.apply('node', svc.replace(/10\.96\.0\.0/g, '10.96.0.100'));
    figures.push({
      name: 'lab: TCP probes/s, one at a time, conntrack read per batch',
      value: Math.round(await probeRate(lab, 600, 1, 21000, false)),
      unit: 'probes/s',
      goal: '>= 300',
    });
    await lab.reset();
    await lab.apply('node', svc.replace(/10\.96\.0\.0/g, '10.96.0.100'));
    figures.push({
      name: 'lab: TCP probes/s, 8 in flight, conntrack read per batch',
      value: Math.round(await probeRate(lab, 1200, 8, 23000, false)),
      unit: 'probes/s',
      goal: '>= 300',
    });
  } finally {
    await lab.down();
  }
  const [a, b] = await Promise.all([KernelLab.up(k8sNode()), KernelLab.up(k8sNode())]);
  try {
    const svc = kubeShapedRuleset(1, 1)
      .text.replace(/10\.244\.\d+\.\d+:8080/, '10.244.1.11:8080')
      .replace(/10\.96\.0\.0/g, '10.96.0.100');
    await Promise.all([a.apply('node', svc), b.apply('node', svc)]);
    const t0 = performance.now();
    await Promise.all([probeRate(a, 400, 4, 22000, false), probeRate(b, 400, 4, 22000, false)]);
    figures.push({
      name: 'lab: TCP probes/s, two labs in parallel, conntrack per batch (sum)',
      value: Math.round(800 / ((performance.now() - t0) / 1000)),
      unit: 'probes/s',
    });
  } finally {
    await Promise.all([a.down(), b.down()]);
  }
  return figures;
}

// The Docker lab against the netns lab on the same machine: start-up and probes per second.
import { KernelLab } from '../src/lab/kernel-lab.ts';
import { dockerSkipReason } from '../src/lab/docker-site.ts';
import { k8sNode } from '../src/model/net/presets.ts';
import type { LabRuntime } from '../src/lab/site.ts';
import type { Figure } from './model.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const DNAT =
  '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 10.96.0.100/32 -p tcp --dport 80 -j DNAT' +
  ' --to-destination 10.244.1.12:8080\nCOMMIT\n';

async function measure(runtime: LabRuntime): Promise<Figure[]> {
  const ups: number[] = [];
  const downs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const lab = await KernelLab.up(k8sNode(), { runtime });
    ups.push(performance.now() - t0);
    const t1 = performance.now();
    await lab.down();
    downs.push(performance.now() - t1);
  }
  const lab = await KernelLab.up(k8sNode(), { runtime });
  let rate = 0;
  try {
    await lab.apply('node', DNAT);
    const n = 400;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const o = await lab.probe(
        { from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80, sport: 30000 + i },
        { conntrack: false },
      );
      if (o.outcome !== 'delivered') throw new Error(`bench probe was ${o.outcome}`);
    }
    rate = n / ((performance.now() - t0) / 1000);
  } finally {
    await lab.down();
  }
  return [
    { name: `${runtime}: k8s-node lab up (median of 3)`, value: Math.round(median(ups)), unit: 'ms' },
    { name: `${runtime}: k8s-node lab down (median of 3)`, value: Math.round(median(downs)), unit: 'ms' },
    { name: `${runtime}: TCP probes/s through a DNAT, one at a time`, value: Math.round(rate), unit: 'probes/s' },
  ];
}

export async function benchDocker(): Promise<Figure[]> {
  if (process.getuid?.() !== 0) return [{ name: 'docker: skipped (the netns side needs root)', value: 0, unit: '' }];
  const why = await dockerSkipReason();
  if (why) return [{ name: `docker: skipped (${why.split('.')[0]})`, value: 0, unit: '' }];
  return [...(await measure('netns')), ...(await measure('docker'))];
}

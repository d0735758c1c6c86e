// Model throughput: nat PREROUTING verdicts (the kube-proxy hot path) and whole probes.
import { parseRuleset } from '../src/model/rules/restore.ts';
import { compileRuleset, traverse } from '../src/model/eval/chains.ts';
import { compileTopology } from '../src/model/net/topology.ts';
import { k8sNode } from '../src/model/net/presets.ts';
import { newHostState, type Pkt } from '../src/model/eval/packet.ts';
import type { MatchEnv } from '../src/model/eval/matchers.ts';
import { parseIp } from '../src/model/ip.ts';
import { makeLab, newWorld } from '../src/model/lab-model.ts';
import { runProbe } from '../src/model/probe.ts';
import { kubeShapedRuleset } from './kube-shaped.ts';
// the packet and environment the evaluator's unit tests use (one definition of a pod's SYN on the node)
import { synPkt, matchEnvOn } from '../test/helpers/packet.ts';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  goal?: string;
}

function timeLoop(seconds: number, body: (i: number) => void): number {
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 1000; k++) body(n++);
  }
  return n / ((performance.now() - start) / 1000);
}

export function benchModel(seconds = 2): Figure[] {
  const figures: Figure[] = [];
  const node = compileTopology(k8sNode()).hosts.get('node')!;
  for (const [services, goal] of [
    [100, 1_000_000],
    [10_000, 100_000],
  ] as const) {
    const { text, vips } = kubeShapedRuleset(services);
    const t0 = performance.now();
    const rs = parseRuleset(text);
    const parseMs = performance.now() - t0;
    const compiled = compileRuleset(rs);
    const nat = compiled.get('nat')!;
    const vipNums = vips.map((v) => parseIp(v)!);
    const src = parseIp('10.244.1.11')!;
    const state = newHostState();
    let flip = false;
    const env: MatchEnv = matchEnvOn({
      host: node,
      state,
      now: 0,
      choose: () => (flip = !flip),
      ruleId: '',
      unknown: () => false,
    });
    const hooks = {};
    const pkt: Pkt = synPkt({ src, dst: 0 });
    const rate = timeLoop(seconds, (i) => {
      pkt.dst = vipNums[i % vipNums.length]!;
      pkt.mark = 0;
      traverse(nat, 'PREROUTING', pkt, env, hooks);
    });
    figures.push({
      name: `model: nat PREROUTING verdicts/s, ${services} Services (${rs.tables.get('nat')!.chains.size} chains)`,
      value: Math.round(rate),
      unit: 'verdicts/s',
      goal: `>= ${goal.toLocaleString('en')}`,
    });
    figures.push({ name: `model: parse + validate ${services} Services`, value: Math.round(parseMs), unit: 'ms' });
    const lab = makeLab(compileTopology(k8sNode()), new Map([['node', rs]]));
    const world = newWorld(lab);
    const probes = timeLoop(seconds / 2, (i) => {
      runProbe(lab, world, { from: 'client', proto: 'tcp', dst: vips[i % vips.length]!, dport: 80, sport: 40000 });
    });
    figures.push({
      name: `model: whole TCP probes/s (all branches, traces), ${services} Services`,
      value: Math.round(probes),
      unit: 'probes/s',
    });
  }
  return figures;
}

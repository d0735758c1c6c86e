// Small helpers for model tests: a lab from rule text, a probe, one packet through one rule.
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { compileTopology } from '../../src/model/net/topology.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import { makeLab, newWorld, type ModelLab, type World } from '../../src/model/lab-model.ts';
import { runProbe, type Probe, type ProbeRun } from '../../src/model/probe.ts';
import type { Weighted, Observation } from '../../src/model/observation.ts';
import type { TopologySpec } from '../../src/model/net/topology.ts';

export function labOf(rules: Record<string, string>, topo: TopologySpec = k8sNode()): ModelLab {
  const net = compileTopology(topo);
  return makeLab(
    net,
    new Map(Object.entries(rules).map(([h, text]) => [h, parseRuleset(text, { file: `${h}.rules` })])),
  );
}

export function probe(lab: ModelLab, p: Probe, world: World = newWorld(lab)): Weighted<ProbeRun>[] {
  return runProbe(lab, world, p);
}

/** The single outcome of a deterministic probe. */
export function only(lab: ModelLab, p: Probe, world?: World): ProbeRun {
  const r = probe(lab, p, world);
  if (r.length !== 1)
    throw new Error(`expected one outcome, got ${r.length}: ${r.map((x) => x.value.observation.outcome).join(', ')}`);
  return r[0]!.value;
}

export function obs(lab: ModelLab, p: Probe, world?: World): Observation {
  return only(lab, p, world).observation;
}

/** The hooks a packet passed on a host, in order (for the seed's hook-path claims). */
export function hooksOn(run: ProbeRun, host: string, stage = 0): string[] {
  let s = -1;
  const out: string[] = [];
  for (const e of run.trace) {
    if (e.kind === 'stage') s++;
    if (s === stage && e.kind === 'hook' && e.host === host) out.push(e.hook);
  }
  return out;
}

export function kubeProxyNat(svc: {
  vip: string;
  port: number;
  endpoints: string[];
  targetPort: number;
  proto?: string;
}): string {
  const proto = svc.proto ?? 'tcp';
  const seps = svc.endpoints.map((_, i) => `KUBE-SEP-${i}`);
  const lines = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-SVC-X - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ...seps.map((s) => `:${s} - [0:0]`),
    '-A PREROUTING -j KUBE-SERVICES',
    '-A OUTPUT -j KUBE-SERVICES',
    '-A POSTROUTING -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -j MASQUERADE --random-fully',
    `-A KUBE-SERVICES -d ${svc.vip}/32 -p ${proto} -m ${proto} --dport ${svc.port} -j KUBE-SVC-X`,
    `-A KUBE-SVC-X ! -s 10.244.0.0/16 -d ${svc.vip}/32 -p ${proto} -m ${proto} --dport ${svc.port} -j KUBE-MARK-MASQ`,
    ...seps.map((s, i) =>
      i < seps.length - 1
        ? `-A KUBE-SVC-X -m statistic --mode random --probability ${(1 / (seps.length - i)).toFixed(11)} -j ${s}`
        : `-A KUBE-SVC-X -j ${s}`,
    ),
    ...svc.endpoints.flatMap((ep, i) => [
      `-A ${seps[i]} -s ${ep}/32 -j KUBE-MARK-MASQ`,
      `-A ${seps[i]} -p ${proto} -m ${proto} -j DNAT --to-destination ${ep}:${svc.targetPort}`,
    ]),
    'COMMIT',
    '',
  ];
  return lines.join('\n');
}

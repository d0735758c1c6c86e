// One packet and one rule-evaluation environment on the k8s-node preset's node, for the evaluator's unit tests.
import { newHostState, type Pkt, TCP } from '../../src/model/eval/packet.ts';
import type { MatchEnv } from '../../src/model/eval/matchers.ts';
import { compileTopology } from '../../src/model/net/topology.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import { parseIp } from '../../src/model/ip.ts';

export const presetNode = compileTopology(k8sNode()).hosts.get('node')!;

/** A pod's TCP SYN to a Service address (10.244.1.11:40000 -> 10.96.0.100:80), fields overridden by `over`. */
export const synPkt = (over: Partial<Pkt> = {}): Pkt => ({
  proto: 6,
  src: parseIp('10.244.1.11')!,
  dst: parseIp('10.96.0.100')!,
  sport: 40000,
  dport: 80,
  tcpFlags: TCP.SYN,
  icmpType: 0,
  icmpCode: 0,
  mark: 0,
  notrack: false,
  ttl: 64,
  ...over,
});

/** The node's PREROUTING from cni0 with fresh state; every choice taken and every unknown asked answers true. */
export const matchEnvOn = (over: Partial<MatchEnv> = {}): MatchEnv => ({
  host: presetNode,
  hook: 'PREROUTING',
  inIf: 'cni0',
  outIf: '',
  ct: undefined,
  state: newHostState(),
  now: 100,
  choose: () => true,
  ruleId: 'r',
  unknown: () => true,
  ...over,
});

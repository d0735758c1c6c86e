// nfconform/arbitraries: fast-check arbitraries for users' own properties (README "Library").
//   rulesets   rulesetText (any table, from the descriptor table), ruleArb + rulesetFrom (aimed at the lab)
//   packets    probeArb: probes between the standard lab's hosts, addresses, virtual IPs and ports
//   topologies topologyArb: the standard lab with its nodes' sysctls, hairpin and iptables flavor drawn
//   Services   serviceDrawArb + clusterJson (kubectl's JSON), serviceCaseArb (Services with probes)
//   cases      caseDrawArb + caseFromDraw: what `nfconform fuzz` draws
export { rulesetText, ruleSpecText, tableText, type RuleGenContext } from './conform/arbitraries.ts';
export {
  ruleArb,
  rulesetFrom,
  caseDrawArb,
  caseFromDraw,
  type RuleDraw,
  type CaseDraw,
} from './conform/fuzz-arbitraries.ts';
export { probeArb, LAB_HOSTS, LAB_ADDRESSES, VIRTUAL_IPS, PORTS } from './conform/probe-arbitraries.ts';
export { topologyArb } from './conform/topology-arbitraries.ts';
export {
  serviceDrawArb,
  clusterJson,
  serviceProbeArb,
  serviceCaseArb,
  serviceCase,
  type ServiceDraw,
} from './conform/service-arbitraries.ts';

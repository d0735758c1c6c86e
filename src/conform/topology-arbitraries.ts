// Topologies for users' properties: the standard lab k8s-node (spec/semantics.md §8) with the settings the
// packet path reads drawn at random: the nodes' sysctls, the bridge ports' hairpin mode and each node's
// iptables flavor. Names and addresses stay the lab's, so probeArb's hosts and addresses still apply.
import fc from 'fast-check';
import { k8sNode, type TopologySpec, type Sysctls, type IptablesFlavor } from '../model/index.ts';

const nodeSettings = fc.record({
  sysctls: fc.record({
    ip_forward: fc.boolean(),
    route_localnet: fc.boolean(),
    rp_filter: fc.constantFrom<Sysctls['rp_filter']>(0, 1, 2),
    accept_local: fc.boolean(),
    bridge_nf_call_iptables: fc.boolean(),
  }),
  hairpin: fc.boolean(),
  backend: fc.constantFrom<IptablesFlavor>('nft', 'legacy'),
});

/** k8s-node with both nodes' sysctls, hairpin modes and iptables flavors drawn; shrinks towards all off / nft. */
export function topologyArb(): fc.Arbitrary<TopologySpec> {
  return fc.record({ node: nodeSettings, node2: nodeSettings }).map((draw) => {
    const spec = k8sNode();
    for (const host of spec.hosts) {
      const d = host.name === 'node' ? draw.node : host.name === 'node2' ? draw.node2 : undefined;
      if (!d) continue;
      host.sysctls = { ...host.sysctls, ...d.sysctls };
      host.backend = d.backend;
      for (const i of host.ifaces) if (i.master) i.hairpin = d.hairpin;
    }
    return spec;
  });
}

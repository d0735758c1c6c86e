// The standard lab `k8s-node` (spec/semantics.md §8). Names and addresses are
// part of the project's interface: users and documents refer to them.
import type { TopologySpec, HostSpec } from './topology.ts';

/** The cluster's pod network: both nodes' bridge subnets lie in it (kube-proxy's --cluster-cidr). */
export const K8S_NODE_CLUSTER_CIDR = '10.244.0.0/16';

const off = { ip_forward: false, rp_filter: 0 as const, send_redirects: false, accept_redirects: false };
const nodeSys = { ...off, ip_forward: true, bridge_nf_call_iptables: true };

function pod(name: string, addr: string, gw: string, nodeHost: string): HostSpec {
  return {
    name,
    ifaces: [{ name: 'eth0', addrs: [addr], peer: { host: nodeHost, iface: `veth-${name}` } }],
    routes: [{ dst: 'default', via: gw }],
    sysctls: off,
  };
}

export function k8sNode(): TopologySpec {
  // a fresh copy: callers may edit what they get
  return structuredClone({
    name: 'k8s-node',
    hosts: [
      {
        name: 'node',
        ifaces: [
          { name: 'cni0', bridge: true, addrs: ['10.244.1.1/24'] },
          { name: 'veth-pod1', master: 'cni0', peer: { host: 'pod1', iface: 'eth0' }, hairpin: false },
          { name: 'veth-pod2', master: 'cni0', peer: { host: 'pod2', iface: 'eth0' }, hairpin: false },
          { name: 'eth0', addrs: ['192.168.50.10/24'], peer: { host: 'client', iface: 'eth0' } },
          { name: 'eth1', addrs: ['10.0.2.10/24'], peer: { host: 'node2', iface: 'eth1' } },
        ],
        // default route: the client stands in for "the outside" (it does not forward)
        routes: [
          { dst: '10.244.2.0/24', via: '10.0.2.11' },
          { dst: 'default', via: '192.168.50.20' },
        ],
        sysctls: nodeSys,
      },
      {
        name: 'node2',
        ifaces: [
          { name: 'cni0', bridge: true, addrs: ['10.244.2.1/24'] },
          { name: 'veth-pod3', master: 'cni0', peer: { host: 'pod3', iface: 'eth0' }, hairpin: false },
          { name: 'eth1', addrs: ['10.0.2.11/24'], peer: { host: 'node', iface: 'eth1' } },
        ],
        routes: [
          { dst: '10.244.1.0/24', via: '10.0.2.10' },
          { dst: 'default', via: '10.0.2.10' },
        ],
        sysctls: nodeSys,
      },
      pod('pod1', '10.244.1.11/24', '10.244.1.1', 'node'),
      pod('pod2', '10.244.1.12/24', '10.244.1.1', 'node'),
      pod('pod3', '10.244.2.13/24', '10.244.2.1', 'node2'),
      {
        name: 'client',
        ifaces: [{ name: 'eth0', addrs: ['192.168.50.20/24'], peer: { host: 'node', iface: 'eth0' } }],
        routes: [{ dst: 'default', via: '192.168.50.10' }],
        sysctls: off,
      },
    ],
  });
}

/** A Map, not an object: `--topology constructor` must not find Object.prototype's members. */
export const PRESETS: ReadonlyMap<string, () => TopologySpec> = new Map([['k8s-node', k8sNode]]);

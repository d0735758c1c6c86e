// A node's kube-proxy settings (the flags that change its rules), checked before any of
// them reaches a rule: names by the API server's grammar, addresses and CIDRs parsed and
// printed again in canonical form, so no value can end an argument, a comment or a line.
import { InputError } from '../model/index.ts';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../model/index.ts';
import { dns1123Subdomain, labelValue, readCidr, readIp, showValue } from './names.ts';
import type { KubeProxyVersion } from './kube-proxy-version.ts';

/** kube-proxy's --detect-local-mode and its argument; none: no local-traffic detector. */
export type LocalDetector =
  | { mode: 'ClusterCIDR'; cidr: string }
  | { mode: 'NodeCIDR'; cidr: string }
  | { mode: 'BridgeInterface'; iface: string }
  | { mode: 'InterfaceNamePrefix'; prefix: string };

export interface NodeConfig {
  nodeName: string;
  /** pod CIDR of the cluster: shorthand for detectLocal ClusterCIDR */
  clusterCIDR?: string;
  /** how pod traffic is told from other traffic; none: no detector (kube-proxy then masquerades nothing for ClusterIPs)
   * */
  detectLocal?: LocalDetector;
  /** masquerade all Service traffic */
  masqueradeAll?: boolean;
  /** the node's addresses, primary first (kube-proxy's node IP; NodePort CIDRs are matched against them) */
  nodeIPs?: string[];
  /** --nodeport-addresses: CIDRs, "primary", or single addresses; empty: every local address */
  nodePortAddresses?: string[];
  /** NodePorts also answer on 127.0.0.1 (kube-proxy sets route_localnet=1) */
  localhostNodePorts?: boolean;
  /** the node's topology.kubernetes.io/zone label (zone hints) */
  zone?: string;
  /** the nfacct counting rules of kube-proxy 1.29+ (its counters exist) */
  nfacct?: boolean;
  /** the KUBE-PROXY-CANARY and KUBE-KUBELET-CANARY chains kube-proxy and kubelet leave in every table */
  canary?: boolean;
  /** MASQUERADE --random-fully (kube-proxy adds it when iptables supports it); default on */
  randomFully?: boolean;
  /** nftables mode: the kube-proxy release whose table shape to write (kube-proxy-version.ts; default the newest) */
  kubeProxyVersion?: KubeProxyVersion;
}

/** The settings after checking: addresses canonical, the detector explicit. */
export interface CheckedNodeConfig {
  nodeName: string;
  detectLocal?: LocalDetector;
  masqueradeAll: boolean;
  nodeIPs: string[];
  /** undefined: every local address (addrtype LOCAL); else the addresses NodePorts answer on */
  nodePortIPs?: string[];
  localhostNodePorts: boolean;
  zone?: string;
  nfacct: boolean;
  canary: boolean;
  randomFully: boolean;
}

const bad = (where: string, reason: string) =>
  new InputError('invalid', `${where}: ${reason}`, { file: '<command line>', line: 1, col: 1 });

/** Linux interface names: at most 15 characters, no "/", ":" or white space (dev_valid_name) */
function ifaceProblem(s: string, prefix: boolean): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > (prefix ? 14 : 15)) return `is longer than ${prefix ? 14 : 15} characters`;
  if (!/^[A-Za-z0-9_.-]+$/.test(s)) return 'may hold only letters, digits, "_", "." and "-"';
  return undefined;
}

function cidrOf(where: string, s: string): string {
  const r = readCidr(s);
  if ('problem' in r) throw bad(where, r.problem);
  return r.text;
}

export function checkNodeConfig(node: NodeConfig): CheckedNodeConfig {
  const nameWhy = dns1123Subdomain(node.nodeName);
  if (nameWhy) throw bad('--node', `${showValue(node.nodeName)} ${nameWhy}`);
  const nodeIPs = (node.nodeIPs ?? []).map((ip) => {
    const r = readIp(ip);
    if ('problem' in r) throw bad('--node-ip', r.problem);
    return r.ip;
  });
  let detectLocal: LocalDetector | undefined;
  const d = node.detectLocal;
  if (d?.mode === 'ClusterCIDR' || d?.mode === 'NodeCIDR')
    detectLocal = { mode: d.mode, cidr: cidrOf(`--detect-local-mode ${d.mode}`, d.cidr) };
  else if (d?.mode === 'BridgeInterface') {
    const why = ifaceProblem(d.iface, false);
    if (why) throw bad('--pod-bridge-interface', `${showValue(d.iface)} ${why}`);
    detectLocal = d;
  } else if (d?.mode === 'InterfaceNamePrefix') {
    const why = ifaceProblem(d.prefix, true);
    if (why) throw bad('--pod-interface-name-prefix', `${showValue(d.prefix)} ${why}`);
    detectLocal = d;
  } else if (d !== undefined)
    throw bad('--detect-local-mode', `unknown mode ${showValue((d as { mode: unknown }).mode)}`);
  if (node.clusterCIDR !== undefined) {
    const cidr = cidrOf('--cluster-cidr', node.clusterCIDR);
    detectLocal ??= { mode: 'ClusterCIDR', cidr };
  }
  if (node.zone !== undefined) {
    const why = labelValue(node.zone);
    if (why) throw bad('--zone', `${showValue(node.zone)} ${why}`);
  }
  // --nodeport-addresses: empty or 0.0.0.0/0 matches every local address; localhost NodePorts
  // need a loopback address among them (kube-proxy turns them off otherwise)
  const given = node.nodePortAddresses ?? [];
  let localhostNodePorts = node.localhostNodePorts ?? false;
  let nodePortIPs: string[] | undefined;
  if (given.length) {
    const cidrs: Cidr[] = given.map((s) => {
      if (s === 'primary') {
        if (!nodeIPs.length) throw bad('--nodeport-address primary', "needs the node's address (--node-ip)");
        return parseCidr(`${nodeIPs[0]}/32`)!;
      }
      return parseCidr(
        s.includes('/') ? cidrOf('--nodeport-address', s) : `${cidrOf('--nodeport-address', `${s}/32`)}`,
      )!;
    });
    const loopback = parseIp('127.0.0.1')!;
    if (!cidrs.some((c) => cidrContains(c, loopback))) localhostNodePorts = false;
    if (!cidrs.some((c) => c.len === 0)) {
      const candidates = [...nodeIPs, '127.0.0.1'];
      nodePortIPs = candidates.filter((ip) => cidrs.some((c) => cidrContains(c, parseIp(ip)!)));
      // loopback NodePorts only when localhost NodePorts are on
      if (!localhostNodePorts) nodePortIPs = nodePortIPs.filter((ip) => !ip.startsWith('127.'));
      const single = given.every((s) => !s.includes('/') || s.endsWith('/32'));
      if (!nodePortIPs.length && !single && !nodeIPs.length)
        throw bad('--nodeport-address', "a CIDR is matched against the node's addresses: give them with --node-ip");
      // a single address given outright is used even when --node-ip does not list it (older behaviour)
      for (const s of given)
        if (s !== 'primary' && (!s.includes('/') || s.endsWith('/32'))) {
          const ip = readIp(s.replace(/\/32$/, ''));
          if ('ip' in ip && !nodePortIPs.includes(ip.ip) && (localhostNodePorts || !ip.ip.startsWith('127.')))
            nodePortIPs.push(ip.ip);
        }
    }
  }
  const out: CheckedNodeConfig = {
    nodeName: node.nodeName,
    masqueradeAll: node.masqueradeAll ?? false,
    nodeIPs,
    localhostNodePorts,
    nfacct: node.nfacct ?? false,
    canary: node.canary ?? false,
    randomFully: node.randomFully ?? true,
  };
  if (detectLocal) out.detectLocal = detectLocal;
  if (nodePortIPs) out.nodePortIPs = nodePortIPs;
  if (node.zone !== undefined) out.zone = node.zone;
  return out;
}

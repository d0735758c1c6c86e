// The kube-proxy iptables mode's shape: from Services, EndpointSlices and a node's
// configuration, the node's iptables-save ruleset. Learned from kube-proxy
// (pkg/proxy/iptables/proxier.go, 1.28-1.34); written anew, and checked by behaviour on
// the model and the kernel, not by text (spec/kube.md §2).
import { createHash } from 'node:crypto';
import type { Cluster } from './objects.ts';
import { resolve, reachableEndpoints, portChains, type ResolvedPort, type ResolvedEndpoint } from './endpoints.ts';
import { checkNodeConfig, type NodeConfig, type CheckedNodeConfig, type LocalDetector } from './node-config.ts';
import { parseCidr, parseIp, cidrContains } from '../model/index.ts';

export type { NodeConfig, LocalDetector } from './node-config.ts';
export { resolve, type ResolvedPort, type ResolvedEndpoint } from './endpoints.ts';

export const MASQ_MARK = '0x4000';
/** kube-proxy's nfacct counters (pkg/proxy/metrics) */
export const NFACCT_LOCALHOST_NODEPORTS = 'localhost_nps_accepted_pkts';
export const NFACCT_INVALID_DROPPED = 'ct_state_invalid_dropped_pkts';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** kube-proxy's chain names: a prefix and 16 base32 characters of a SHA-256 (28 characters in all). */
export function hashName(prefix: string, ...parts: string[]): string {
  return prefix + base32(createHash('sha256').update(parts.join('')).digest()).slice(0, 16);
}

/** A comment argument. Its text comes from checked names only; this refuses anything that could end it. */
export function comment(text: string): string {
  if (!/^[\x20-\x7e]*$/.test(text) || /["\\]/.test(text) || text.length > 256)
    throw new Error(`internal: unsafe comment text ${JSON.stringify(text.slice(0, 60))}`);
  return `-m comment --comment "${text}"`;
}

/** The local-traffic detector's match for pod traffic, and for traffic that is not (kube-proxy's IfLocal/IfNotLocal).
 * */
function ifLocal(d: LocalDetector, not: boolean): string {
  const n = not ? '! ' : '';
  switch (d.mode) {
    case 'ClusterCIDR':
    case 'NodeCIDR':
      return `${n}-s ${d.cidr}`;
    case 'BridgeInterface':
      return `${n}-i ${d.iface}`;
    case 'InterfaceNamePrefix':
      return `${n}-i ${d.prefix}+`;
  }
}

/** The node's ruleset, as iptables-save text (filter and nat tables; mangle with the canary chains). */
export function compileNode(cluster: Cluster, config: NodeConfig): string {
  const node = checkNodeConfig(config);
  const ports = resolve(cluster, node.nodeName, node.zone !== undefined ? { zone: node.zone } : {});
  const nat = new Rules('nat');
  const filter = new Rules('filter');
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) nat.chain(c);
  for (const c of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS'])
    filter.chain(c);
  // kube-proxy's jumps from the built-in chains (iptablesJumpChains), and kubelet's KUBE-FIREWALL
  nat.add('PREROUTING', `${comment('kubernetes service portals')} -j KUBE-SERVICES`);
  nat.add('OUTPUT', `${comment('kubernetes service portals')} -j KUBE-SERVICES`);
  nat.add('POSTROUTING', `${comment('kubernetes postrouting rules')} -j KUBE-POSTROUTING`);
  const fw = `-m conntrack --ctstate NEW ${comment('kubernetes load balancer firewall')} -j KUBE-PROXY-FIREWALL`;
  const ext =
    `-m conntrack --ctstate NEW ${comment('kubernetes externally-visible service portals')} -j` +
    ` KUBE-EXTERNAL-SERVICES`;
  const portals = `-m conntrack --ctstate NEW ${comment('kubernetes service portals')} -j KUBE-SERVICES`;
  filter.add('INPUT', fw);
  filter.add('INPUT', `${comment('kubernetes health check service ports')} -j KUBE-NODEPORTS`);
  filter.add('INPUT', ext);
  filter.add('FORWARD', fw);
  filter.add('FORWARD', `${comment('kubernetes forwarding rules')} -j KUBE-FORWARD`);
  filter.add('FORWARD', portals);
  filter.add('FORWARD', ext);
  filter.add('OUTPUT', fw);
  filter.add('OUTPUT', portals);

  nat.add('KUBE-MARK-MASQ', `-j MARK --or-mark ${MASQ_MARK}`);
  nat.add('KUBE-POSTROUTING', `-m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
  // clear the mark, so that a packet that passes twice is not masqueraded twice
  nat.add('KUBE-POSTROUTING', `-j MARK --xor-mark ${MASQ_MARK}`);
  nat.add(
    'KUBE-POSTROUTING',
    `${comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE${node.randomFully ? ' --random-fully' : ''}`,
  );

  if (node.localhostNodePorts) {
    // route_localnet lets packets to 127/8 in from outside; kubelet and kube-proxy drop them unless DNATed
    filter.chain('KUBE-FIREWALL');
    filter.add(
      'KUBE-FIREWALL',
      `! -s 127.0.0.0/8 -d 127.0.0.0/8 ${comment('block incoming localnet connections')} -m` +
        ` conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }
  if (node.localhostNodePorts || node.canary) {
    filter.chain('KUBE-FIREWALL');
    filter.add('INPUT', '-j KUBE-FIREWALL');
    filter.add('OUTPUT', '-j KUBE-FIREWALL');
  }

  for (const rp of ports) compilePort(rp, node, nat, filter);

  // the NodePort catch-all, last in KUBE-SERVICES
  const np = comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain');
  if (node.nodePortIPs === undefined)
    nat.add(
      'KUBE-SERVICES',
      `${node.localhostNodePorts ? '' : '! -d 127.0.0.0/8 '}${np} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
    );
  else for (const ip of node.nodePortIPs) nat.add('KUBE-SERVICES', `-d ${ip}/32 ${np} -j KUBE-NODEPORTS`);

  filter.add(
    'KUBE-FORWARD',
    `-m conntrack --ctstate INVALID${node.nfacct ? ` -m nfacct --nfacct-name ${NFACCT_INVALID_DROPPED}` : ''} -j DROP`,
  );
  filter.add(
    'KUBE-FORWARD',
    `${comment('kubernetes forwarding rules')} -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`,
  );
  filter.add(
    'KUBE-FORWARD',
    `${comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  let mangle = '';
  if (node.canary) {
    // kube-proxy watches its canary chains to notice a flushed table; kubelet has its own
    for (const t of [nat, filter]) for (const c of ['KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY']) t.chain(c);
    const m = new Rules('mangle');
    for (const c of ['KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY']) m.chain(c);
    mangle = m.print();
  }
  return `${mangle}${filter.print()}${nat.print()}`;
}

function compilePort(rp: ResolvedPort, node: CheckedNodeConfig, nat: Rules, filter: Rules): void {
  const { svc, port, spn } = rp;
  const p = port.protocol.toLowerCase();
  const svcChain = hashName('KUBE-SVC-', spn, p);
  const svlChain = hashName('KUBE-SVL-', spn, p);
  const extChain = hashName('KUBE-EXT-', spn, p);
  const fwChain = hashName('KUBE-FW-', spn, p);
  const clusterEps = rp.cluster;
  const { usesClusterChain, usesLocalChain, hasInternal, hasExternal, usesExtChain } = portChains(rp);
  const internalChain = rp.internalLocal ? svlChain : svcChain;
  const externalPolicyChain = rp.externalLocal ? svlChain : svcChain;
  const usesFw = rp.hasEndpoints && svc.loadBalancerIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  const lbChain = usesFw ? fwChain : extChain;
  // no endpoints anywhere: REJECT; none for this kind of traffic under a Local policy: DROP
  const why = rp.hasEndpoints ? ' has no local endpoints' : ' has no endpoints';
  const verdict = rp.hasEndpoints ? '-j DROP' : '-j REJECT --reject-with icmp-port-unreachable';
  const vip = (ip: string) => `-d ${ip}/32 -p ${p}`;
  const dport = (n: number) => `-m ${p} --dport ${n}`;

  if (hasInternal)
    nat.add(
      'KUBE-SERVICES',
      `${vip(svc.clusterIP!)} ${comment(`${spn} cluster IP`)} ${dport(port.port)} -j ${internalChain}`,
    );
  else filter.add('KUBE-SERVICES', `${vip(svc.clusterIP!)} ${comment(`${spn}${why}`)} ${dport(port.port)} ${verdict}`);

  for (const ip of svc.externalIPs) {
    if (rp.hasEndpoints)
      nat.add('KUBE-SERVICES', `${vip(ip)} ${comment(`${spn} external IP`)} ${dport(port.port)} -j ${extChain}`);
    if (!hasExternal)
      filter.add('KUBE-EXTERNAL-SERVICES', `${vip(ip)} ${comment(`${spn}${why}`)} ${dport(port.port)} ${verdict}`);
  }
  for (const ip of svc.loadBalancerIPs) {
    if (rp.hasEndpoints)
      nat.add('KUBE-SERVICES', `${vip(ip)} ${comment(`${spn} loadbalancer IP`)} ${dport(port.port)} -j ${lbChain}`);
    if (usesFw)
      filter.add(
        'KUBE-PROXY-FIREWALL',
        `${vip(ip)} ${comment(`${spn} traffic not accepted by ${fwChain}`)} ${dport(port.port)} -j DROP`,
      );
  }
  if (!hasExternal)
    for (const ip of svc.loadBalancerIPs)
      filter.add('KUBE-EXTERNAL-SERVICES', `${vip(ip)} ${comment(`${spn}${why}`)} ${dport(port.port)} ${verdict}`);

  if (rp.hasNodePort) {
    const n = port.nodePort!;
    if (rp.hasEndpoints) {
      if (node.localhostNodePorts && node.nfacct)
        nat.add(
          'KUBE-NODEPORTS',
          `-d 127.0.0.0/8 -p ${p} ${comment(spn)} ${dport(n)} -m nfacct --nfacct-name` +
            ` ${NFACCT_LOCALHOST_NODEPORTS} -j ${extChain}`,
        );
      nat.add('KUBE-NODEPORTS', `-p ${p} ${comment(spn)} ${dport(n)} -j ${extChain}`);
    }
    if (!hasExternal)
      filter.add(
        'KUBE-EXTERNAL-SERVICES',
        `-p ${p} ${comment(`${spn}${why}`)} -m addrtype --dst-type LOCAL ${dport(n)} ${verdict}`,
      );
  }
  // the load balancer's health checks reach kube-proxy's health server, whatever the endpoints
  if (svc.healthCheckNodePort !== undefined)
    filter.add(
      'KUBE-NODEPORTS',
      `-p tcp ${comment(`${spn} health check node port`)} -m tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`,
    );

  // internal traffic: masquerade what does not come from a pod (or everything with masqueradeAll)
  if (hasInternal) {
    const match = `${vip(svc.clusterIP!)} ${comment(`${spn} cluster IP`)} ${dport(port.port)} -j KUBE-MARK-MASQ`;
    if (node.masqueradeAll) nat.add(internalChain, match);
    else if (node.detectLocal) nat.add(internalChain, `${ifLocal(node.detectLocal, true)} ${match}`);
  }
  if (usesExtChain) {
    nat.chain(extChain);
    if (!rp.externalLocal) {
      // endpoints may be on other nodes: masquerade so the replies come back through this node
      nat.add(extChain, `${comment(`masquerade traffic for ${spn} external destinations`)} -j KUBE-MARK-MASQ`);
    } else {
      // pods and the node itself may use every endpoint; outside clients keep their address
      if (node.detectLocal)
        nat.add(
          extChain,
          `${ifLocal(node.detectLocal, false)} ${comment(`pod traffic for ${spn} external destinations`)}` +
            ` -j ${svcChain}`,
        );
      nat.add(
        extChain,
        `${comment(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype` +
          ` --src-type LOCAL -j KUBE-MARK-MASQ`,
      );
      nat.add(
        extChain,
        `${comment(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type` +
          ` LOCAL -j ${svcChain}`,
      );
    }
    if (hasExternal) nat.add(extChain, `-j ${externalPolicyChain}`);
  }
  if (usesFw) {
    nat.chain(fwChain);
    const lb = comment(`${spn} loadbalancer IP`);
    let allowFromNode = false;
    const primary = node.nodeIPs[0] === undefined ? undefined : parseIp(node.nodeIPs[0]);
    for (const range of svc.loadBalancerSourceRanges) {
      nat.add(fwChain, `-s ${range} ${lb} -j ${extChain}`);
      if (primary !== undefined && cidrContains(parseCidr(range)!, primary)) allowFromNode = true;
    }
    // the node's own requests to a load-balancer IP it holds come from that IP
    if (allowFromNode) for (const ip of svc.loadBalancerIPs) nat.add(fwChain, `-s ${ip}/32 ${lb} -j ${extChain}`);
    // what reaches the end of the chain is not DNATed; KUBE-PROXY-FIREWALL drops it
    nat.add(fwChain, comment(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`));
  }
  if (usesClusterChain) {
    nat.chain(svcChain);
    endpointRules(nat, svcChain, rp, clusterEps, p);
  }
  if (usesLocalChain) {
    nat.chain(svlChain);
    endpointRules(nat, svlChain, rp, rp.local, p);
  }
  const affinity = svc.sessionAffinity === 'ClientIP';
  for (const e of reachableEndpoints(rp)) {
    const sep = sepName(rp, e, p);
    nat.chain(sep);
    // hairpin: an endpoint reaching itself through the Service must be masqueraded
    nat.add(sep, `-s ${e.ip}/32 ${comment(spn)} -j KUBE-MARK-MASQ`);
    nat.add(
      sep,
      `-p ${p} ${comment(spn)} ` +
        (affinity ? `-m recent --set --name ${sep} --mask 255.255.255.255 --rsource ` : '') +
        `-m ${p} -j DNAT --to-destination ${e.ip}:${e.port}`,
    );
  }
}

const sepName = (rp: ResolvedPort, e: ResolvedEndpoint, p: string) =>
  hashName('KUBE-SEP-', rp.spn, p, `${e.ip}:${e.port}`);

/** Affinity (recent), then random choice with probabilities 1/(n-i), the last one unconditional. */
function endpointRules(nat: Rules, chain: string, rp: ResolvedPort, eps: ResolvedEndpoint[], p: string): void {
  const seps = eps.map((e) => ({ e, name: sepName(rp, e, p) }));
  const to = (e: ResolvedEndpoint) => comment(`${rp.spn} -> ${e.ip}:${e.port}`);
  if (rp.svc.sessionAffinity === 'ClientIP')
    for (const s of seps)
      nat.add(
        chain,
        `${to(s.e)} -m recent --rcheck --seconds ${rp.svc.affinitySeconds} --reap --name` +
          ` ${s.name} --mask 255.255.255.255 --rsource -j ${s.name}`,
      );
  seps.forEach((s, i) => {
    const n = seps.length - i;
    nat.add(
      chain,
      n > 1
        ? `${to(s.e)} -m statistic --mode random --probability ${(1 / n).toFixed(11)} -j ${s.name}`
        : `${to(s.e)} -j ${s.name}`,
    );
  });
}

const BUILTIN: Record<string, string[]> = {
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

class Rules {
  private readonly chains = new Map<string, string[]>();
  constructor(private readonly table: 'nat' | 'filter' | 'mangle') {}
  chain(name: string): void {
    if (!/^[A-Z0-9-]{1,28}$/.test(name)) throw new Error(`internal: bad chain name ${JSON.stringify(name)}`);
    if (!this.chains.has(name)) this.chains.set(name, []);
  }
  add(chain: string, spec: string): void {
    // every value was checked on the way in; a line break here would be a new rule
    if (/[\r\n\0]/.test(spec)) throw new Error('internal: a rule spec with a line break');
    this.chain(chain);
    this.chains.get(chain)!.push(spec);
  }
  print(): string {
    const builtin = BUILTIN[this.table]!;
    const user = [...this.chains.keys()].filter((c) => !builtin.includes(c));
    const lines = [`*${this.table}`, ...builtin.map((c) => `:${c} ACCEPT [0:0]`), ...user.map((c) => `:${c} - [0:0]`)];
    for (const [c, rules] of this.chains) for (const r of rules) lines.push(`-A ${c} ${r}`);
    lines.push('COMMIT');
    return lines.join('\n') + '\n';
  }
}

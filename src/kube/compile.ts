// The kube-proxy iptables mode's shape: from Services, EndpointSlices and a node's
// configuration, the node's iptables-save ruleset. Learned from kube-proxy
// (pkg/proxy/iptables/proxier.go); written anew, and checked by behaviour on the
// model and the kernel, not by text.
import { createHash } from 'node:crypto';
import type { Cluster, Service, ServicePort, Endpoint } from './objects.ts';

export interface NodeConfig {
  nodeName: string;
  /** pod CIDR of the cluster: traffic from outside it is masqueraded */
  clusterCIDR?: string;
  /** masquerade all Service traffic */
  masqueradeAll?: boolean;
  /** the addresses NodePorts answer on; empty: every local address (addrtype LOCAL) */
  nodePortAddresses?: string[];
  /** NodePorts also answer on 127.0.0.1 (the node must have route_localnet=1, as kube-proxy sets it) */
  localhostNodePorts?: boolean;
}

export const MASQ_MARK = '0x4000';

/** A Service port and the endpoints kube-proxy would use for it. */
export interface ResolvedPort {
  svc: Service;
  port: ServicePort;
  /** "ns/name:port" or "ns/name" */
  spn: string;
  /** endpoints used for cluster traffic */
  cluster: ResolvedEndpoint[];
  /** endpoints on this node, for Local policies */
  local: ResolvedEndpoint[];
}

export interface ResolvedEndpoint extends Endpoint {
  port: number;
  isLocal: boolean;
}

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

const proto = (p: ServicePort) => p.protocol.toLowerCase();

/** Endpoints per Service port: ready ones, or serving-and-terminating ones when none is ready. */
export function resolve(cluster: Cluster, nodeName: string): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const svc of cluster.services) {
    if (svc.clusterIP === undefined) continue; // headless and ExternalName: no rules
    for (const port of svc.ports) {
      const spn = `${svc.namespace}/${svc.name}${port.name ? `:${port.name}` : ''}`;
      const all: ResolvedEndpoint[] = [];
      for (const slice of cluster.slices) {
        if (slice.namespace !== svc.namespace || slice.service !== svc.name) continue;
        const sp = slice.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
        if (!sp) continue;
        for (const e of slice.endpoints) all.push({ ...e, port: sp.port, isLocal: e.nodeName === nodeName });
      }
      const pick = (eps: ResolvedEndpoint[]) => {
        const ready = eps.filter((e) => e.ready);
        return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
      };
      const cluster_ = pick(all);
      out.push({ svc, port, spn, cluster: cluster_, local: pick(all.filter((e) => e.isLocal)) });
    }
  }
  return out;
}

/** The node's ruleset, as iptables-save text (nat and filter tables). */
export function compileNode(cluster: Cluster, node: NodeConfig): string {
  const ports = resolve(cluster, node.nodeName);
  const nat = new Rules();
  const filter = new Rules();
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) nat.chain(c);
  for (const c of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL', 'KUBE-NODEPORTS'])
    filter.chain(c);

  nat.add('PREROUTING', '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  nat.add('OUTPUT', '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  nat.add('POSTROUTING', '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  nat.add('KUBE-MARK-MASQ', `-j MARK --or-mark ${MASQ_MARK}`);
  nat.add('KUBE-POSTROUTING', `-m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
  // clear the mark, so that a packet that passes twice is not masqueraded twice
  nat.add('KUBE-POSTROUTING', `-j MARK --xor-mark ${MASQ_MARK}`);
  nat.add(
    'KUBE-POSTROUTING',
    '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  );

  filter.add(
    'INPUT',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  );
  filter.add('INPUT', '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS');
  filter.add(
    'INPUT',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  );
  filter.add(
    'FORWARD',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  );
  filter.add('FORWARD', '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD');
  filter.add(
    'FORWARD',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  );
  filter.add(
    'FORWARD',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  );
  filter.add(
    'OUTPUT',
    '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  );
  filter.add('OUTPUT', '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  filter.add('KUBE-FORWARD', '-m conntrack --ctstate INVALID -j DROP');
  filter.add(
    'KUBE-FORWARD',
    `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`,
  );
  filter.add(
    'KUBE-FORWARD',
    '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );

  for (const rp of ports) compilePort(rp, node, nat, filter);

  if (node.localhostNodePorts) {
    // packets to 127/8 from outside the host are martians; kube-proxy drops them explicitly since route_localnet lets them in
    filter.chain('KUBE-FIREWALL');
    filter.add('INPUT', '-j KUBE-FIREWALL');
    filter.add('OUTPUT', '-j KUBE-FIREWALL');
    filter.add(
      'KUBE-FIREWALL',
      '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    );
  } else if (!node.nodePortAddresses?.length) {
    nat.add('KUBE-SERVICES', '-d 127.0.0.0/8 -m comment --comment "localhost NodePorts are disabled" -j RETURN');
  }
  if (node.nodePortAddresses?.length) {
    for (const ip of node.nodePortAddresses)
      nat.add(
        'KUBE-SERVICES',
        `-d ${ip}/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS`,
      );
  } else
    nat.add(
      'KUBE-SERVICES',
      '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    );
  return `${filter.print('filter')}${nat.print('nat')}`;
}

function compilePort(rp: ResolvedPort, node: NodeConfig, nat: Rules, filter: Rules): void {
  const { svc, port, spn } = rp;
  const p = proto(port);
  const svcChain = hashName('KUBE-SVC-', spn, p);
  const svlChain = hashName('KUBE-SVL-', spn, p);
  const extChain = hashName('KUBE-EXT-', spn, p);
  const fwChain = hashName('KUBE-FW-', spn, p);
  const hasNodePort = port.nodePort !== undefined && (svc.type === 'NodePort' || svc.type === 'LoadBalancer');
  const externals = [...svc.externalIPs, ...svc.loadBalancerIPs];
  const hasExternal = hasNodePort || externals.length > 0;
  const clusterEps = rp.cluster;
  const internalEps = svc.internalTrafficPolicy === 'Local' ? rp.local : clusterEps;
  const externalEps = svc.externalTrafficPolicy === 'Local' ? rp.local : clusterEps;
  const comment = (what: string) => `-m comment --comment "${spn}${what}"`;
  /** The masquerade rule of the internal traffic chain (KUBE-SVC, or KUBE-SVL with internalTrafficPolicy=Local). */
  const internalMasquerade = (chain: string) => {
    const match = `-d ${svc.clusterIP}/32 -p ${p} ${comment(' cluster IP')} -m ${p} --dport ${port.port} -j KUBE-MARK-MASQ`;
    if (node.masqueradeAll) nat.add(chain, match);
    else if (node.clusterCIDR) nat.add(chain, `! -s ${node.clusterCIDR} ${match}`);
  };

  // ClusterIP: no endpoints at all is refused; none on this node with internalTrafficPolicy=Local is dropped
  if (internalEps.length === 0) {
    if (clusterEps.length > 0)
      filter.add(
        'KUBE-SERVICES',
        `-d ${svc.clusterIP}/32 -p ${p} ${comment(' has no local endpoints')} -m ${p} --dport ${port.port} -j DROP`,
      );
    else
      filter.add(
        'KUBE-SERVICES',
        `-d ${svc.clusterIP}/32 -p ${p} ${comment(' has no endpoints')} -m ${p} --dport ${port.port} -j REJECT --reject-with icmp-port-unreachable`,
      );
  } else {
    const internalChain = svc.internalTrafficPolicy === 'Local' ? svlChain : svcChain;
    nat.add(
      'KUBE-SERVICES',
      `-d ${svc.clusterIP}/32 -p ${p} ${comment(' cluster IP')} -m ${p} --dport ${port.port} -j ${internalChain}`,
    );
  }
  // external entry points: NodePort, external IPs, load balancer IPs. With endpoints, they go to
  // the EXT chain; what it does not DNAT (externalTrafficPolicy=Local, none on this node) meets the
  // filter rule below ("DROP anything that didn't get short-circuited by the EXT chain")
  if (hasExternal) {
    if (externalEps.length === 0) {
      const why = clusterEps.length > 0 ? ' has no local endpoints' : ' has no endpoints';
      const verdict = clusterEps.length > 0 ? '-j DROP' : '-j REJECT --reject-with icmp-port-unreachable';
      for (const ip of externals)
        filter.add(
          'KUBE-EXTERNAL-SERVICES',
          `-d ${ip}/32 -p ${p} ${comment(why)} -m ${p} --dport ${port.port} ${verdict}`,
        );
      if (hasNodePort)
        filter.add(
          'KUBE-EXTERNAL-SERVICES',
          `-p ${p} ${comment(why)} -m addrtype --dst-type LOCAL -m ${p} --dport ${port.nodePort} ${verdict}`,
        );
    }
    if (clusterEps.length > 0) {
      nat.chain(extChain);
      if (svc.externalTrafficPolicy === 'Local') {
        // pods and the node itself may still use every endpoint; the client's address is kept otherwise
        if (node.clusterCIDR) nat.add(extChain, `-s ${node.clusterCIDR} ${comment('')} -j ${svcChain}`);
        nat.add(extChain, `${comment('')} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
        nat.add(extChain, `${comment('')} -m addrtype --src-type LOCAL -j ${svcChain}`);
        if (externalEps.length > 0) nat.add(extChain, `-j ${svlChain}`);
      } else {
        nat.add(extChain, `${comment('')} -j KUBE-MARK-MASQ`);
        nat.add(extChain, `-j ${svcChain}`);
      }
      for (const ip of externals) {
        const isLb = svc.loadBalancerIPs.includes(ip);
        const entry = isLb && svc.loadBalancerSourceRanges.length ? fwChain : extChain;
        nat.add(
          'KUBE-SERVICES',
          `-d ${ip}/32 -p ${p} ${comment(isLb ? ' loadbalancer IP' : ' external IP')} -m ${p} --dport ${port.port} -j ${entry}`,
        );
      }
      if (svc.loadBalancerSourceRanges.length && svc.loadBalancerIPs.length) {
        nat.chain(fwChain);
        for (const range of svc.loadBalancerSourceRanges)
          nat.add(fwChain, `-s ${range} ${comment(' loadbalancer IP')} -j ${extChain}`);
        // others fall through; the filter firewall drops them
        for (const ip of svc.loadBalancerIPs)
          filter.add(
            'KUBE-PROXY-FIREWALL',
            `-d ${ip}/32 -p ${p} ${comment(' traffic not accepted by KUBE-FW')} -m ${p} --dport ${port.port} -j DROP`,
          );
      }
      if (hasNodePort)
        nat.add('KUBE-NODEPORTS', `-p ${p} ${comment('')} -m ${p} --dport ${port.nodePort} -j ${extChain}`);
    }
  }
  // service chains
  const needSvc = (internalEps.length > 0 && svc.internalTrafficPolicy === 'Cluster') || hasExternal;
  if (needSvc && clusterEps.length > 0) {
    nat.chain(svcChain);
    internalMasquerade(svcChain);
    endpointRules(nat, svcChain, rp, clusterEps, p, comment);
  }
  const needSvl =
    (svc.internalTrafficPolicy === 'Local' && internalEps.length > 0) ||
    (svc.externalTrafficPolicy === 'Local' && hasExternal && externalEps.length > 0);
  if (needSvl) {
    nat.chain(svlChain);
    // with internalTrafficPolicy=Local this is the internal chain, and carries the masquerade rule
    if (svc.internalTrafficPolicy === 'Local') internalMasquerade(svlChain);
    endpointRules(nat, svlChain, rp, rp.local, p, comment);
  }
}

/** Affinity (recent), then random choice with probabilities 1/(n-i), then one chain per endpoint. */
function endpointRules(
  nat: Rules,
  chain: string,
  rp: ResolvedPort,
  eps: ResolvedEndpoint[],
  p: string,
  comment: (w: string) => string,
): void {
  const affinity = rp.svc.sessionAffinity === 'ClientIP';
  const seps = eps.map((e) => ({ e, name: hashName('KUBE-SEP-', rp.spn, p, `${e.ip}:${e.port}`) }));
  if (affinity)
    for (const s of seps)
      nat.add(
        chain,
        `${comment(` -> ${s.e.ip}:${s.e.port}`)} -m recent --rcheck --seconds ${rp.svc.affinitySeconds} --reap --name ${s.name} --mask 255.255.255.255 --rsource -j ${s.name}`,
      );
  seps.forEach((s, i) => {
    const n = seps.length - i;
    nat.add(
      chain,
      n > 1
        ? `${comment(` -> ${s.e.ip}:${s.e.port}`)} -m statistic --mode random --probability ${(1 / n).toFixed(11)} -j ${s.name}`
        : `${comment(` -> ${s.e.ip}:${s.e.port}`)} -j ${s.name}`,
    );
  });
  for (const s of seps) {
    if (nat.has(s.name)) continue;
    nat.chain(s.name);
    // hairpin: an endpoint reaching itself through the Service must be masqueraded
    nat.add(s.name, `-s ${s.e.ip}/32 ${comment('')} -j KUBE-MARK-MASQ`);
    nat.add(
      s.name,
      `-p ${p} ${comment('')} ${affinity ? `-m recent --set --name ${s.name} --mask 255.255.255.255 --rsource ` : ''}-m ${p} -j DNAT --to-destination ${s.e.ip}:${s.e.port}`,
    );
  }
}

class Rules {
  private readonly chains = new Map<string, string[]>();
  private static readonly BUILTIN: Record<string, string[]> = {
    nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
    filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  };
  chain(name: string): void {
    if (!this.chains.has(name)) this.chains.set(name, []);
  }
  has(name: string): boolean {
    return this.chains.has(name);
  }
  add(chain: string, spec: string): void {
    this.chain(chain);
    this.chains.get(chain)!.push(spec);
  }
  print(table: 'nat' | 'filter'): string {
    const builtin = Rules.BUILTIN[table]!;
    const user = [...this.chains.keys()].filter((c) => !builtin.includes(c));
    const lines = [`*${table}`, ...builtin.map((c) => `:${c} ACCEPT [0:0]`), ...user.map((c) => `:${c} - [0:0]`)];
    for (const [c, rules] of this.chains) for (const r of rules) lines.push(`-A ${c} ${r}`);
    lines.push('COMMIT');
    return lines.join('\n') + '\n';
  }
}

// The kube-proxy nftables mode's shape: from Services, EndpointSlices and a node's configuration, the
// node's `kube-proxy` table as `nft -f` input. Learned from kube-proxy (pkg/proxy/nftables/proxier.go and
// its README and proxier_test.go, 1.33-1.35, and PRs #135800 and #136499 for 1.36: kube-proxy-version.ts says where
// they differ); written anew and checked by behaviour (the Service-level oracle on the kernel and the model) and by
// real nft, which must load it and list it as the model prints it (spec/kube.md §2a).
import { createHash } from 'node:crypto';
import type { Cluster } from './objects.ts';
import { resolve, reachableEndpoints, portChains, type ResolvedPort, type ResolvedEndpoint } from './endpoints.ts';
import { checkNodeConfig, type NodeConfig, type CheckedNodeConfig, type LocalDetector } from './node-config.ts';
import { cidrContains, parseCidr, parseIp, type NftRuleset } from '../model/index.ts';
import { NFT_SHAPES, DEFAULT_KUBE_PROXY_VERSION, type NftShape } from './kube-proxy-version.ts';

export const NFT_TABLE = 'kube-proxy';
export const NFT_MASQ_MARK = '0x00004000';

/** The base chains (kube-proxy 1.33+): the firewall check runs before DNAT (dstnat - 10) so that it sees
 *  load-balancer addresses; the endpoint and ClusterIP checks run at filter priority, after DNAT, so that
 *  they see only what no Service took (a node's own packet to an external IP it short-circuits passes).
 *  nft 1.0.6 names `dstnat` at prerouting only, so priorities are numbers (dstnat -100, srcnat 100). */
const BASE_CHAINS: readonly { name: string; type: 'filter' | 'nat'; hook: string; prio: number }[] = [
  { name: 'filter-prerouting-pre-dnat', type: 'filter', hook: 'prerouting', prio: -110 },
  { name: 'filter-output-pre-dnat', type: 'filter', hook: 'output', prio: -110 },
  { name: 'filter-forward', type: 'filter', hook: 'forward', prio: 0 },
  { name: 'filter-input', type: 'filter', hook: 'input', prio: 0 },
  { name: 'filter-output', type: 'filter', hook: 'output', prio: 0 },
  { name: 'nat-prerouting', type: 'nat', hook: 'prerouting', prio: -100 },
  { name: 'nat-output', type: 'nat', hook: 'output', prio: -100 },
  { name: 'nat-postrouting', type: 'nat', hook: 'postrouting', prio: 100 },
];

/** Jumps from the base chains to the top-level chains, in order (new connections only for the checks). */
const JUMPS: readonly { from: string; to: string; newOnly: boolean }[] = [
  { from: 'filter-prerouting-pre-dnat', to: 'firewall-check', newOnly: true },
  { from: 'filter-output-pre-dnat', to: 'firewall-check', newOnly: true },
  { from: 'filter-forward', to: 'service-endpoints-check', newOnly: true },
  { from: 'filter-forward', to: 'cluster-ips-check', newOnly: true },
  { from: 'filter-input', to: 'nodeport-endpoints-check', newOnly: true },
  { from: 'filter-input', to: 'service-endpoints-check', newOnly: true },
  { from: 'filter-output', to: 'service-endpoints-check', newOnly: true },
  { from: 'filter-output', to: 'cluster-ips-check', newOnly: true },
  { from: 'nat-prerouting', to: 'services', newOnly: false },
  { from: 'nat-output', to: 'services', newOnly: false },
  { from: 'nat-postrouting', to: 'masquerading', newOnly: false },
];

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** kube-proxy's nft names: 8 base32 characters of SHA-256(name), "-", then the readable name. */
export function nftHashName(prefix: string, name: string): string {
  const digest = createHash('sha256').update(name).digest();
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 8) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 8) break;
  }
  return `${prefix}${out}-${name}`;
}

/** A quoted nft string. Its text comes from checked names only; this refuses anything that could end it. */
function quoted(text: string): string {
  if (!/^[\x20-\x7e]*$/.test(text) || /["\\]/.test(text) || text.length > 128)
    throw new Error(`internal: unsafe nft string ${JSON.stringify(text.slice(0, 60))}`);
  return `"${text}"`;
}

/** kube-proxy's local-traffic detector in nft (IfLocalNFT / IfNotLocalNFT). */
function ifLocal(d: LocalDetector, not: boolean): string {
  const op = not ? '!= ' : '';
  switch (d.mode) {
    case 'ClusterCIDR':
    case 'NodeCIDR':
      return `ip saddr ${op}${d.cidr}`;
    case 'BridgeInterface':
      return `iifname ${op}${quoted(d.iface)}`;
    case 'InterfaceNamePrefix':
      return `iifname ${op}${quoted(`${d.prefix}*`)}`;
  }
}

interface Chain {
  comment?: string;
  rules: string[];
}

/** One table's objects as `nft -f` text (a table block), with every name and value checked on the way in. */
class Table {
  readonly chains = new Map<string, Chain>();
  readonly sets: string[] = [];
  private readonly elements = new Map<string, string[]>();
  chain(name: string, comment?: string): void {
    if (!/^[A-Za-z][A-Za-z0-9_./-]{0,255}$/.test(name)) throw new Error(`internal: bad chain name ${name}`);
    if (!this.chains.has(name)) this.chains.set(name, comment === undefined ? { rules: [] } : { comment, rules: [] });
  }
  add(chain: string, rule: string): void {
    if (/[\r\n\0;{}]/.test(rule.replace(/\{[^{}\n;]*\}/g, ''))) throw new Error('internal: a rule with a separator');
    this.chain(chain);
    this.chains.get(chain)!.rules.push(rule);
  }
  /** a set or map declaration: its body lines (without elements) */
  set(kind: 'set' | 'map', name: string, body: string[]): void {
    this.sets.push(`${kind} ${name}\n${body.join('\n')}`);
    if (!this.elements.has(name)) this.elements.set(name, []);
  }
  element(set: string, text: string): void {
    const list = this.elements.get(set);
    if (!list) throw new Error(`internal: no set ${set}`);
    if (!list.includes(text)) list.push(text);
  }
  /** kube-proxy's in-place update, one transaction (pkg/proxy/nftables/proxier.go syncProxyRules): the table
   *  made if absent, every chain's rules flushed and written again, every set and map but the ClientIP
   *  affinity sets flushed and filled again; an affinity set is only declared, so that the clients a rule put
   *  in it stay there across a re-apply (spec/kube.md §2a). */
  print(): string {
    const out = [
      `add table ip ${NFT_TABLE} { comment "rules for kube-proxy" ; }`,
      `flush table ip ${NFT_TABLE}`,
      `table ip ${NFT_TABLE} {`,
    ];
    const fill: string[] = [];
    for (const s of this.sets) {
      const [head, ...body] = s.split('\n');
      const [kind, name] = head!.split(' ') as [string, string];
      out.push(`\t${head} {`, ...body.map((l) => `\t\t${l}`), '\t}');
      if (isAffinitySet(name)) continue;
      fill.push(`flush ${kind} ip ${NFT_TABLE} ${name}`);
      const els = this.elements.get(name)!;
      if (els.length) fill.push(`add element ip ${NFT_TABLE} ${name} { ${els.join(',\n\t')} }`);
    }
    const base = new Map(BASE_CHAINS.map((b) => [b.name, b]));
    for (const [name, c] of this.chains) {
      out.push(`\tchain ${name} {`);
      if (c.comment !== undefined) out.push(`\t\tcomment ${quoted(c.comment)}`);
      const b = base.get(name);
      if (b) out.push(`\t\ttype ${b.type} hook ${b.hook} priority ${b.prio}; policy accept;`);
      for (const r of c.rules) out.push(`\t\t${r}`);
      out.push('\t}');
    }
    out.push('}', ...fill);
    return out.join('\n') + '\n';
  }
}

const isAffinitySet = (name: string) => name.startsWith('affinity-');
/** kube-proxy's per-Service chains: only they hold a "/" (proxier.go isServiceChainName) */
const isServiceChain = (name: string) => name.includes('/');

/** What the node's `kube-proxy` table holds before a resync (`nft list chains|sets` of it): kube-proxy deletes
 *  what went away, and the compiler does the same when told (spec/kube.md §2a). */
export interface NftNodeState {
  /** its chains, and how many rules each holds */
  chains: readonly { name: string; rules: number }[];
  /** its sets and maps */
  sets: readonly string[];
}

/** The node's `kube-proxy` table as an NftNodeState (the model's or a parsed dump's). */
export function nftNodeState(rs: NftRuleset): NftNodeState | undefined {
  const t = rs.tables.get(`ip ${NFT_TABLE}`);
  if (!t) return undefined;
  return {
    chains: [...t.chains.values()].map((c) => ({ name: c.name, rules: c.rules.length })),
    sets: [...t.sets.keys()],
  };
}

/** kube-proxy's stale objects (proxier.go syncProxyRules): a per-Service chain no Service uses any more is
 *  flushed (here by "flush table") and deleted at the next sync, once nothing can reach it (kernels before
 *  6.2 notice a deleted map element's chain reference late); an empty one is such a chain of an earlier sync.
 *  An affinity set no endpoint uses any more is deleted at once. */
function staleCommands(t: Table, existing: NftNodeState): string[] {
  const sets = new Set(t.sets.map((s) => s.split('\n')[0]!.split(' ')[1]!));
  const out: string[] = [];
  for (const c of existing.chains)
    if (isServiceChain(c.name) && !t.chains.has(c.name) && c.rules === 0)
      out.push(`delete chain ip ${NFT_TABLE} ${checkedName(c.name)}`);
  for (const name of existing.sets)
    if (isAffinitySet(name) && !sets.has(name)) out.push(`delete set ip ${NFT_TABLE} ${checkedName(name)}`);
  return out;
}

/** A chain or set name from the node, before it goes into a command. */
function checkedName(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_./-]{0,255}$/.test(name)) throw new Error(`internal: bad nft name ${name.slice(0, 60)}`);
  return name;
}

/** The node's `kube-proxy` table as `nft -f` input, written as kube-proxy updates it in place (Table.print):
 *  loaded again, it replaces the rules and the Services' sets, and keeps the affinity sets' clients. */
export function compileNodeNft(cluster: Cluster, config: NodeConfig, existing?: NftNodeState): string {
  const node = checkNodeConfig(config);
  const shape = NFT_SHAPES[config.kubeProxyVersion ?? DEFAULT_KUBE_PROXY_VERSION];
  const ports = resolve(cluster, node.nodeName, node.zone !== undefined ? { zone: node.zone } : {});
  const t = new Table();
  const addr = 'ipv4_addr . inet_proto . inet_service : verdict';
  // 1.36: endpoints reaching themselves, `EP . EP . proto . port` (a v1.36.2 node lists this set first)
  if (shape.hairpinSet)
    t.set('set', HAIRPIN_SET, [
      'type ipv4_addr . ipv4_addr . inet_proto . inet_service',
      'comment "service hairpin connections"',
    ]);
  t.set('set', 'cluster-ips', ['type ipv4_addr', 'comment "Active ClusterIPs"']);
  // --nodeport-addresses: a set of the node's addresses (localhost NodePorts do not exist in nftables mode)
  const nodePortIPs = node.nodePortIPs?.filter((ip) => !ip.startsWith('127.'));
  if (nodePortIPs) {
    t.set('set', 'nodeport-ips', ['type ipv4_addr', 'comment "IPs that accept NodePort traffic"']);
    for (const ip of nodePortIPs) t.element('nodeport-ips', ip);
  }
  t.set('map', 'no-endpoint-services', [
    `type ${addr}`,
    'comment "vmap to drop or reject packets to services with no endpoints"',
  ]);
  t.set('map', 'no-endpoint-nodeports', [
    'type inet_proto . inet_service : verdict',
    'comment "vmap to drop or reject packets to service nodeports with no endpoints"',
  ]);
  t.set('map', 'firewall-ips', [`type ${addr}`, 'comment "destinations that are subject to LoadBalancerSourceRanges"']);
  t.set('map', 'service-ips', [`type ${addr}`, 'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"']);
  t.set('map', 'service-nodeports', ['type inet_proto . inet_service : verdict', 'comment "NodePort traffic"']);

  for (const b of BASE_CHAINS) t.chain(b.name);
  for (const j of JUMPS) t.add(j.from, `${j.newOnly ? 'ct state new ' : ''}jump ${j.to}`);
  if (shape.markChain) t.add('mark-for-masquerade', `meta mark set meta mark | ${NFT_MASQ_MARK}`);
  // clear the mark before masquerading, so that a packet that passes twice (a VXLAN-encapsulated one reuses its
  // skb) is not masqueraded twice
  if (shape.oneMasqueradingRule)
    t.add(
      'masquerading',
      `meta mark & ${NFT_MASQ_MARK} != 0x00000000 meta mark set meta mark ^ ${NFT_MASQ_MARK} masquerade fully-random`,
    );
  else {
    t.add('masquerading', `meta mark & ${NFT_MASQ_MARK} == 0x00000000 return`);
    t.add('masquerading', `meta mark set meta mark ^ ${NFT_MASQ_MARK}`);
    t.add('masquerading', 'masquerade fully-random');
  }
  if (shape.hairpinSet)
    t.add(
      'masquerading',
      `ct status dnat ip saddr . ip daddr . meta l4proto . th dport @${HAIRPIN_SET} masquerade fully-random`,
    );
  // a ClusterIP on a port no Service has is rejected (connection refused), as a missing Service port
  t.add('cluster-ips-check', 'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"');
  // reject is allowed at input/forward/output only (before Linux 5.9): reached through a goto from there
  t.chain('reject-chain', 'helper for @no-endpoint-services / @no-endpoint-nodeports');
  t.add('reject-chain', 'reject');
  t.add('service-endpoints-check', 'ip daddr . meta l4proto . th dport vmap @no-endpoint-services');
  t.add(
    'nodeport-endpoints-check',
    `${nodePortIPs ? 'ip daddr @nodeport-ips' : 'ip daddr != 127.0.0.0/8'} meta l4proto . th` +
      ` dport vmap @no-endpoint-nodeports`,
  );
  t.add('firewall-check', 'ip daddr . meta l4proto . th dport vmap @firewall-ips');
  // 1.36: ClusterIP traffic from outside the detector is marked here, whatever its port, not in each Service chain
  if (shape.clusterIpRuleInServices) {
    if (node.masqueradeAll)
      t.add('services', `ip daddr @cluster-ips ${markMasq(shape)} comment "masquerade all clusterIP traffic"`);
    else if (node.detectLocal)
      t.add(
        'services',
        `ip daddr @cluster-ips ${ifLocal(node.detectLocal, true)} ${markMasq(shape)}` +
          ' comment "masquerade clusterIP traffic from outside cluster"',
      );
  }
  t.add('services', 'ip daddr . meta l4proto . th dport vmap @service-ips');
  t.add(
    'services',
    (nodePortIPs ? 'ip daddr @nodeport-ips' : 'fib daddr type local ip daddr != 127.0.0.0/8') +
      ' meta l4proto . th dport vmap @service-nodeports',
  );

  for (const rp of ports) compilePort(rp, node, shape, t);
  const stale = existing ? staleCommands(t, existing) : [];
  return t.print() + stale.map((c) => `${c}\n`).join('');
}

const HAIRPIN_SET = 'hairpin-connections';

/** The statement that marks a packet for masquerading: a jump to the chain that sets the mark (1.33-1.35), or the
 *  mark set in place (1.36). */
const markMasq = (shape: NftShape) =>
  shape.markChain ? 'jump mark-for-masquerade' : `meta mark set meta mark | ${NFT_MASQ_MARK}`;

const base = (rp: ResolvedPort, p: string) => `${rp.svc.namespace}/${rp.svc.name}/${p}/${rp.port.name}`;
const endpointChain = (rp: ResolvedPort, e: ResolvedEndpoint, p: string) =>
  nftHashName('endpoint-', `${base(rp, p)}__${e.ip}/${e.port}`);
const affinitySet = (rp: ResolvedPort, e: ResolvedEndpoint, p: string) =>
  nftHashName('affinity-', `${base(rp, p)}__${e.ip}/${e.port}`);

function compilePort(rp: ResolvedPort, node: CheckedNodeConfig, shape: NftShape, t: Table): void {
  const { svc, port } = rp;
  const p = port.protocol.toLowerCase();
  const clusterChain = nftHashName('service-', base(rp, p));
  const localChain = nftHashName('local-', base(rp, p));
  const extChain = nftHashName('external-', base(rp, p));
  const fwChain = nftHashName('firewall-', base(rp, p));
  const { usesClusterChain, usesLocalChain, hasInternal, hasExternal, usesExtChain } = portChains(rp);
  const internalChain = rp.internalLocal ? localChain : clusterChain;
  const externalPolicyChain = rp.externalLocal ? localChain : clusterChain;
  // no endpoints anywhere: reject; none for this kind of traffic under a Local policy: drop
  const internalVerdict = rp.hasEndpoints ? 'drop' : 'goto reject-chain';
  const externalVerdict = rp.hasEndpoints ? 'drop' : 'goto reject-chain';
  const key = (ip: string, n: number) => `${ip} . ${p} . ${n}`;
  // kube-proxy names the Service port of each no-endpoint element in its comment ("ns/name:port")
  const named = (verdict: string) => `comment ${quoted(rp.spn)} : ${verdict}`;
  const cip = svc.clusterIP!;

  t.element('cluster-ips', cip);
  if (hasInternal) t.element('service-ips', `${key(cip, port.port)} : goto ${internalChain}`);
  else t.element('no-endpoint-services', `${key(cip, port.port)} ${named(internalVerdict)}`);

  for (const ip of svc.externalIPs) {
    if (rp.hasEndpoints) t.element('service-ips', `${key(ip, port.port)} : goto ${extChain}`);
    if (!hasExternal) t.element('no-endpoint-services', `${key(ip, port.port)} ${named(externalVerdict)}`);
  }
  const usesFw = svc.loadBalancerIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  for (const ip of svc.loadBalancerIPs) {
    if (rp.hasEndpoints) t.element('service-ips', `${key(ip, port.port)} : goto ${extChain}`);
    if (usesFw) t.element('firewall-ips', `${key(ip, port.port)} : goto ${fwChain}`);
  }
  if (!hasExternal)
    for (const ip of svc.loadBalancerIPs)
      t.element('no-endpoint-services', `${key(ip, port.port)} ${named(externalVerdict)}`);
  if (rp.hasNodePort) {
    const n = port.nodePort!;
    if (rp.hasEndpoints) t.element('service-nodeports', `${p} . ${n} : goto ${extChain}`);
    if (!hasExternal) t.element('no-endpoint-nodeports', `${p} . ${n} ${named(externalVerdict)}`);
  }

  // internal traffic: masquerade what does not come from a pod (or everything with masqueradeAll)
  if (hasInternal && !shape.clusterIpRuleInServices) {
    const match = `ip daddr ${cip}`;
    if (node.masqueradeAll) t.add(internalChain, `${match} ${markMasq(shape)}`);
    else if (node.detectLocal) t.add(internalChain, `${match} ${ifLocal(node.detectLocal, true)} ${markMasq(shape)}`);
  }
  if (usesExtChain) {
    t.chain(extChain);
    if (!rp.externalLocal) {
      // endpoints may be on other nodes: masquerade so that the replies come back through this node
      t.add(extChain, markMasq(shape));
    } else {
      // pods and the node itself may use every endpoint; outside clients keep their address
      if (node.detectLocal)
        t.add(extChain, `${ifLocal(node.detectLocal, false)} goto ${clusterChain} comment "short-circuit pod traffic"`);
      t.add(extChain, `fib saddr type local ${markMasq(shape)} comment "masquerade local traffic"`);
      t.add(extChain, `fib saddr type local goto ${clusterChain} comment "short-circuit local traffic"`);
    }
    if (hasExternal) t.add(extChain, `goto ${externalPolicyChain}`);
  }
  if (usesFw) {
    t.chain(fwChain);
    const sources = [...svc.loadBalancerSourceRanges];
    const primary = node.nodeIPs[0] === undefined ? undefined : parseIp(node.nodeIPs[0]);
    // the node's own requests to a load-balancer IP it holds come from that IP
    if (primary !== undefined && svc.loadBalancerSourceRanges.some((r) => cidrContains(parseCidr(r)!, primary)))
      sources.push(...svc.loadBalancerIPs);
    t.add(fwChain, `ip saddr != { ${sources.join(', ')} } drop`);
  }
  const affinity = svc.sessionAffinity === 'ClientIP';
  const eps = reachableEndpoints(rp);
  if (affinity)
    for (const e of eps)
      t.set('set', affinitySet(rp, e, p), [
        'type ipv4_addr',
        'flags dynamic,timeout',
        `timeout ${svc.affinitySeconds}s`,
      ]);
  // 1.36: without affinity, no endpoint chains: the Service chain DNATs by a numgen-keyed map
  const squash = shape.squashEndpointChains && !affinity;
  if (usesClusterChain) endpointRules(t, clusterChain, rp, rp.cluster, p, squash);
  if (usesLocalChain) endpointRules(t, localChain, rp, rp.local, p, squash);
  for (const e of eps) {
    // hairpin: an endpoint reaching itself through the Service must be masqueraded; 1.36 lists the endpoints
    // (the same ones 1.35's endpoint chains mark) in a set instead
    if (shape.hairpinSet) t.element(HAIRPIN_SET, `${e.ip} . ${e.ip} . ${p} . ${e.port}`);
    if (squash) continue;
    const ch = endpointChain(rp, e, p);
    if (!shape.hairpinSet) t.add(ch, `ip saddr ${e.ip} ${markMasq(shape)}`);
    if (affinity) t.add(ch, `update @${affinitySet(rp, e, p)} { ip saddr }`);
    t.add(ch, `meta l4proto ${p} dnat to ${e.ip}:${e.port}`);
  }
}

/** Affinity (the source in an endpoint's set), then `numgen random mod n` over the endpoints: a verdict map to
 *  their chains, or (squashed, 1.36) a map to their address and port that the DNAT takes. */
function endpointRules(
  t: Table,
  chain: string,
  rp: ResolvedPort,
  eps: ResolvedEndpoint[],
  p: string,
  squash: boolean,
): void {
  t.chain(chain);
  if (squash) {
    const arms = eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`);
    t.add(chain, `meta l4proto ${p} dnat ip to numgen random mod ${eps.length} map { ${arms.join(', ')} }`);
    return;
  }
  if (rp.svc.sessionAffinity === 'ClientIP')
    for (const e of eps) t.add(chain, `ip saddr @${affinitySet(rp, e, p)} goto ${endpointChain(rp, e, p)}`);
  const arms = eps.map((e, i) => `${i} : goto ${endpointChain(rp, e, p)}`);
  t.add(chain, `numgen random mod ${eps.length} vmap { ${arms.join(', ')} }`);
}

// THE table of nft selectors (the left side of matches and lookups) in the subset. It drives the
// parser, the printer, validation, the evaluator and the arbitraries (spec/nft.md §3). Kernel sources:
// payload net/netfilter/nft_payload.c, meta nft_meta.c, ct nft_ct.c, fib nft_fib.c.
import type { DtypeName, NftHook } from './types.ts';

export interface SelectorDesc {
  /** canonical name, as nft lists it */
  name: string;
  /** other spellings accepted on input */
  aliases?: readonly string[];
  dtype: DtypeName;
  /** payload selectors: header, offset and length in bytes (for nft's merging of adjacent port matches) */
  payload?: { base: 'network' | 'transport'; offset: number; len: number };
  /** transport selectors need a protocol: tcp/udp name one, th takes it from a dependency */
  l4?: 'tcp' | 'udp' | 'th';
  /** hooks the kernel accepts the expression in (nft_fib.c nft_fib_validate); all when absent */
  hooks?: readonly NftHook[];
  /** what the model evaluates it from (the evaluator reads this) */
  field:
    | 'saddr'
    | 'daddr'
    | 'l4proto'
    | 'sport'
    | 'dport'
    | 'mark'
    | 'ctmark'
    | 'ctstate'
    | 'ctstatus'
    | 'iif'
    | 'oif'
    | 'iifname'
    | 'oifname'
    | 'fib-daddr-type'
    | 'fib-saddr-type'
    /** the packet's family (NFPROTO_IPV4 for every packet the model plays) */
    | 'nfproto'
    /** a field of an IPv6 packet: absent from the IPv4 packets the model plays (the rule breaks) */
    | 'ipv6';
  /** may be part of a concatenation (fixed-width values) */
  concat?: boolean;
  /** IPv6 only: in an inet table nft's dependency (meta nfproto ipv6, meta l4proto ipv6-icmp) fails on IPv4, so
   *  the rule breaks; in an ip table unsupported. Not drawn by the arbitraries (met in the real-world corpus) */
  ipv6?: true;
  /** not drawn by the arbitraries (the parser property covers the kube-proxy subset); met in real rulesets */
  notGenerated?: true;
}

const port = (l4: 'tcp' | 'udp' | 'th', which: 'sport' | 'dport'): SelectorDesc => ({
  name: `${l4} ${which}`,
  dtype: 'inet_service',
  payload: { base: 'transport', offset: which === 'sport' ? 0 : 2, len: 2 },
  l4,
  field: which,
  concat: true,
});

export const SELECTORS: readonly SelectorDesc[] = [
  {
    name: 'ip saddr',
    dtype: 'ipv4_addr',
    payload: { base: 'network', offset: 12, len: 4 },
    field: 'saddr',
    concat: true,
  },
  {
    name: 'ip daddr',
    dtype: 'ipv4_addr',
    payload: { base: 'network', offset: 16, len: 4 },
    field: 'daddr',
    concat: true,
  },
  { name: 'ip protocol', dtype: 'inet_proto', payload: { base: 'network', offset: 9, len: 1 }, field: 'l4proto' },
  { name: 'meta l4proto', dtype: 'inet_proto', field: 'l4proto', concat: true },
  port('tcp', 'sport'),
  port('tcp', 'dport'),
  port('udp', 'sport'),
  port('udp', 'dport'),
  port('th', 'sport'),
  port('th', 'dport'),
  { name: 'meta mark', aliases: ['mark'], dtype: 'mark', field: 'mark', concat: true },
  { name: 'ct mark', dtype: 'mark', field: 'ctmark', concat: true },
  { name: 'ct state', dtype: 'ct_state', field: 'ctstate' },
  { name: 'ct status', dtype: 'ct_status', field: 'ctstatus' },
  { name: 'iif', aliases: ['meta iif'], dtype: 'iface_index', field: 'iif' },
  { name: 'oif', aliases: ['meta oif'], dtype: 'iface_index', field: 'oif' },
  { name: 'iifname', aliases: ['meta iifname'], dtype: 'ifname', field: 'iifname', concat: true },
  { name: 'oifname', aliases: ['meta oifname'], dtype: 'ifname', field: 'oifname', concat: true },
  { name: 'fib daddr type', dtype: 'fib_addrtype', field: 'fib-daddr-type' },
  { name: 'fib saddr type', dtype: 'fib_addrtype', field: 'fib-saddr-type' },
  // firewalld's and the distributions' inet tables (suites/realworld/): the family, and IPv6 matches an IPv4
  // packet never meets (nft_meta.c NFT_META_NFPROTO; nft_payload.c reads the network header of the family)
  { name: 'meta nfproto', dtype: 'nfproto', field: 'nfproto', notGenerated: true },
  { name: 'ip6 saddr', dtype: 'ipv6_addr', field: 'ipv6', ipv6: true, notGenerated: true },
  { name: 'ip6 daddr', dtype: 'ipv6_addr', field: 'ipv6', ipv6: true, notGenerated: true },
  { name: 'icmpv6 type', dtype: 'icmpv6_type', field: 'ipv6', ipv6: true, notGenerated: true },
];

const BY_SPELLING = new Map<string, SelectorDesc>();
for (const s of SELECTORS) for (const n of [s.name, ...(s.aliases ?? [])]) BY_SPELLING.set(n, s);

export function selector(name: string): SelectorDesc {
  const s = BY_SPELLING.get(name);
  if (!s) throw new Error(`internal: no nft selector "${name}"`);
  return s;
}

/** The longest spelling (one to three words) that names a selector at words[i..]. */
export function matchSelector(words: readonly string[]): { desc: SelectorDesc; used: number } | undefined {
  for (const n of [3, 2, 1]) {
    const d = BY_SPELLING.get(words.slice(0, n).join(' '));
    if (d && words.length >= n) return { desc: d, used: n };
  }
  return undefined;
}

/** Selector words nft knows but the subset does not model: reported as unsupported, never guessed. */
export const KNOWN_UNMODELLED = new Set([
  'ip6',
  'ether',
  'vlan',
  'arp',
  'icmp',
  'icmpv6',
  'sctp',
  'dccp',
  'ah',
  'esp',
  'comp',
  'udplite',
  'rt',
  'socket',
  'osf',
  'ipsec',
  'tunnel',
  'exthdr',
  'frag',
  'hbh',
  'dst',
  'mh',
  'srh',
  'tcpopt',
  'dup',
  'fwd',
  'queue',
  'limit',
  'quota',
  'synproxy',
  'tproxy',
  'redirect',
  'flow',
  'meter',
  'symhash',
  'jhash',
  'hash',
  'set',
  'update',
  'add',
  'delete',
  'last',
  'secmark',
  'ct',
  'meta',
  'fib',
  'numgen',
  'ip',
  'tcp',
  'udp',
  'th',
]);

/** Named base-chain priorities (nftables src/rule.c std_prios) and the hooks nft 1.0.6 accepts them in. */
export const NAMED_PRIORITIES: readonly { name: string; value: number; hooks?: readonly NftHook[] }[] = [
  { name: 'raw', value: -300 },
  { name: 'mangle', value: -150 },
  { name: 'dstnat', value: -100, hooks: ['prerouting'] },
  { name: 'filter', value: 0 },
  { name: 'security', value: 50 },
  { name: 'srcnat', value: 100, hooks: ['postrouting'] },
];

/** Hooks each chain type may be registered at in the ip and inet families (net/netfilter/nft_chain_*.c). */
export const CHAIN_TYPE_HOOKS: Record<'filter' | 'nat' | 'route', readonly NftHook[]> = {
  filter: ['prerouting', 'input', 'forward', 'output', 'postrouting'],
  nat: ['prerouting', 'input', 'output', 'postrouting'],
  route: ['output'],
};

/** Hooks from which a statement may be reached (kernel *_validate: nft_nat.c, nft_masq.c, nft_reject.c). */
export const STMT_HOOKS: Record<'dnat' | 'snat' | 'masquerade' | 'reject', readonly NftHook[]> = {
  dnat: ['prerouting', 'output'],
  snat: ['postrouting', 'input'],
  masquerade: ['postrouting'],
  reject: ['prerouting', 'input', 'forward', 'output'],
};

export const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug', 'audit'] as const;
export const REJECT_ICMP = [
  'net-unreachable',
  'host-unreachable',
  'prot-unreachable',
  'port-unreachable',
  'net-prohibited',
  'host-prohibited',
  'admin-prohibited',
] as const;
export const REJECT_ICMPX = ['port-unreachable', 'admin-prohibited', 'no-route', 'host-unreachable'] as const;

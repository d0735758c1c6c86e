// Deliberately wrong variants of the Service compiler, to measure how much the
// suites and the property can catch (`npm run mutants`). Each one is a small,
// plausible bug in a kube-proxy-shaped data plane.
import type { Cluster } from './objects.ts';

export interface CompilerMutant {
  name: string;
  description: string;
  /** a compiler that ignores a field behaves as if the field had its default */
  services?: (c: Cluster) => Cluster;
  /** a compiler that writes wrong rules */
  rules?: (text: string) => string;
  /** its nftables-mode twin: the same bug in the `kube-proxy` nft table (compile-nft.ts's text), in the shape of
   *  each kube-proxy release it writes (kube-proxy-version.ts: 1.33-1.35's mark-for-masquerade chain and endpoint
   *  chains, 1.36's inline marks, hairpin set and numgen-keyed DNAT maps); a mutant with `rules` and no twin has
   *  none in that mode (`applies` says so) */
  nftRules?: (text: string) => string;
}

/** Whether the mutant is a compiler bug in this mode (Services-only mutants are bugs in both). */
export const applies = (m: CompilerMutant, mode: 'iptables' | 'nftables'): boolean =>
  mode === 'iptables' || m.rules === undefined || m.nftRules !== undefined;

const dropLines = (re: RegExp) => (t: string) =>
  t
    .split('\n')
    .filter((l) => !re.test(l))
    .join('\n');
const mapLines = (f: (l: string) => string) => (t: string) => t.split('\n').map(f).join('\n');
/** Applies f to the rule lines of one chain of compile-nft.ts's table block. */
const inChain = (chain: string, f: (l: string) => string | undefined) => (t: string) => {
  let cur = '';
  return t
    .split('\n')
    .flatMap((l) => {
      const m = /^\tchain (\S+) \{$/.exec(l);
      if (m) cur = m[1]!;
      if (cur !== chain || !l.startsWith('\t\t')) return [l];
      const out = f(l);
      return out === undefined ? [] : [out];
    })
    .join('\n');
};
/** kube-proxy 1.36's mark for masquerading, set in place (no mark-for-masquerade chain) */
const MARK_136 = 'meta mark set meta mark | 0x00004000';
const services =
  (f: (s: Cluster['services'][number]) => Cluster['services'][number]) =>
  (c: Cluster): Cluster => ({ ...c, services: c.services.map(f) });

export const MUTANTS: readonly CompilerMutant[] = [
  {
    name: 'no-hairpin-masquerade',
    description: 'the hairpin masquerade in each SEP chain is dropped',
    rules: dropLines(/^-A KUBE-SEP-\S+ -s \S+ .*-j KUBE-MARK-MASQ$/),
    // 1.36: the masquerade of the hairpin-connections set
    nftRules: dropLines(/^\t\tip saddr [\d.]+ jump mark-for-masquerade$|^\t\tct status dnat .*@hairpin-connections /),
  },
  {
    name: 'probability-off-by-one',
    description: 'statistic probabilities are 1/(n-i+1) instead of 1/(n-i)',
    rules: mapLines((l) =>
      l.replace(/--probability (\d\.\d+)/, (_m, p: string) => `--probability ${(1 / (1 / Number(p) + 1)).toFixed(11)}`),
    ),
    nftRules: mapLines((l) =>
      l.replace(/numgen random mod (\d+) /, (_m, n: string) => `numgen random mod ${Number(n) + 1} `),
    ),
  },
  {
    name: 'no-reject-without-endpoints',
    description: 'no filter REJECT for a Service without endpoints',
    rules: dropLines(/-j REJECT/),
    nftRules: mapLines((l) => l.replace(/ : goto reject-chain/, ' : accept')),
  },
  {
    name: 'reject-becomes-drop',
    description: 'a Service without endpoints is dropped, not rejected',
    rules: mapLines((l) => l.replace('-j REJECT --reject-with icmp-port-unreachable', '-j DROP')),
    nftRules: mapLines((l) => l.replace(/ : goto reject-chain/, ' : drop')),
  },
  {
    name: 'local-policy-masquerades',
    description: 'externalTrafficPolicy=Local masquerades anyway',
    rules: mapLines((l) => l.replace(/^-A (KUBE-EXT-\S+) -j (KUBE-SVL-\S+)$/, '-A $1 -j KUBE-MARK-MASQ\n-A $1 -j $2')),
    nftRules: (t) =>
      mapLines((l) =>
        l.replace(
          /^\t\tgoto (local-\S+)$/,
          `\t\t${t.includes('chain mark-for-masquerade {') ? 'jump mark-for-masquerade' : MARK_136}\n\t\tgoto $1`,
        ),
      )(t),
  },
  {
    name: 'affinity-never-set',
    description: 'ClientIP affinity is checked but never recorded (no recent --set)',
    rules: mapLines((l) => l.replace(/-m recent --set --name \S+ --mask 255\.255\.255\.255 --rsource /, '')),
    nftRules: dropLines(/^\t\tupdate @affinity-/),
  },
  {
    name: 'nodeports-not-reached',
    description: 'KUBE-SERVICES does not jump to KUBE-NODEPORTS',
    rules: dropLines(/^-A KUBE-SERVICES .*-j KUBE-NODEPORTS$/),
    nftRules: dropLines(/vmap @service-nodeports$/),
  },
  {
    name: 'mark-not-cleared',
    description: 'the masquerade mark is not cleared before MASQUERADE',
    rules: dropLines(/^-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000\/0x0$|--xor-mark 0x4000/),
    // 1.36: one rule tests, clears and masquerades; the clearing goes
    nftRules: (t) =>
      mapLines((l) => l.replace(/^(\t\tmeta mark & \S+ != 0x0+) meta mark set meta mark \^ \S+ (masquerade)/, '$1 $2'))(
        dropLines(/^\t\tmeta mark set meta mark \^ /)(t),
      ),
  },
  {
    name: 'dnat-without-port',
    description: 'DNAT to the endpoint address without its port',
    rules: mapLines((l) => l.replace(/(-j DNAT --to-destination [\d.]+):\d+/, '$1')),
    // 1.36: the numgen map's values lose their port too (`i : IP`)
    nftRules: mapLines((l) =>
      l
        .replace(/(dnat to [\d.]+):\d+$/, '$1')
        .replace(/(dnat ip to numgen random mod \d+ map \{ .*\})$/, (m) => m.replace(/ \. \d+(?=,| \})/g, '')),
    ),
  },
  {
    name: 'source-ranges-skipped',
    description: 'loadBalancerSourceRanges are not enforced',
    services: services((s) => ({ ...s, loadBalancerSourceRanges: [] })),
  },
  {
    name: 'cluster-cidr-inverted',
    description: '"! -s clusterCIDR" written as "-s clusterCIDR"',
    rules: mapLines((l) => l.replace(/^(-A KUBE-SV[CL]-\S+) ! -s /, '$1 -s ')),
    // 1.36: the one ClusterIP rule in `services`
    nftRules: mapLines((l) => l.replace(/^(\t\tip daddr (?:[\d.]+|@cluster-ips) ip saddr) != /, '$1 ')),
  },
  {
    name: 'internal-policy-ignored',
    description: 'internalTrafficPolicy=Local treated as Cluster',
    services: services((s) => ({ ...s, internalTrafficPolicy: 'Cluster' })),
  },
  {
    name: 'external-policy-ignored',
    description: 'externalTrafficPolicy=Local treated as Cluster',
    services: services((s) => ({ ...s, externalTrafficPolicy: 'Cluster' })),
  },
  {
    name: 'no-masquerade',
    description: 'KUBE-POSTROUTING marks but never masquerades',
    rules: dropLines(/-j MASQUERADE/),
    // 1.36: masquerading's rules keep their matches and the mark's clearing, without the masquerade
    nftRules: (t) =>
      inChain('masquerading', (l) => l.replace(/ masquerade fully-random$/, ''))(dropLines(/^\t\tmasquerade/)(t)),
  },
  {
    name: 'last-endpoint-gets-a-probability',
    description: 'the last endpoint is also behind a statistic rule (1/n), so some connections fall through',
    rules: mapLines((l) =>
      l.replace(
        /^(-A KUBE-SV[CL]-\S+ -m comment --comment "[^"]*") -j (KUBE-SEP-\S+)$/,
        '$1 -m statistic --mode random --probability 0.50000000000 -j $2',
      ),
    ),
    // one endpoint: behind 1/2, as the iptables mutant's 0.5; several: the last arm is gone (1/n falls through)
    nftRules: mapLines((l) =>
      l.replace(/numgen random mod (\d+) (v?map) \{ (.*) \}$/, (_m, n: string, kind: string, arms: string) =>
        n === '1'
          ? `numgen random mod 2 ${kind} { ${arms} }`
          : `numgen random mod ${n} ${kind} { ${arms.replace(/, [^,]*$/, '')} }`,
      ),
    ),
  },
  {
    name: 'output-not-hooked',
    description: 'nat OUTPUT does not jump to KUBE-SERVICES (node processes are not served)',
    rules: dropLines(/^-A OUTPUT .*-j KUBE-SERVICES$/),
    nftRules: inChain('nat-output', (l) => (l === '\t\tjump services' ? undefined : l)),
  },
  {
    name: 'external-ips-ignored',
    description: 'externalIPs are not programmed',
    services: services((s) => ({ ...s, externalIPs: [] })),
  },
  {
    name: 'affinity-ignored',
    description: 'sessionAffinity: ClientIP is ignored',
    services: services((s) => ({ ...s, sessionAffinity: 'None' })),
  },
  {
    name: 'terminating-endpoints-used',
    description: 'endpoints that are not ready are used anyway',
    services: (c) => ({
      ...c,
      slices: c.slices.map((sl) => ({ ...sl, endpoints: sl.endpoints.map((e) => ({ ...e, ready: true })) })),
    }),
  },
  {
    name: 'nodeport-on-service-port',
    description: 'NodePort rules match the Service port instead of the node port',
    rules: mapLines((l) => (l.startsWith('-A KUBE-NODEPORTS') ? l.replace(/--dport \d+/, '--dport 80') : l)),
  },
];

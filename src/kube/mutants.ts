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
}

const dropLines = (re: RegExp) => (t: string) =>
  t
    .split('\n')
    .filter((l) => !re.test(l))
    .join('\n');
const mapLines = (f: (l: string) => string) => (t: string) => t.split('\n').map(f).join('\n');
const services =
  (f: (s: Cluster['services'][number]) => Cluster['services'][number]) =>
  (c: Cluster): Cluster => ({ ...c, services: c.services.map(f) });

export const MUTANTS: readonly CompilerMutant[] = [
  {
    name: 'no-hairpin-masquerade',
    description: 'the hairpin masquerade in each SEP chain is dropped',
    rules: dropLines(/^-A KUBE-SEP-\S+ -s \S+ .*-j KUBE-MARK-MASQ$/),
  },
  {
    name: 'probability-off-by-one',
    description: 'statistic probabilities are 1/(n-i+1) instead of 1/(n-i)',
    rules: mapLines((l) =>
      l.replace(/--probability (\d\.\d+)/, (_m, p: string) => `--probability ${(1 / (1 / Number(p) + 1)).toFixed(11)}`),
    ),
  },
  {
    name: 'no-reject-without-endpoints',
    description: 'no filter REJECT for a Service without endpoints',
    rules: dropLines(/-j REJECT/),
  },
  {
    name: 'reject-becomes-drop',
    description: 'a Service without endpoints is dropped, not rejected',
    rules: mapLines((l) => l.replace('-j REJECT --reject-with icmp-port-unreachable', '-j DROP')),
  },
  {
    name: 'local-policy-masquerades',
    description: 'externalTrafficPolicy=Local masquerades anyway',
    rules: mapLines((l) => l.replace(/^-A (KUBE-EXT-\S+) -j (KUBE-SVL-\S+)$/, '-A $1 -j KUBE-MARK-MASQ\n-A $1 -j $2')),
  },
  {
    name: 'affinity-never-set',
    description: 'ClientIP affinity is checked but never recorded (no recent --set)',
    rules: mapLines((l) => l.replace(/-m recent --set --name \S+ --mask 255\.255\.255\.255 --rsource /, '')),
  },
  {
    name: 'nodeports-not-reached',
    description: 'KUBE-SERVICES does not jump to KUBE-NODEPORTS',
    rules: dropLines(/^-A KUBE-SERVICES .*-j KUBE-NODEPORTS$/),
  },
  {
    name: 'mark-not-cleared',
    description: 'the masquerade mark is not cleared before MASQUERADE',
    rules: dropLines(/^-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000\/0x0$|--xor-mark 0x4000/),
  },
  {
    name: 'dnat-without-port',
    description: 'DNAT to the endpoint address without its port',
    rules: mapLines((l) => l.replace(/(-j DNAT --to-destination [\d.]+):\d+/, '$1')),
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
  },
  {
    name: 'output-not-hooked',
    description: 'nat OUTPUT does not jump to KUBE-SERVICES (node processes are not served)',
    rules: dropLines(/^-A OUTPUT .*-j KUBE-SERVICES$/),
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

// kube-proxy's releases whose nftables-mode tables differ (spec/kube.md §2a, "Which kube-proxy"): one
// descriptor of the differences, read by the nftables-mode compiler (compile-nft.ts). Real clusters run both.
// Learned from kubernetes PRs #135800 and #136499 (pkg/proxy/nftables/proxier.go) and a v1.36.2 node's listing.

/** Newest first: the first is the default. "1.35" stands for 1.33-1.35 (one shape). */
export const KUBE_PROXY_VERSIONS = ['1.36', '1.35'] as const;
export type KubeProxyVersion = (typeof KUBE_PROXY_VERSIONS)[number];
export const DEFAULT_KUBE_PROXY_VERSION: KubeProxyVersion = KUBE_PROXY_VERSIONS[0];

/** How one release writes its `kube-proxy` table, where the releases differ. */
export interface NftShape {
  /** the masquerade mark is set by a jump to the `mark-for-masquerade` chain (1.33-1.35), else by each rule
   *  itself (`meta mark set meta mark | M`; 1.36, PR #135800, to save jumps on large rulesets) */
  markChain: boolean;
  /** ClusterIP traffic from outside the detector is marked by a rule in each Service chain (`ip daddr CIP ...`;
   *  1.33-1.35), else by one rule first in `services` on the `cluster-ips` set (1.36) */
  clusterIpRuleInServices: boolean;
  /** hairpin (an endpoint reaching itself) is masqueraded by a rule in each endpoint chain (1.33-1.35), else by
   *  the `hairpin-connections` set of the endpoints, matched in `masquerading` (1.36, PR #136499) */
  hairpinSet: boolean;
  /** `masquerading` is three rules (return without the mark, clear it, masquerade; 1.33-1.35), else one (1.36) */
  oneMasqueradingRule: boolean;
  /** only ClientIP-affinity Services keep `endpoint-*` chains; the others DNAT in the Service chain with
   *  `dnat ip to numgen random mod N map { i : IP . PORT }` (1.36) */
  squashEndpointChains: boolean;
}

export const NFT_SHAPES: Readonly<Record<KubeProxyVersion, NftShape>> = {
  '1.35': {
    markChain: true,
    clusterIpRuleInServices: false,
    hairpinSet: false,
    oneMasqueradingRule: false,
    squashEndpointChains: false,
  },
  '1.36': {
    markChain: false,
    clusterIpRuleInServices: true,
    hairpinSet: true,
    oneMasqueradingRule: true,
    squashEndpointChains: true,
  },
};

/** A version named on the command line or in a case, or undefined when it is none of them. */
export function kubeProxyVersionOf(v: string): KubeProxyVersion | undefined {
  return (KUBE_PROXY_VERSIONS as readonly string[]).includes(v) ? (v as KubeProxyVersion) : undefined;
}

// kube-proxy's two rule-writing modes (--proxy-mode iptables|nftables): one entry point for both compilers.
import type { Cluster } from './objects.ts';
import type { NodeConfig } from './node-config.ts';
import { compileNode } from './compile.ts';
import { compileNodeNft, type NftNodeState } from './compile-nft.ts';

export const PROXY_MODES = ['iptables', 'nftables'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];

/** The node's ruleset in the mode's language: iptables-save text, or `nft -f` text (given what the node's
 *  table holds, a resync that deletes what went away, as kube-proxy does). */
export function compileNodeIn(mode: ProxyMode, cluster: Cluster, config: NodeConfig, existing?: NftNodeState): string {
  return mode === 'nftables' ? compileNodeNft(cluster, config, existing) : compileNode(cluster, config);
}

// The nft language (spec/nft.md): parse `nft -f` input and `nft list ruleset` output, print as nft lists.
export { parseNft, lintNft, runCommand, type NftReadOptions } from './apply.ts';
export { parseNftCommands, type Command } from './parse.ts';
export { printNft, printNftTable, printRuleBody, printPriority, printElementKey } from './print.ts';
export { detectLanguage, isNftJson, type RuleLanguage } from './detect.ts';
export { parseNftJson } from './json.ts';
export * from './types.ts';
export { SELECTORS, NAMED_PRIORITIES, CHAIN_TYPE_HOOKS, LOG_LEVELS, REJECT_ICMP, REJECT_ICMPX } from './descriptors.ts';
export type { SelectorDesc } from './descriptors.ts';
export { DTYPES } from './datatypes.ts';
export { evalBaseChain, matches, type NftEnv, type NftOutcome, type NftRuleHit, type Tri } from './eval.ts';
export { nftTransaction, followed as followedNftOutcome, type NftTxOutcome, type DynSets } from './transaction.ts';

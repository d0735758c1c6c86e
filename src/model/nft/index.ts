// The nft language (spec/nft.md): parse `nft -f` input and `nft list ruleset` output, print as nft lists.
export { parseNft, lintNft, runCommand, type NftReadOptions } from './apply.ts';
export { parseNftCommands, type Command } from './parse.ts';
export { printNft, printNftTable, printRuleBody, printPriority } from './print.ts';
export { detectLanguage } from './detect.ts';
export * from './types.ts';

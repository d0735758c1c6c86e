// Which rule language a text is in: nft (table blocks, add/insert/delete/flush commands, JSON) or iptables.
export type RuleLanguage = 'nft' | 'iptables';

const NFT_FIRST = /^(table|add|create|insert|delete|flush|define|include)\s/;

export function detectLanguage(text: string): RuleLanguage {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // `nft -j list ruleset` output is nft too (json.ts)
    return NFT_FIRST.test(line) || line.startsWith('{') ? 'nft' : 'iptables';
  }
  return 'iptables';
}

/** Is an nft text the JSON form (`nft -j list ruleset`)? */
export const isNftJson = (text: string): boolean => text.trimStart().startsWith('{');

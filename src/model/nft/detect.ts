// Which rule language a text is in: nft (table blocks, add/insert/delete/flush commands) or iptables.
export type RuleLanguage = 'nft' | 'iptables';

const NFT_FIRST = /^(table|add|create|insert|delete|flush|define|include)\s/;

export function detectLanguage(text: string): RuleLanguage {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    return NFT_FIRST.test(line) ? 'nft' : 'iptables';
  }
  return 'iptables';
}

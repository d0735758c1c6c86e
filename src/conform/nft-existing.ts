// What a node's kube-proxy table holds, read from its `nft list ruleset` dump (text or `nft -j`), so that the
// compiler writes the resync kube-proxy would run on that node: `compile --existing` (spec/kube.md §2a).
import { InputError, detectLanguage } from '../model/index.ts';
import { nftNodeState, type NftNodeState } from '../kube/compile-nft.ts';
import { readNftDump } from './validate-nft.ts';

/** The node's `kube-proxy` table as the compiler's `existing` (none in the dump: an empty one, a first sync). */
export function existingFromDump(text: string, file: string): NftNodeState {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first >= 0 && detectLanguage(text) === 'iptables' && /^(\*|:|-[AIN] )/.test(lines[first]!.trim()))
    throw new InputError('invalid', 'is iptables-save text, not an nft dump (`nft list ruleset` of the node)', {
      file,
      line: first + 1,
      col: 1,
    });
  const dump = readNftDump(text, file);
  const state = nftNodeState(dump.ruleset) ?? { chains: [], sets: [] };
  // a rule the model leaves out is still in the kernel's chain: counted, so that a chain that is not empty
  // is never deleted (nft would refuse the whole transaction)
  const left = new Map<string, number>();
  for (const u of dump.unsupported) {
    const block = dump.blockOf(u.line);
    if (block !== undefined) left.set(block, (left.get(block) ?? 0) + 1);
  }
  return {
    chains: state.chains.map((c) => ({ name: c.name, rules: c.rules + (left.get(c.name) ?? 0) })),
    sets: state.sets,
  };
}

// iptables-nft refuses a chain 16 links (jumps or gotos) below a built-in chain (NFT_JUMP_STACK_SIZE);
// iptables-legacy has no such limit. Measured with iptables-restore 1.8.9 (test/kernel/validation.test.ts).
import { describe, test, expect } from 'vitest';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { InputError } from '../../src/model/errors.ts';

const chainOfChains = (n: number, link: '-j' | '-g', from?: string): string =>
  [
    '*filter',
    ...Array.from({ length: n }, (_, i) => `:C${i + 1} - [0:0]`),
    ...(from ? [`-A ${from} ${link} C1`] : []),
    ...Array.from({ length: n - 1 }, (_, i) => `-A C${i + 1} ${link} C${i + 2}`),
    'COMMIT',
    '',
  ].join('\n');

const refusal = (text: string, backend: 'nft' | 'legacy'): InputError | undefined => {
  try {
    parseRuleset(text, { backend, file: 'rules' });
    return undefined;
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
};

describe('jump depth (issue 17)', () => {
  test('nft: 15 links load, the 16th is refused at the rule that makes it, as iptables-nft-restore says', () => {
    expect(refusal(chainOfChains(15, '-j', 'INPUT'), 'nft')).toBeUndefined();
    for (const link of ['-j', '-g'] as const) {
      const e = refusal(chainOfChains(16, link, 'INPUT'), 'nft');
      expect(e?.message).toMatch(/Too many links\): rule in chain C15/);
      // iptables-nft-restore: "line 33: RULE_APPEND failed (Too many links): rule in chain C15"
      expect(e?.pos?.line).toBe(33);
    }
  });
  test('nft: chains no built-in chain reaches are not limited; the deepest path decides', () => {
    expect(refusal(chainOfChains(30, '-j'), 'nft')).toBeUndefined();
    const twoPaths = chainOfChains(15, '-j', 'OUTPUT')
      .replace('*filter\n', '*filter\n:D - [0:0]\n')
      .replace('COMMIT', '-A INPUT -j D\n-A D -j C1\nCOMMIT');
    expect(refusal(twoPaths, 'nft')?.message).toMatch(/rule in chain C14/);
  });
  test('legacy: no depth limit (x_tables sizes its jump stack by the number of user chains)', () => {
    expect(refusal(chainOfChains(200, '-j', 'INPUT'), 'legacy')).toBeUndefined();
  });
});

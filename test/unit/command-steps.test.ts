// Case-file commands between probes (spec/case-file.md): typed steps, checked at load, the same on the model.
import { describe, test, expect } from 'vitest';
import { checkCase } from '../../src/conform/case-file.ts';
import { planCase } from '../../src/conform/plan.ts';
import { reproScript } from '../../src/conform/repro.ts';
import { conntrackFilterArgs } from '../../src/lab/kernel-lab.ts';
import { applyCommandLines, parseRuleset, printRuleset, isInputError } from '../../src/model/index.ts';

const caseWith = (step: unknown) => ({ name: 'c', topology: 'k8s-node', steps: [step] });
function refusal(step: unknown): string {
  try {
    checkCase(caseWith(step), 'c.json');
  } catch (e) {
    if (isInputError(e)) return e.message;
    throw e;
  }
  return 'accepted';
}

describe('command steps', () => {
  test('iptables -R replaces a rule in place; an index past the end is refused', () => {
    const base = parseRuleset('-A INPUT -p tcp --dport 8080 -j DROP\n-A INPUT -j ACCEPT\n');
    const rs = applyCommandLines(base, '-R INPUT 1 -p udp --dport 53 -j DROP');
    expect(printRuleset(rs)).toContain('-A INPUT -p udp -m udp --dport 53 -j DROP\n-A INPUT -j ACCEPT');
    expect(printRuleset(base)).toContain('--dport 8080'); // the base is not changed
    expect(() => applyCommandLines(base, '-R INPUT 3 -j DROP')).toThrow(/index of replacement too big/);
    expect(() => applyCommandLines(base, '-R INPUT -j DROP')).toThrow(/-R needs a rule number/);
  });

  test('bad command steps are refused at load, naming the field', () => {
    expect(refusal({ conntrack: { host: 'node', flush: true, delete: { proto: 'udp' } } })).toMatch(/one of/);
    expect(refusal({ conntrack: { host: 'node', delete: { origDport: 53 } } })).toMatch(/needs "proto"/);
    expect(refusal({ conntrack: { host: 'node', delete: {} } })).toMatch(/at least one filter/);
    expect(refusal({ conntrack: { host: 'nope', flush: true } })).toMatch(/no such host/);
    expect(refusal({ conntrack: { host: 'node', delete: { origDst: '10.0.0.1; rm -rf /' } } })).toMatch(/IPv4/);
    expect(refusal({ recent: { host: 'node', list: '../../etc/passwd', flush: true } })).toMatch(/recent list name/);
    expect(refusal({ recent: { host: 'node', list: 'x', add: '1.2.3.4', remove: '1.2.3.4' } })).toMatch(/exactly one/);
    expect(refusal({ iptables: { node: [] } })).toMatch(/at least one command/);
    expect(refusal({ iptables: { node: ['-A INPUT -j DROP\n-F'] } })).toMatch(/control characters/);
    expect(refusal({ conntrack: { host: 'node', flush: true } })).toBe('accepted');
  });

  test('conntrack filters become options in a fixed order, and repro.sh quotes every argument', async () => {
    expect(conntrackFilterArgs({ origDport: 53, proto: 'udp', origDst: '10.96.0.10' })).toEqual([
      '--proto',
      'udp',
      '--orig-dst',
      '10.96.0.10',
      '--orig-port-dst',
      '53',
    ]);
    const plan = await planCase(
      checkCase(
        {
          name: 'c',
          topology: 'k8s-node',
          steps: [
            { conntrack: { host: 'node', delete: { proto: 'udp', origDst: '10.96.0.10' } } },
            { recent: { host: 'node', list: 'blocked', add: '192.168.50.20' } },
            { iptables: { node: ['-I INPUT 1 -m comment --comment "it\'s $(x)" -j ACCEPT'] } },
          ],
        },
        'c.json',
      ),
    );
    const sh = reproScript(plan);
    expect(sh).toMatch(/conntrack '-D' '--proto' 'udp' '--orig-dst' '10\.96\.0\.10'/);
    expect(sh).toMatch(/echo '\+192\.168\.50\.20' \| ip netns exec \S+ tee '\/proc\/net\/xt_recent\/blocked'/);
    expect(sh).toContain(`'--comment' 'it'\\''s $(x)'`);
  });
});

// The nft step (spec/case-file.md, spec/nft.md §8.2): `nft -f` text run mid-case on a host's current nft state and
// the elements rules put in its sets, one transaction, all or nothing; handles as the kernel numbers them (a batch
// the kernel refuses takes handles too); behaviours measured with nft 1.0.6 on Linux 6.18.
import { describe, test, expect } from 'vitest';
import { checkCase } from '../../src/conform/case-file.ts';
import { planCase } from '../../src/conform/plan.ts';
import { reproScript } from '../../src/conform/repro.ts';
import { pairedRun } from '../../src/conform/paired-run.ts';
import { judgeExpectation } from '../../src/conform/judges.ts';
import { isInputError, parseNft, nftTransaction, type NftRuleset } from '../../src/model/index.ts';
import type { NftDynEntry } from '../../src/model/eval/packet.ts';

const caseWith = (step: unknown) => ({ name: 'c', topology: 'k8s-node', steps: [step] });
function loadRefusal(step: unknown): string {
  try {
    checkCase(caseWith(step), 'c.json');
  } catch (e) {
    if (isInputError(e)) return e.message;
    throw e;
  }
  return 'accepted';
}

const BASE = `table ip t {
  set seen { type ipv4_addr; flags dynamic,timeout; timeout 1h; }
  set plain { type ipv4_addr; elements = { 1.1.1.1 } }
  chain x { tcp dport 8080 drop; }
  chain input { type filter hook input priority filter; policy accept;
    ip saddr @seen drop
    jump x
  }
}
`;
const at = (now = 0, probes = 0) => ({ file: 's.nft', now, probes });
/** the host's set state with one element traffic added */
const seen = (e: Partial<NftDynEntry> = {}) =>
  new Map([['ip t seen', new Map([['[3232248340]', { key: [3232248340], probe: 0, ...e }]])]]);
const handles = (rs: NftRuleset) =>
  [...rs.tables.get('ip t')!.chains.values()].flatMap((c) => c.rules.map((r) => r.handle));

describe('the nft step in a case file', () => {
  test('read with the other command steps; bad ones are refused at load, naming the field', () => {
    expect(loadRefusal({ nft: { node: 'flush chain ip t c' }, expectRefused: true, label: 'x' })).toBe('accepted');
    expect(loadRefusal({ nft: { node: ['add element ip t s { 1.2.3.4 }', 'flush chain ip t c'] } })).toBe('accepted');
    expect(loadRefusal({ nft: { nope: 'flush ruleset' } })).toMatch(/steps\[0\]\.nft\.nope.*no such host/);
    expect(loadRefusal({ nft: { node: ' \n' } })).toMatch(/steps\[0\]\.nft\.node.*at least one command/);
    expect(loadRefusal({ nft: {} })).toMatch(/steps\[0\]\.nft.*at least one host/);
    expect(loadRefusal({ nft: { node: 7 } })).toMatch(/string or a list of lines/);
    expect(loadRefusal({ nft: { node: 'flush ruleset' }, extra: 1 })).toMatch(/extra/);
  });

  test('the plan and repro.sh carry it as nft -f text with a safe end marker', async () => {
    const c = checkCase(
      { name: 'c', topology: 'k8s-node', steps: [{ nft: { node: ['flush ruleset', 'RULES'] } }] },
      'c.json',
    );
    const plan = await planCase(c);
    expect(plan.steps[0]).toMatchObject({
      kind: 'command',
      label: 'nft on node',
      command: { type: 'nft', hosts: [{ host: 'node', text: 'flush ruleset\nRULES\n' }], expectRefused: false },
    });
    const sh = reproScript(plan);
    expect(sh).toContain("nft -f - <<'RULES_1'");
    expect(sh).toMatch(/^RULES_1$/m);
  });
});

describe('nft -f on the host state', () => {
  const base = parseNft(BASE, { file: 'b.nft' });

  test('delete element of a key traffic added works; refused again, or once expired or deleted by a rule', () => {
    const del = 'delete element ip t seen { 192.168.50.20 }';
    const [ok] = nftTransaction(base, seen({ expires: 3600 }), del, at(10, 2));
    expect(ok!.refusal).toBeUndefined();
    expect(ok!.sets.get('ip t seen')).toBeUndefined();
    const [again] = nftTransaction(ok!.ruleset, ok!.sets, del, at(10, 2));
    expect(again!.refusal).toMatch(/element does not exist/);
    expect(nftTransaction(base, seen({ expires: 5 }), del, at(10, 2))[0]!.refusal).toMatch(/does not exist/);
    expect(nftTransaction(base, seen({ dead: 3 }), del, at(10, 2))[0]!.refusal).toMatch(/does not exist/);
  });

  test('an element near its expiry: both answers, the caller follows the kernel', () => {
    const del = 'delete element ip t seen { 192.168.50.20 }';
    const outs = nftTransaction(base, seen({ expires: 10.5 }), del, at(10, 2));
    expect(outs.map((o) => o.refusal === undefined)).toEqual([true, false]);
  });

  test('an element added keeps its expiry in the host state; adding it again gives it the new timeout', () => {
    const [a] = nftTransaction(base, undefined, 'add element ip t seen { 192.168.50.20 timeout 10s }', at(5, 1));
    expect(a!.sets.get('ip t seen')!.get('[3232248340]')).toEqual({ key: [3232248340], probe: 1, expires: 15 });
    expect(a!.ruleset.tables.get('ip t')!.sets.get('seen')!.elements).toEqual([]);
    const [b] = nftTransaction(a!.ruleset, a!.sets, 'add element ip t seen { 192.168.50.20 }', at(8, 3));
    expect(b!.sets.get('ip t seen')!.get('[3232248340]')).toEqual({ key: [3232248340], probe: 3, expires: 3608 });
    const [c] = nftTransaction(b!.ruleset, b!.sets, 'add element ip t plain { 2.2.2.2 }', at(9, 3));
    expect(c!.sets.get('ip t seen')!.get('[3232248340]')!.expires).toBe(3608); // untouched: kept
  });

  test("a data map's value added by traffic stays through a transaction; delete element takes it", () => {
    const rs = parseNft(
      'table ip m {\n map mk { type ipv4_addr : mark; flags timeout; timeout 1h; }\n' +
        ' chain c { type filter hook input priority 0; update @mk { ip saddr : 0x5 }; }\n}\n',
    );
    const sets = new Map([['ip m mk', new Map([['[3232248340]', { key: [3232248340], probe: 0, data: [5] }]])]]);
    const [a] = nftTransaction(rs, sets, 'add rule ip m c counter', at(1, 1));
    expect(a!.sets.get('ip m mk')!.get('[3232248340]')).toEqual({ key: [3232248340], probe: 0, data: [5] });
    const [b] = nftTransaction(a!.ruleset, a!.sets, 'delete element ip m mk { 192.168.50.20 }', at(1, 1));
    expect(b!.refusal).toBeUndefined();
    expect(b!.sets.get('ip m mk')).toBeUndefined();
  });

  test('handles: never reused, and a batch the kernel refuses takes them too; nft refusals send nothing', () => {
    expect(handles(base)).toEqual([5, 6, 7]);
    const [r] = nftTransaction(base, undefined, 'add rule ip t input counter\ndelete rule ip t input handle 99', at());
    expect(r!.refusal).toMatch(/no rule with handle 99/);
    expect(r!.ruleset.tables.get('ip t')!.nextHandle).toBe(9);
    const [n] = nftTransaction(r!.ruleset, undefined, 'add rule ip t input counter', at());
    expect(handles(n!.ruleset)).toEqual([5, 6, 7, 9]);
    const [s] = nftTransaction(n!.ruleset, undefined, 'add rule ip t input counter\nadd rule ip t input bogus', at());
    expect(s!.refusal).toBeDefined();
    expect(s!.ruleset.tables.get('ip t')!.nextHandle).toBe(10);
    const [f] = nftTransaction(n!.ruleset, undefined, 'flush chain ip t input\nadd rule ip t input counter', at());
    expect(handles(f!.ruleset)).toEqual([5, 10]);
  });

  test('delete chain takes its rules; a chain something jumps to is busy', () => {
    expect(nftTransaction(base, undefined, 'delete chain ip t x', at())[0]!.refusal).toMatch(/busy/);
    const [d] = nftTransaction(base, undefined, 'delete rule ip t input handle 7\ndelete chain ip t x', at());
    expect(d!.refusal).toBeUndefined();
    expect([...d!.ruleset.tables.get('ip t')!.chains.keys()]).toEqual(['input']);
  });

  test('a model run follows the host state through nft steps', async () => {
    const c = checkCase(
      {
        name: 'c',
        topology: 'k8s-node',
        hosts: { node: { nft: BASE } },
        steps: [
          { nft: { node: 'add element ip t seen { 192.168.50.20 }' } },
          { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090, expect: { outcome: 'dropped' } },
          { nft: { node: 'delete element ip t seen { 192.168.50.20 }' } },
          { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 9090, expect: { outcome: 'delivered' } },
          { nft: { node: 'delete element ip t seen { 192.168.50.20 }' }, expectRefused: true },
        ],
      },
      'c.json',
    );
    const found = [];
    for await (const r of pairedRun(await planCase(c), { judges: [judgeExpectation] })) found.push(...r.findings);
    expect(found).toEqual([]);
  });
});

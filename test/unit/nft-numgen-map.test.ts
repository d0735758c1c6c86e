// Data maps keyed by numgen (spec/nft.md §9): `dnat ip to numgen random mod 2 map { 0 : 10.180.0.1 . 80, ... }`,
// kube-proxy 1.36's endpoint choice, and `meta mark set numgen inc mod N map { ... }`. The fixtures are what nft
// 1.0.6 listed for numgen-maps.nft (text and JSON, measured in `unshare -n`). numgen random is a branch per value,
// each equally likely (nft_numgen.c nft_ng_random_eval); numgen inc a counter per expression whose first packet
// draws 0 (nft_ng_inc_init sets it to mod - 1); a value the map has no element for ends the rule (NFT_BREAK).
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseNft, printNft, parseNftJson } from '../../src/model/nft/index.ts';
import { isKernelRefusal } from '../../src/model/nft/apply.ts';
import { evalBaseChain, numgenKey, type NftEnv, type NftOutcome } from '../../src/model/nft/eval.ts';
import { parseIp } from '../../src/model/ip.ts';
import type { Pkt } from '../../src/model/eval/packet.ts';
import { synPkt } from '../helpers/packet.ts';
import { nftRefusal as refusal } from '../helpers/nft.ts';

const read = (f: string) => readFileSync(new URL(`../fixtures/nft/${f}`, import.meta.url), 'utf8');
const ip = (s: string) => parseIp(s)!;
const nat = (rules: string, extra = '') =>
  `table ip t {\n${extra}\n chain c { type nat hook prerouting priority dstnat;\n${rules}\n }\n}\n`;
const table = (text: string) => [...parseNft(text).tables.values()][0]!;
const pkt = (over: Partial<Pkt> = {}): Pkt => synPkt({ src: ip('10.0.0.9'), dst: ip('10.96.0.10'), ...over });
const env: NftEnv = { hook: 'prerouting', iif: 'eth0' };
const natOf = (o: NftOutcome) => (o.nat?.k === 'nat' ? [o.nat.addr, o.nat.port] : undefined);

describe('parse and list as nft 1.0.6 does', () => {
  test('nft -f text, its listing and its JSON all read to what nft listed', () => {
    const list = read('numgen-maps.list');
    expect(printNft(parseNft(read('numgen-maps.nft')))).toBe(list);
    expect(printNft(parseNft(list, { listing: true }))).toBe(list);
    expect(printNft(parseNftJson(read('numgen-maps.json'), 'numgen-maps.json'))).toBe(list);
  });

  test('what nft or the kernel refuses (measured), and what is outside the subset', () => {
    // a numgen key is an integer: a named map (or set) of marks does not take it
    const named = ' map m { type mark : ipv4_addr; }\n map vm { type mark : verdict; }\n set s { type mark; }';
    for (const r of [
      'dnat to numgen random mod 2 map @m',
      'numgen random mod 2 vmap @vm',
      'numgen inc mod 2 @s accept',
    ])
      expect(refusal(nat(`  ${r}`, named)).message).toMatch(/datatype mismatch/);
    // nft_numgen.c: mod 0 is ERANGE, an offset that wraps EOVERFLOW; both the kernel's (the batch took handles)
    for (const r of ['random mod 0', 'inc mod 2 offset 4294967295']) {
      const e = refusal(nat(`  dnat to numgen ${r} map { 0 : 10.0.0.1 }`));
      expect([e.kind, isKernelRefusal(e), e.pos?.line]).toEqual(['invalid', true, 4]);
    }
    expect(() => parseNft(nat('  dnat to numgen inc mod 2 offset 4294967294 map { 0 : 10.0.0.1 }'))).not.toThrow();
    // a port needs a transport protocol; one key with two values is EEXIST
    expect(refusal(nat('  dnat to numgen random mod 2 map { 0 : 10.0.0.1 } : 80')).message).toMatch(/transport/);
    expect(refusal(nat('  meta l4proto tcp dnat to numgen random mod 2 map { 0 : 10.0.0.1 . 80 } : 80')).kind).toBe(
      'invalid',
    );
    expect(refusal(nat('  dnat to numgen random mod 2 map { 0 : 10.0.0.1, 0 : 10.0.0.2 }')).kind).toBe('invalid');
    expect(refusal(nat('  dnat to numgen hash mod 2 map { 0 : 10.0.0.1 }')).kind).toBe('syntax');
    expect(refusal(nat('  meta mark set numgen random mod 2')).kind).toBe('unsupported');
  });
});

describe('the evaluator', () => {
  test("kube-proxy 1.36's endpoint choice: a branch of 1/n per endpoint, its address and port", () => {
    const t = table(
      nat('  meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.180.0.1 . 80, 1 : 10.180.0.2 . 8080 }'),
    );
    const out = evalBaseChain(t, 'c', pkt(), env);
    expect(out.map((o) => [o.p, o.verdict, natOf(o), o.trace.map((h) => h.rule)])).toEqual([
      [0.5, 'accept', [ip('10.180.0.1'), 80], [0]],
      [0.5, 'accept', [ip('10.180.0.2'), 8080], [0]],
    ]);
    // the protocol match before it still decides: no branch for UDP
    expect(evalBaseChain(t, 'c', pkt({ proto: 17 }), env).map((o) => [o.p, o.policy])).toEqual([[1, true]]);
  });

  test('a drawn value with no element ends the rule (NFT_BREAK), untraced: the next rule runs in that branch', () => {
    const t = table(
      nat('  counter dnat to numgen random mod 3 offset 5 map { 5 : 10.0.0.1, 7 : 10.0.0.3 }\n  dnat to 10.9.9.9'),
    );
    const out = evalBaseChain(t, 'c', pkt(), env);
    expect(out.map((o) => [o.p, natOf(o)?.[0], o.trace.map((h) => h.rule)])).toEqual([
      [1 / 3, ip('10.0.0.1'), [0]],
      [1 / 3, ip('10.9.9.9'), [1]],
      [1 / 3, ip('10.0.0.3'), [0]],
    ]);
  });

  test('marks from a numgen map; a numgen match; two draws in one rule branch on each other', () => {
    const t = table(
      nat(
        '  meta mark set numgen random mod 2 map { 0 : 0x1, 1 : 0x2 } numgen random mod 2 1 ct mark set 7 accept\n' +
          '  numgen random mod 4 { 0, 1, 2 } drop',
      ),
    );
    const ct: NftEnv = { ...env, ct: { state: 8, status: 0, mark: 0 } };
    const out = evalBaseChain(t, 'c', pkt(), ct);
    expect(out.map((o) => [o.p, o.verdict, o.pkt.mark, o.ctMark])).toEqual([
      [1 / 16, 'drop', 1, 0],
      [1 / 16, 'drop', 1, 0],
      [1 / 16, 'drop', 1, 0],
      [1 / 16, 'accept', 1, 0],
      [1 / 4, 'accept', 1, 7],
      [1 / 16, 'drop', 2, 0],
      [1 / 16, 'drop', 2, 0],
      [1 / 16, 'drop', 2, 0],
      [1 / 16, 'accept', 2, 0],
      [1 / 4, 'accept', 2, 7],
    ]);
    expect(out.reduce((s, o) => s + o.p, 0)).toBeCloseTo(1, 12);
  });

  test('numgen inc: one value, the counter after the last; 0 first; the counter per expression moves on', () => {
    const t = table(nat('  meta mark set numgen inc mod 3 offset 1 map { 1 : 0x1, 2 : 0x2 } dnat to 10.0.0.1'));
    const r = t.chains.get('c')!.rules[0]!;
    const key = numgenKey('c', r.handle, 0);
    const at = (last?: number) => evalBaseChain(t, 'c', pkt(), { ...env, incCounter: () => last })[0]!;
    expect([at().p, at().pkt.mark, at().incs]).toEqual([1, 1, [{ key, value: 0 }]]);
    expect([at(0).pkt.mark, at(0).incs]).toEqual([2, [{ key, value: 1 }]]);
    // 1 + 2 = 3 has no element: the rule breaks there, the counter has moved all the same
    expect([at(1).nat, at(1).pkt.mark, at(1).incs]).toEqual([undefined, 0, [{ key, value: 2 }]]);
    expect(at(2).pkt.mark).toBe(1);
  });

  test('numgen inc in a chain a packet reaches twice counts twice', () => {
    const t = table(
      'table ip t {\n chain n { numgen inc mod 2 vmap { 0 : continue, 1 : accept }; meta mark set 5; }\n' +
        ' chain c { type filter hook prerouting priority 0; jump n; jump n; drop; }\n}\n',
    );
    const o = evalBaseChain(t, 'c', pkt(), env);
    expect(o.map((x) => [x.verdict, x.pkt.mark, x.incs?.map((d) => d.value)])).toEqual([['accept', 5, [0, 1]]]);
  });
});

// Data maps (spec/nft.md §3, §8): named and anonymous maps to marks, addresses and address . port, read by
// `meta mark set`, `ct mark set`, `dnat to`, `snat to`, and filled by `update @m { k : v }`. The listings below are
// what nft 1.0.6 printed (measured in `unshare -n`); a lookup miss ends the rule (nft_lookup.c: NFT_BREAK).
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseNft, printNft, parseNftJson } from '../../src/model/nft/index.ts';
import { evalBaseChain, type NftEnv } from '../../src/model/nft/eval.ts';
import { parseIp } from '../../src/model/ip.ts';
import type { Pkt } from '../../src/model/eval/packet.ts';
import { synPkt } from '../helpers/packet.ts';
import { nftRefusal as refusal } from '../helpers/nft.ts';

const ip = (s: string) => parseIp(s)!;
const table = (text: string) => [...parseNft(text).tables.values()][0]!;
const pkt = (over: Partial<Pkt> = {}): Pkt => synPkt({ src: ip('10.0.0.1'), dst: ip('10.96.0.10'), ...over });
const env: NftEnv = { hook: 'prerouting', iif: 'eth0' };
const nat = (maps: string, rules: string) =>
  `table ip t {\n${maps}\n chain c { type nat hook prerouting priority dstnat;\n${rules}\n }\n}\n`;

describe('parse and list as nft 1.0.6 does', () => {
  test('named maps of every data type in the subset, and the statements that read them', () => {
    const text = nat(
      ' map m { type ipv4_addr . inet_service : ipv4_addr . inet_service;' +
        ' elements = { 10.96.0.10 . 80 : 10.0.0.2 . 8080 } }\n' +
        ' map mk { type ipv4_addr : mark; elements = { 10.0.0.1 : 0x1, 10.0.0.2 : 5, 10.0.0.3 : 7 } }\n' +
        ' map mp { type inet_service : inet_service; elements = { 1 : 2 } }',
      '  meta l4proto tcp dnat to ip daddr . th dport map @m\n' +
        '  meta mark set ip saddr map @mk\n' +
        '  tcp dport 80 dnat to ip daddr map { 10.96.0.10 : 10.0.0.3 } : 8080',
    );
    expect(printNft(parseNft(text))).toBe(
      'table ip t {\n\tmap m {\n\t\ttype ipv4_addr . inet_service : ipv4_addr . inet_service\n' +
        '\t\telements = { 10.96.0.10 . 80 : 10.0.0.2 . 8080 }\n\t}\n\n' +
        '\tmap mk {\n\t\ttype ipv4_addr : mark\n' +
        '\t\telements = { 10.0.0.1 : 0x00000001, 10.0.0.2 : 0x00000005,\n\t\t\t     10.0.0.3 : 0x00000007 }\n\t}\n\n' +
        '\tmap mp {\n\t\ttype inet_service : inet_service\n\t\telements = { 1 : 2 }\n\t}\n\n' +
        '\tchain c {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n' +
        // the dependency goes, th is named after it, "ip" is named for an address . port map (measured)
        '\t\tdnat ip to ip daddr . tcp dport map @m\n' +
        '\t\tmeta mark set ip saddr map @mk\n' +
        '\t\ttcp dport 80 dnat to ip daddr map { 10.96.0.10 : 10.0.0.3 }:8080\n\t}\n}\n',
    );
  });

  test('update and add of a data map: nft gives it a size, not "flags dynamic"', () => {
    const text =
      'table ip t {\n map mk { type ipv4_addr : mark; }\n' +
      ' chain c { type filter hook input priority 0; update @mk { ip saddr : 0x5 }; }\n}\n';
    expect(printNft(parseNft(text))).toContain('\t\ttype ipv4_addr : mark\n\t\tsize 65535\n\t}');
    expect(printNft(parseNft(text))).toContain('update @mk { ip saddr : 0x00000005 }');
  });

  test('add element / delete element of a data map; the same key with another value is refused', () => {
    const base = 'table ip t {\n map mk { type ipv4_addr : mark; elements = { 10.0.0.1 : 1 } }\n}\n';
    const rs = parseNft(`${base}add element ip t mk { 10.0.0.2 : 0x2 }\ndelete element ip t mk { 10.0.0.1 }\n`);
    expect(printNft(rs)).toContain('elements = { 10.0.0.2 : 0x00000002 }');
    expect(refusal(`${base}add element ip t mk { 10.0.0.1 : 2 }\n`).message).toMatch(/another value/);
    expect(() => parseNft(`${base}add element ip t mk { 10.0.0.1 : 1 }\n`)).not.toThrow();
  });

  test('what nft or the kernel refuses (measured), and what is outside the subset', () => {
    const maps =
      ' map m2 { type ipv4_addr : ipv4_addr . inet_service; }\n map ma { type ipv4_addr : ipv4_addr; }\n' +
      ' map mk { type ipv4_addr : mark; }\n map v { type ipv4_addr : verdict; }';
    const kind = (rule: string) => refusal(nat(maps, `  ${rule}`)).kind;
    // a port from the map needs a transport protocol before it or in the key
    expect(kind('dnat to ip daddr map @m2')).toBe('invalid');
    expect(() => parseNft(nat(maps, '  tcp dport 80 dnat to ip daddr map @m2'))).not.toThrow();
    // nft 1.0.6 aborts on a port after a map that gives one
    expect(kind('dnat to ip daddr . tcp dport map { 10.0.0.1 . 80 : 10.0.0.2 . 8080 } : 80')).toBe('invalid');
    expect(kind('dnat to ip daddr map @mk')).toBe('invalid');
    expect(kind('meta mark set ip saddr map @ma')).toBe('invalid');
    expect(kind('meta mark set tcp dport map @mk')).toBe('invalid');
    expect(kind('meta mark set ip saddr map @v')).toBe('invalid');
    expect(kind('ip saddr vmap @mk')).toBe('invalid');
    expect(kind('meta mark set ip saddr map { 10.0.0.1 : 1, 10.0.0.1 : 2 }')).toBe('invalid');
    // an anonymous map's intervals may not overlap (verdict maps too); one given twice is one
    expect(kind('meta mark set ip saddr map { 10.0.0.0/8 : 1, 10.1.0.0/16 : 2 }')).toBe('invalid');
    expect(kind('ip saddr vmap { 10.0.0.0/8 : accept, 10.1.0.0/16 : drop }')).toBe('invalid');
    expect(printNft(parseNft(nat(maps, '  meta mark set ip saddr map { 10.0.0.0/8 : 1, 10.0.0.0/8 : 1 }')))).toContain(
      'map { 10.0.0.0/8 : 0x00000001 }',
    );
    // a map with a size and no "flags dynamic" has the kernel's fixed-size hash: no updates (EOPNOTSUPP)
    expect(refusal(nat(' map s { type ipv4_addr : mark; size 10; }', '  update @s { ip saddr : 1 }')).kind).toBe(
      'invalid',
    );
    expect(() =>
      parseNft(nat(' map s { type ipv4_addr : mark; size 10; flags dynamic; }', '  update @s { ip saddr : 1 }')),
    ).not.toThrow();
    expect(refusal(nat(maps, '  update @v { ip saddr : accept }')).kind).toBe('syntax');
    expect(kind('update @mk { ip saddr }')).toBe('invalid');
    // a delete of a map's element takes a value too (nft_dynset_init: EINVAL without one, measured)
    expect(kind('delete @mk { ip saddr }')).toBe('invalid');
    expect(printNft(parseNft(nat(maps, '  delete @mk { ip saddr : 1 }')))).toContain(
      'delete @mk { ip saddr : 0x00000001 }',
    );
    expect(kind('update @mk { ip saddr : meta mark }')).toBe('unsupported');
    expect(refusal('table ip t {\n map m { type ipv4_addr : ct_state; }\n}\n').kind).toBe('unsupported');
  });
});

describe('nft -j list ruleset', () => {
  const read = (f: string) => readFileSync(new URL(`../fixtures/nft/${f}`, import.meta.url), 'utf8');
  test("data maps and the statements that read them read to nft's own listing, with the kernel's handles", () => {
    const rs = parseNftJson(read('datamaps.json'), 'datamaps.json');
    expect(printNft(rs)).toBe(read('datamaps.list'));
    // the anonymous maps took handles of their own: the rules' handles are the kernel's
    const json = JSON.parse(read('datamaps.json')) as { nftables: { rule?: { handle: number } }[] };
    const handles = json.nftables.flatMap((o) => (o.rule ? [o.rule.handle] : []));
    const t = [...rs.tables.values()][0]!;
    expect([...t.chains.values()].flatMap((c) => c.rules.map((r) => r.handle))).toEqual(handles);
  });

  test('nft 1.0.6 has no JSON for update @m { k : v } (it writes the rule as text): unsupported', () => {
    const rule = { family: 'ip', table: 't', chain: 'c', handle: 4, expr: ['update @mk { ip saddr : 0x00000005 }'] };
    const text = JSON.stringify({
      nftables: [
        { table: { family: 'ip', name: 't', handle: 1 } },
        { chain: { family: 'ip', table: 't', name: 'c', handle: 1 } },
        { map: { family: 'ip', table: 't', name: 'mk', type: 'ipv4_addr', map: 'mark', handle: 2 } },
        { rule },
      ],
    });
    expect(() => parseNftJson(text, 'u.json')).toThrow(/unsupported/);
  });
});

describe('the evaluator', () => {
  const maps =
    ' map m { type ipv4_addr . inet_service : ipv4_addr . inet_service;' +
    ' elements = { 10.96.0.10 . 80 : 10.0.0.2 . 8080 } }\n' +
    ' map mk { type ipv4_addr : mark; flags interval; elements = { 10.0.0.0/24 : 0x7 } }';

  test('dnat via a map: the address and port the map holds; a miss ends the rule, the next one runs', () => {
    const t = table(nat(maps, '  dnat to ip daddr . tcp dport map @m\n  counter dnat to 10.9.9.9'));
    const hit = evalBaseChain(t, 'c', pkt({ dport: 80 }), env);
    expect(hit.map((o) => [o.verdict, o.nat, o.trace.map((h) => h.rule)])).toEqual([
      ['accept', { k: 'nat', type: 'dnat', ipFamily: false, addr: ip('10.0.0.2'), port: 8080 }, [0]],
    ]);
    // nft_lookup_eval: NFT_BREAK; the rule is not traced and nft_nat_eval never runs
    const miss = evalBaseChain(t, 'c', pkt({ dport: 81 }), env);
    expect(miss.map((o) => [o.nat?.k === 'nat' ? o.nat.addr : undefined, o.trace.map((h) => h.rule)])).toEqual([
      [ip('10.9.9.9'), [1]],
    ]);
    // a UDP packet has no tcp dport: the key has no value, the rule breaks as well
    expect(evalBaseChain(t, 'c', pkt({ proto: 17, dport: 80 }), env)[0]!.trace.map((h) => h.rule)).toEqual([1]);
  });

  test('an anonymous map to an address, with the port after it', () => {
    const t = table(nat('', '  tcp dport 80 dnat to ip daddr map { 10.96.0.10 : 10.0.0.3 } : 8080'));
    expect(evalBaseChain(t, 'c', pkt({ dport: 80 }), env)[0]!.nat).toMatchObject({ addr: ip('10.0.0.3'), port: 8080 });
  });

  test('meta mark and ct mark from a map; a miss leaves the mark and ends the rule (what came before acted)', () => {
    const t = table(
      `table ip t {\n${maps}\n chain c { type filter hook prerouting priority 0;\n` +
        '  meta mark set 0x1 meta mark set ip saddr map @mk counter accept\n' +
        '  ct mark set ip daddr map { 10.96.0.10 : 0x9 } drop\n }\n}\n',
    );
    const ct: NftEnv = { ...env, ct: { state: 8, status: 0, mark: 0 } };
    const hit = evalBaseChain(t, 'c', pkt(), ct)[0]!;
    expect([hit.verdict, hit.pkt.mark]).toEqual(['accept', 7]);
    const miss = evalBaseChain(t, 'c', pkt({ src: ip('10.1.0.1') }), ct)[0]!;
    expect([miss.verdict, miss.pkt.mark, miss.ctMark, miss.trace.map((h) => h.rule)]).toEqual(['drop', 1, 9, [1]]);
  });

  test('a key the model cannot tell is unknown, not guessed', () => {
    const t = table(nat('', '  dnat to iifname map { "eth0" : 10.0.0.3 }'));
    expect(evalBaseChain(t, 'c', pkt(), { hook: 'prerouting' })[0]!.verdict).toBe('unknown');
  });

  test('update @m { k : v }: a new element takes the value, one that is there keeps its own', () => {
    const t = table(
      'table ip t {\n map d { type ipv4_addr : mark; flags dynamic; elements = { 10.0.0.2 : 0x2 } }\n' +
        ' chain c { type filter hook prerouting priority 0;\n' +
        '  update @d { ip saddr : 0x5 } meta mark set ip saddr map @d\n }\n}\n',
    );
    const has = (present: string[]) => ({
      ...env,
      setHas: (_s: unknown, k: readonly unknown[]) => present.includes(String(k[0])),
    });
    const fresh = evalBaseChain(t, 'c', pkt(), has([]))[0]!;
    expect([fresh.pkt.mark, fresh.updates?.map((u) => u.data)]).toEqual([5, [[5]]]);
    const old = evalBaseChain(t, 'c', pkt({ src: ip('10.0.0.2') }), has([String(ip('10.0.0.2'))]))[0]!;
    expect(old.pkt.mark).toBe(2);
  });
});

// Ranges and prefixes as a data map's values (spec/nft.md §3, §8): a nat range from a map, `type K : interval D`
// for a named map. The fixtures are what nft 1.0.6 listed for range-maps.nft (text and JSON, measured in
// `unshare -n`): a range that is a prefix lists as the prefix, one address alone as /32, a port after such a map is
// left out of the listing (the kernel has it: suites/regressions/nft-data-map-range-values.json).
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseNft, printNft, parseNftJson } from '../../src/model/nft/index.ts';
import { isKernelRefusal } from '../../src/model/nft/apply.ts';
import { evalBaseChain, type NftEnv } from '../../src/model/nft/eval.ts';
import { natRequestOf } from '../../src/model/nft/in-path.ts';
import { parseIp } from '../../src/model/ip.ts';
import { synPkt } from '../helpers/packet.ts';
import { nftRefusal as refusal } from '../helpers/nft.ts';

const read = (f: string) => readFileSync(new URL(`../fixtures/nft/${f}`, import.meta.url), 'utf8');
const ip = (s: string) => parseIp(s)!;
const nat = (rules: string, maps = '') =>
  `table ip t {\n${maps}\n chain c { type nat hook prerouting priority dstnat;\n${rules}\n }\n}\n`;
const env: NftEnv = { hook: 'prerouting', iif: 'eth0' };

describe('parse and list as nft 1.0.6 does', () => {
  test('nft -f text, its listing and its JSON read to what nft listed', () => {
    const list = read('range-maps.list');
    expect(printNft(parseNft(read('range-maps.nft')))).toBe(list);
    expect(printNft(parseNft(list, { listing: true }))).toBe(list);
    // nft's JSON has no mark of interval data: an empty such map (e) reads as a map of single values
    const fromJson = printNft(parseNftJson(read('range-maps.json'), 'range-maps.json'));
    const empty = (s: string) =>
      s.replace(/type ipv4_addr : (interval )?ipv4_addr\n\t\}/, 'E').replace(/dnat (ip )?to ip daddr map @e/, 'E');
    expect(empty(fromJson)).toBe(empty(list));
    expect(fromJson).toContain('\tmap e {\n\t\ttype ipv4_addr : ipv4_addr\n\t}');
  });

  test('one value per component lists as single values, which nft refuses to load; a listing reads', () => {
    // measured: nft lists { 22 : 172.16.5.4/32 . ssh } as { 22 : 172.16.5.4 . 22 } and refuses that (EINVAL)
    const text =
      'table ip t {\n\tmap m {\n\t\ttype inet_service : interval ipv4_addr . inet_service\n' +
      '\t\telements = { 22 : 172.16.5.4 . 22, 23 : 10.0.0.2-10.0.0.9 . 22 }\n\t}\n}\n';
    expect(printNft(parseNft(text.replace('172.16.5.4 . 22', '172.16.5.4/32 . ssh')))).toBe(text);
    expect(isKernelRefusal(refusal(text))).toBe(true);
    const m = [...parseNft(text, { listing: true }).tables.values()][0]!.sets.get('m')!;
    expect(m.elements.map((e) => [e.data, e.dataHi])).toEqual([
      [
        [ip('172.16.5.4'), 22],
        [ip('172.16.5.4'), 22],
      ],
      [
        [ip('10.0.0.2'), 22],
        [ip('10.0.0.9'), 22],
      ],
    ]);
  });

  test('what nft or the kernel refuses (measured), and what is outside the subset', () => {
    // a single value beside a range: nft sends it half as long, the kernel says EINVAL
    const mixed = refusal(nat('  dnat to ip daddr map { 10.96.0.10 : 10.0.0.1-10.0.0.3, 10.96.0.11 : 10.0.0.9 }'));
    expect([mixed.kind, isKernelRefusal(mixed)]).toEqual(['invalid', true]);
    const m = ' map m { type ipv4_addr : interval ipv4_addr . inet_service; }';
    const namedSingle = refusal(
      'table ip t {\n map m { type ipv4_addr : interval ipv4_addr . inet_service; }\n}\n' +
        'add element ip t m { 10.96.0.11 : 10.0.0.9 . 80 }\n',
    );
    expect([namedSingle.kind, isKernelRefusal(namedSingle)]).toEqual(['invalid', true]);
    // without "interval" a range is no value (nft: "Value must be a singleton")
    const notInterval = refusal(
      'table ip t {\n map m { type ipv4_addr : ipv4_addr; elements = { 10.96.0.10 : 10.0.0.1-10.0.0.3 } }\n}\n',
    );
    expect([notInterval.kind, isKernelRefusal(notInterval)]).toEqual(['invalid', false]);
    expect(refusal(nat('  dnat to ip daddr map { 10.96.0.10 : 10.0.0.3-10.0.0.1 }')).message).toMatch(/negative/);
    // a range of marks loads in nft 1.0.6 and lists as nonsense: outside the subset
    expect(refusal(nat('  meta mark set ip saddr map { 10.0.0.1 : 1-3 }')).kind).toBe('unsupported');
    expect(refusal('table ip t {\n map m { type ipv4_addr : interval mark; }\n}\n').kind).toBe('unsupported');
    expect(refusal(nat('  update @m { ip saddr : 10.0.0.1 . 80 }', m.replace('; }', '; flags dynamic; }'))).kind).toBe(
      'unsupported',
    );
  });
});

describe('the evaluator', () => {
  test('a range value is the nat core range; a port after the map applies; a prefix too', () => {
    const t = [
      ...parseNft(
        nat(
          '  tcp dport 80 dnat to ip daddr map { 10.96.0.10 : 10.0.0.1-10.0.0.3 } : 8080\n' +
            '  meta l4proto tcp dnat to ip daddr map { 10.96.0.10 : 10.0.0.0/30 . 8000-8100 }',
        ),
      ).tables.values(),
    ][0]!;
    const run = (dport: number) => evalBaseChain(t, 'c', synPkt({ dst: ip('10.96.0.10'), dport }), env)[0]!;
    expect(natRequestOf(run(80).nat!).range).toEqual({
      minIp: ip('10.0.0.1'),
      maxIp: ip('10.0.0.3'),
      minPort: 8080,
      maxPort: 8080,
    });
    expect(natRequestOf(run(81).nat!).range).toEqual({
      minIp: ip('10.0.0.0'),
      maxIp: ip('10.0.0.3'),
      minPort: 8000,
      maxPort: 8100,
    });
  });
});

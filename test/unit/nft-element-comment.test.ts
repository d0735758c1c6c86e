// Element comments (kube-proxy names the Service port of each no-endpoint element so) and `delete element` of a
// map by its key alone: read from `nft -f` text and `nft -j`, printed as nft 1.0.6 lists them (measured in a
// throw-away namespace on Linux 6.18; the listings below are nft's own, `expires` left out).
import { describe, test, expect } from 'vitest';
import { parseNft, parseNftJson, printNft } from '../../src/model/nft/index.ts';
import { InputError } from '../../src/model/errors.ts';

const input = [
  'table ip t {',
  '\tset s {',
  '\t\ttype ipv4_addr',
  '\t\tflags timeout',
  '\t\telements = { 10.0.0.1 comment "x y" timeout 30s, 10.0.0.2 timeout 1m comment "b" }',
  '\t}',
  '\tmap m {',
  '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
  '\t\telements = { 10.96.0.101 . tcp . 80 comment "default/empty:http" : drop, 10.96.0.102 . udp . 53 : accept }',
  '\t}',
  '}',
  'add element ip t m { 10.96.0.103 . tcp . 81 comment "c" : drop }',
  '',
].join('\n');

describe('nft element comments', () => {
  test('read in either order with a timeout, listed after it and before the data, as nft lists them', () => {
    expect(printNft(parseNft(input, { file: 'c.nft' }))).toBe(
      [
        'table ip t {',
        '\tset s {',
        '\t\ttype ipv4_addr',
        '\t\tflags timeout',
        '\t\telements = { 10.0.0.1 timeout 30s comment "x y", 10.0.0.2 timeout 1m comment "b" }',
        '\t}',
        '',
        '\tmap m {',
        '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
        '\t\telements = { 10.96.0.102 . udp . 53 : accept,',
        '\t\t\t     10.96.0.101 . tcp . 80 comment "default/empty:http" : drop,',
        '\t\t\t     10.96.0.103 . tcp . 81 comment "c" : drop }',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
  });

  test('nft -j: the comment of a set element and of a map element key', () => {
    // as `nft -j list ruleset` wrote the file above (expires left out)
    const json = JSON.stringify({
      nftables: [
        { table: { family: 'ip', name: 't', handle: 1 } },
        {
          set: {
            ...{ family: 'ip', name: 's', table: 't', type: 'ipv4_addr', handle: 1, flags: ['timeout'] },
            elem: [{ elem: { val: '10.0.0.1', timeout: 30, comment: 'x y' } }],
          },
        },
        {
          map: {
            family: 'ip',
            name: 'm',
            table: 't',
            type: ['ipv4_addr', 'inet_proto', 'inet_service'],
            handle: 2,
            map: 'verdict',
            elem: [
              [{ concat: ['10.96.0.102', 'udp', 53] }, { accept: null }],
              [
                { elem: { val: { concat: ['10.96.0.101', 'tcp', 80] }, comment: 'default/empty:http' } },
                { drop: null },
              ],
            ],
          },
        },
      ],
    });
    const listed = printNft(parseNftJson(json, 'c.json'));
    expect(listed).toContain('elements = { 10.0.0.1 timeout 30s comment "x y" }');
    expect(listed).toContain('10.96.0.101 . tcp . 80 comment "default/empty:http" : drop }');
  });

  test('a comment over 128 characters is refused, as nft refuses it', () => {
    const long = input.replace('comment "c"', `comment "${'c'.repeat(129)}"`);
    expect(() => parseNft(long, { file: 'c.nft' })).toThrow(InputError);
    expect(() => parseNft(long, { file: 'c.nft' })).toThrow(/longer than 128/);
  });
});

describe('delete element of a map', () => {
  test('by its key alone, or with any data: the key decides (measured)', () => {
    for (const del of ['{ 10.96.0.101 . tcp . 80 }', '{ 10.96.0.101 . tcp . 80 : accept }']) {
      const rs = parseNft(`${input}delete element ip t m ${del}\n`, { file: 'd.nft' });
      const m = rs.tables.get('ip t')!.sets.get('m')!;
      expect(m.elements.map((e) => e.key.map((k) => (k.kind === 'value' ? k.v : '?')).join(' '))).toEqual([
        `${0x0a600066} 17 53`,
        `${0x0a600067} 6 81`,
      ]);
    }
  });

  test('a key it does not hold is refused', () => {
    expect(() => parseNft(`${input}delete element ip t m { 10.9.9.9 . tcp . 80 }\n`, { file: 'd.nft' })).toThrow(
      /does not exist/,
    );
  });
});

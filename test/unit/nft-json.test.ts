// `nft -j list ruleset` read into the model's AST (src/model/nft/json.ts, spec/nft.md §1): the same listing
// as the text, the kernel's handles, and errors with the JSON path.
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseNft, parseNftJson, printNft } from '../../src/model/nft/index.ts';
import { InputError } from '../../src/model/errors.ts';

const dir = new URL('../fixtures/nft/', import.meta.url);
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');

describe('nft -j', () => {
  test('the JSON of a fixture reads to its listing (nft leaves the table comment out) with its handles', () => {
    const rs = parseNftJson(read('json-form.json'), 'json-form.json');
    expect(printNft(rs)).toBe(read('json-form.list').replace('\tcomment "kube"\n', ''));
    const text = parseNft(read('json-form.nft'), { file: 'json-form.nft' });
    const handles = (x: typeof rs) =>
      [...x.tables.values()].map((t) => [
        [...t.chains.values()].map((c) => [c.name, c.handle, c.rules.map((r) => r.handle)]),
        [...t.sets.values()].map((s) => [s.name, s.handle]),
      ]);
    // the text transaction makes the handles the kernel gave (chains, then sets, then rules)
    expect(handles(text)).toEqual(handles(rs));
  });

  test('errors name the line, column and JSON path; the unsupported is said so', () => {
    const bad = (j: unknown) => {
      try {
        parseNftJson(JSON.stringify(j), 'x.json');
      } catch (e) {
        if (e instanceof InputError) return [e.kind, e.message];
        throw e;
      }
      return undefined;
    };
    const table = { table: { family: 'ip', name: 't', handle: 1 } };
    const chain = { chain: { family: 'ip', table: 't', name: 'c', handle: 1 } };
    expect(
      bad({
        nftables: [table, chain, { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ limit: { rate: 1 } }] } }],
      }),
    ).toEqual(['unsupported', 'x.json:1:186: nftables[2].rule.expr[0].limit: unsupported: statement "limit"']);
    expect(
      bad({ nftables: [table, { rule: { family: 'ip', table: 't', chain: 'nope', expr: [{ accept: null }] } }] })?.[1],
    ).toMatch(/^x\.json:1:\d+: nftables\[1\]\.rule: no chain nope in table ip t$/);
    expect(bad([1])).toEqual(['invalid', 'x.json:1:1: expected {"nftables": [...]} (nft -j list ruleset)']);
  });
});

test('sets rules change: flags, timeout and size, elements with their time, add/update statements (nft 1.0.6)', () => {
  // as `nft -j list ruleset` wrote it (its flags leave out "dynamic"; times in seconds)
  const json = JSON.stringify({
    nftables: [
      { table: { family: 'ip', name: 't', handle: 1 } },
      {
        set: {
          family: 'ip',
          name: 'aff',
          table: 't',
          type: 'ipv4_addr',
          handle: 3,
          size: 65535,
          flags: ['timeout'],
          timeout: 10800,
          elem: [
            { elem: { val: '10.0.0.1', expires: 10799 } },
            { elem: { val: '10.0.0.2', timeout: 60, expires: 59 } },
          ],
        },
      },
      { chain: { family: 'ip', table: 't', name: 'c', handle: 1 } },
      {
        rule: {
          family: 'ip',
          table: 't',
          chain: 'c',
          handle: 4,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@aff' } },
            { accept: null },
          ],
        },
      },
      {
        rule: {
          family: 'ip',
          table: 't',
          chain: 'c',
          handle: 5,
          expr: [{ set: { op: 'update', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@aff' } }],
        },
      },
      {
        rule: {
          family: 'ip',
          table: 't',
          chain: 'c',
          handle: 6,
          expr: [
            {
              set: {
                op: 'add',
                elem: { elem: { val: { payload: { protocol: 'ip', field: 'daddr' } }, timeout: 5 } },
                set: '@aff',
              },
            },
          ],
        },
      },
    ],
  });
  const listed = printNft(parseNftJson(json, 'aff.json'));
  expect(listed).toContain(
    '\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n' +
      '\t\telements = { 10.0.0.1 expires 2h59m59s, 10.0.0.2 timeout 1m expires 59s }\n',
  );
  expect(listed).toContain(
    '\t\tip saddr @aff accept\n\t\tupdate @aff { ip saddr }\n\t\tadd @aff { ip daddr timeout 5s }\n',
  );
});

test('delete @s statements read from nft -j as nft 1.0.6 writes them (measured), flags dynamic put back', () => {
  // `nft -j list ruleset` of: set s { type ipv4_addr; flags timeout; } and, in chain c,
  // `delete @s { ip saddr timeout 3s }` and `delete @s { ip daddr }` (1.0.6 leaves "dynamic" out of the flags)
  const json =
    '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},' +
    ' {"table": {"family": "ip", "name": "t", "handle": 1}}, {"set": {"family": "ip", "name": "s", "table": "t",' +
    ' "type": "ipv4_addr", "handle": 2, "size": 65535, "flags": ["timeout"]}}, {"chain": {"family": "ip",' +
    ' "table": "t", "name": "c", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},' +
    ' {"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 3, "expr": [{"set": {"op": "delete", "elem":' +
    ' {"elem": {"val": {"payload": {"protocol": "ip", "field": "saddr"}}, "timeout": 3}}, "set": "@s"}}]}},' +
    ' {"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 4, "expr": [{"set": {"op": "delete",' +
    ' "elem": {"payload": {"protocol": "ip", "field": "daddr"}}, "set": "@s"}}]}}]}';
  const listed = printNft(parseNftJson(json, 'del.json'));
  expect(listed).toContain('\t\tsize 65535\n\t\tflags dynamic,timeout\n');
  expect(listed).toContain('\t\tdelete @s { ip saddr timeout 3s }\n\t\tdelete @s { ip daddr }\n');
});

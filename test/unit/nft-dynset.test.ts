// Sets rules change (spec/nft.md §3, §8): "flags dynamic,timeout", "timeout", element timeouts, the add/update
// statements, lookups of what they added as the host's state across packets, and expiry with the case's clock
// (deterministic where the case's waits decide it, a question both answers of which are followed where not).
// Listings as nft 1.0.6 prints them on Linux 6.18 (measured in a throw-away namespace).
import { describe, test, expect } from 'vitest';
import { parseNft, printNft } from '../../src/model/index.ts';
import { parseNftTime, printNftTime } from '../../src/model/nft/time.ts';
import { lifeAt, EXPIRY_MARGIN_S, PROBE_SLACK_S } from '../../src/model/nft/dyn-state.ts';
import { evalBaseChain, type NftEnv } from '../../src/model/nft/eval.ts';
import { parseIp } from '../../src/model/ip.ts';
import type { Pkt } from '../../src/model/eval/packet.ts';
import { synPkt } from '../helpers/packet.ts';
import { nftRefusal as refusal } from '../helpers/nft.ts';

/** A TCP SYN from `src` to a ClusterIP (10.96.0.10:80). */
const pkt = (src: string): Pkt => synPkt({ src: parseIp(src)!, dst: parseIp('10.96.0.10')! });

const list = (text: string) => printNft(parseNft(text, { file: 't.nft' }));

describe('time values', () => {
  test('read and listed as nft does', () => {
    expect(parseNftTime('3h')).toBe(10_800_000);
    expect(parseNftTime('1d2h3m4s5ms')).toBe(93_784_005);
    expect(parseNftTime('5000ms')).toBe(5000);
    expect(parseNftTime('90')).toBeUndefined();
    expect(parseNftTime('1H')).toBeUndefined();
    expect(parseNftTime('3m1h')).toBeUndefined();
    expect(printNftTime(10_800_000)).toBe('3h');
    expect(printNftTime(90_000)).toBe('1m30s');
    expect(printNftTime(996)).toBe('996ms');
  });
});

describe('parse and list', () => {
  test("kube-proxy's affinity set and its statements", () => {
    const text = [
      'table ip t {',
      '  set aff { type ipv4_addr; flags dynamic,timeout; timeout 10800s; }',
      '  chain svc { ip saddr @aff goto ep; }',
      '  chain ep { update @aff { ip saddr }; }',
      '}',
    ].join('\n');
    expect(list(text)).toBe(
      [
        'table ip t {',
        '\tset aff {',
        '\t\ttype ipv4_addr',
        '\t\tsize 65535',
        '\t\tflags dynamic,timeout',
        '\t\ttimeout 3h',
        '\t}',
        '',
        '\tchain svc {',
        '\t\tip saddr @aff goto ep',
        '\t}',
        '',
        '\tchain ep {',
        '\t\tupdate @aff { ip saddr }',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
  });

  test('flags lines, sizes, statement timeouts and element timeouts as measured', () => {
    const out = list(
      [
        'table ip t {',
        '  set a { type ipv4_addr; flags timeout; }',
        '  set b { type ipv4_addr; flags dynamic; timeout 2s; }',
        '  set c { type ipv4_addr; timeout 2s; elements = { 1.1.1.1, 2.2.2.2 timeout 1m }; }',
        '  set d { type ipv4_addr . inet_service; flags timeout; }',
        '  chain x { update @d { ip saddr . tcp dport }; add @a { ip saddr timeout 1m30s }; }',
        '  chain y { update @a { ip daddr timeout 0s }; add @d { ip daddr . th dport }; }',
        '}',
      ].join('\n'),
    );
    // a set made in the same transaction as the statement that names it becomes dynamic, with size 65535
    expect(out).toContain('\tset a {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t}');
    expect(out).toContain('\tset b {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 2s\n\t}');
    // only "timeout" with a default timeout: no flags line; an element's own timeout is listed
    expect(out).toContain(
      '\tset c {\n\t\ttype ipv4_addr\n\t\ttimeout 2s\n\t\telements = { 1.1.1.1, 2.2.2.2 timeout 1m }',
    );
    expect(out).toContain('update @d { ip saddr . tcp dport }\n\t\tadd @a { ip saddr timeout 1m30s }');
    expect(out).toContain('update @a { ip daddr }\n\t\tadd @d { ip daddr . th dport }');
  });

  test('a set of an earlier transaction: a size but its own flags; new flags are refused, a new timeout taken', () => {
    const first = parseNft('table ip t { set a { type ipv4_addr; flags timeout; }\n chain c { }\n }\n');
    const rs = parseNft('add rule ip t c update @a { ip saddr }\n', { base: first });
    expect(printNft(rs)).toContain('\t\tsize 65535\n\t\tflags timeout\n');
    expect(() => parseNft('add set ip t a { type ipv4_addr; }\n', { base: first })).toThrow(/already exists/);
    const dyn = parseNft('table ip t { set a { type ipv4_addr; flags dynamic,timeout; timeout 3h; }\n}\n');
    const again = parseNft('add set ip t a { type ipv4_addr; flags dynamic,timeout; timeout 2h; }\n', { base: dyn });
    expect(printNft(again)).toContain('timeout 2h');
  });

  test('what nft or the kernel refuses', () => {
    const set = (decl: string, rule: string) => `table ip t {\n set a { ${decl} }\n chain c { ${rule}; }\n}\n`;
    expect(refusal(set('type ipv4_addr;', 'update @b { ip saddr }')).message).toMatch(/no set b/);
    expect(refusal(set('type ipv4_addr;', 'update @a { tcp dport }')).message).toMatch(/datatype mismatch/);
    expect(refusal(set('type ipv4_addr; flags interval;', 'update @a { ip saddr }')).message).toMatch(/interval/);
    expect(refusal(set('type ipv4_addr;', 'update @a { ip saddr timeout 5s }')).message).toMatch(/flags timeout/);
    expect(
      refusal('table ip t { map m { type ipv4_addr : verdict; }\n chain c { update @m { ip saddr }; }\n}\n').message,
    ).toMatch(/is a verdict map/);
    expect(refusal('table ip t { set a { type ipv4_addr; elements = { 1.2.3.4 timeout 5s }; }\n}\n').message).toMatch(
      /no "flags timeout"/,
    );
    const bare = refusal('table ip t { set a { type ipv4_addr; timeout 90; }\n}\n');
    expect([bare.kind, bare.pos?.line, bare.pos?.col]).toEqual(['syntax', 1, 46]);
    // nft's set statement takes no verdict as data (syntax error, measured); a value for a set's element is refused
    // (nft 1.0.6 crashes on it, measured)
    expect(refusal(set('type ipv4_addr;', 'update @a { ip saddr : accept }')).kind).toBe('syntax');
    expect(refusal(set('type ipv4_addr;', 'update @a { ip saddr : 0x1 }')).kind).toBe('invalid');
    // the kernel needs the set before the rule that names it is deleted
    const busy = parseNft(set('type ipv4_addr;', 'update @a { ip saddr }'));
    expect(() => parseNft('delete set ip t a\n', { base: busy })).toThrow(/in use/);
  });

  test('a listing with elements that expire reads back and lists the same', () => {
    const listed = [
      'table ip t {',
      '\tset a {',
      '\t\ttype ipv4_addr',
      '\t\tsize 65535',
      '\t\tflags dynamic,timeout',
      '\t\ttimeout 3h',
      '\t\telements = { 10.0.0.1 expires 2h59m58s996ms, 10.0.0.2 timeout 1m expires 59s996ms }',
      '\t}',
      '}',
      '',
    ].join('\n');
    expect(list(listed)).toBe(listed);
  });
});

describe('size limits and delete statements (measured: nft 1.0.6, Linux 6.18, unshare -n)', () => {
  test("elements beyond a set's size are refused (ENFILE); an interval counts once, a duplicate not at all", () => {
    const set = (decl: string) => `table ip t {\n set s { ${decl} }\n}\n`;
    expect(refusal(set('type ipv4_addr; size 2; elements = { 1.1.1.1, 2.2.2.2, 3.3.3.3 };')).message).toMatch(
      /is full/,
    );
    expect(list(set('type ipv4_addr; size 2; elements = { 1.1.1.1, 2.2.2.2, 2.2.2.2 };'))).toContain(
      '\t\tsize 2\n\t\telements = { 1.1.1.1, 2.2.2.2 }',
    );
    expect(list(set('type ipv4_addr; flags interval; size 2; elements = { 1.1.1.0/24, 2.2.2.2 };'))).toContain(
      'size 2',
    );
    expect(refusal(set('type inet_service; flags interval; size 1; elements = { 10-20, 21-30 };')).kind).toBe(
      'invalid',
    );
    expect(refusal(set('type ipv4_addr . inet_service; size 1; elements = { 1.1.1.1 . 80, 1.1.1.1 . 81 };')).kind).toBe(
      'invalid',
    );
    expect(refusal(set('type ipv4_addr; size 1;') + 'add element ip t s { 1.1.1.1, 2.2.2.2 }\n').kind).toBe('invalid');
    // a deleted element makes room in the same transaction
    const swapped =
      set('type ipv4_addr; size 1; elements = { 1.1.1.1 };') +
      'delete element ip t s { 1.1.1.1 }\nadd element ip t s { 2.2.2.2 }\n';
    expect(list(swapped)).toContain('elements = { 2.2.2.2 }');
  });

  test('"delete @s { key }" reads, lists, makes the set dynamic with size 65535', () => {
    const text =
      'table ip t {\n set s { type ipv4_addr; flags timeout; }\n' +
      ' chain c { type filter hook input priority 0; delete @s { ip saddr timeout 3s }; delete @s { ip daddr }; }\n}\n';
    const out = list(text);
    expect(out).toContain('\t\tsize 65535\n\t\tflags dynamic,timeout\n');
    expect(out).toContain('\t\tdelete @s { ip saddr timeout 3s }\n\t\tdelete @s { ip daddr }\n');
    expect(list(out)).toBe(out);
    // an ip payload in a set statement's key makes the family ip for a later reject in an inet table (measured)
    const inet =
      'table inet t {\n set s { type ipv4_addr; }\n chain c { type filter hook input priority 0; ' +
      'delete @s { ip daddr } reject; }\n}\n';
    expect(list(inet)).toContain('\t\tdelete @s { ip daddr } reject with icmp port-unreachable\n');
    const mismatch = 'table ip t {\n set s { type ipv4_addr; }\n chain c { delete @s { ip saddr . tcp dport }; }\n}\n';
    expect(refusal(mismatch).message).toMatch(/datatype mismatch/);
  });
});

describe('evaluation', () => {
  const t = [
    ...parseNft(
      [
        'table ip t {',
        '  set aff { type ipv4_addr; flags dynamic,timeout; timeout 10s; }',
        '  chain c { type filter hook prerouting priority 0; policy accept;',
        '    ip saddr @aff drop',
        '    tcp dport 80 update @aff { ip saddr } ip saddr @aff counter',
        '    udp dport 80 update @aff { ip saddr }',
        '  }',
        '}',
      ].join('\n'),
    ).tables.values(),
  ][0]!;

  test('an update is a pending element the same packet already finds; the outcome carries it', () => {
    const seen = new Set<string>();
    const env: NftEnv = { hook: 'prerouting', iif: 'eth0', setHas: (_s, key) => seen.has(String(key[0])) };
    const [o] = evalBaseChain(t, 'c', pkt('10.0.0.1'), env);
    expect(o!.verdict).toBe('accept');
    expect(o!.trace.map((h) => h.rule)).toEqual([1]);
    expect(o!.updates?.map((u) => [u.set, u.op, u.key])).toEqual([['aff', 'update', [parseIp('10.0.0.1')]]]);
    seen.add(String(parseIp('10.0.0.1')));
    expect(evalBaseChain(t, 'c', pkt('10.0.0.1'), env).map((x) => x.verdict)).toEqual(['drop']);
  });

  test('the key of another protocol ends the rule without an update (nft_dynset.c: NFT_BREAK)', () => {
    const env: NftEnv = { hook: 'prerouting', iif: 'eth0', setHas: () => false };
    const [o] = evalBaseChain(t, 'c', { ...pkt('10.0.0.1'), proto: 1 }, env);
    expect(o!.updates).toBeUndefined();
  });

  test('expiry: there while more than the margin is left, gone once no time is left, a question between', () => {
    expect(lifeAt(undefined, 1e6, 50)).toBe('present');
    expect(lifeAt(10, 0, 1)).toBe('present');
    expect(lifeAt(10, 10, 0)).toBe('gone');
    expect(lifeAt(10, 12, 0)).toBe('gone');
    expect(lifeAt(10, 10 - EXPIRY_MARGIN_S, 0)).toBe('unknown');
    expect(lifeAt(10, 10 - EXPIRY_MARGIN_S - PROBE_SLACK_S, 1)).toBe('unknown');
    expect(lifeAt(10, 10 - EXPIRY_MARGIN_S - PROBE_SLACK_S - 0.01, 1)).toBe('present');
  });
});

describe('evaluation: a full set, delete', () => {
  const table = (rules: string[]) =>
    [
      ...parseNft(
        [
          'table ip t {',
          '  set s { type ipv4_addr; size 2; flags dynamic; elements = { 10.9.9.9 }; }',
          '  chain c { type filter hook prerouting priority 0; policy accept;',
          ...rules.map((r) => `    ${r}`),
          '  }',
          '}',
        ].join('\n'),
      ).tables.values(),
    ][0]!;
  const env = (count: { sure: number; maybe: number }, has = (_: number) => false): NftEnv => ({
    hook: 'prerouting',
    iif: 'eth0',
    setHas: (_s, key) => has(key[0] as number),
    setCount: () => count,
  });

  test('a new key in a full set breaks the rule (nft_dynset_new fails: NFT_BREAK), a key there does not', () => {
    const t = table(['update @s { ip saddr } drop']);
    const full = { sure: 2, maybe: 2 };
    expect(evalBaseChain(t, 'c', pkt('10.0.0.1'), env(full)).map((o) => [o.verdict, o.updates])).toEqual([
      ['accept', undefined],
    ]);
    const there = env(full, (a) => a === parseIp('10.0.0.1'));
    expect(evalBaseChain(t, 'c', pkt('10.0.0.1'), there).map((o) => o.verdict)).toEqual(['drop']);
    expect(evalBaseChain(t, 'c', pkt('10.0.0.1'), env({ sure: 1, maybe: 1 })).map((o) => o.verdict)).toEqual(['drop']);
    // an expired or deleted element the garbage collector may not have taken yet: the fate is open
    const open = evalBaseChain(t, 'c', pkt('10.0.0.1'), env({ sure: 1, maybe: 2 }));
    expect(open.map((o) => [o.verdict, o.undecided?.why])).toEqual([['unknown', expect.stringMatching(/full/)]]);
    // two new keys in one packet: the second finds the set full
    const two = table(['update @s { ip saddr } update @s { ip daddr } drop']);
    expect(evalBaseChain(two, 'c', pkt('10.0.0.1'), env({ sure: 0, maybe: 0 })).map((o) => o.verdict)).toEqual([
      'drop',
    ]);
    expect(evalBaseChain(two, 'c', pkt('10.0.0.1'), env({ sure: 1, maybe: 1 })).map((o) => o.verdict)).toEqual([
      'accept',
    ]);
  });

  test('a delete takes the key out for the rest of the packet and never breaks the rule', () => {
    const t = table(['delete @s { ip saddr } ip saddr @s drop', 'ip saddr != @s counter delete @s { ip daddr }']);
    const has = env({ sure: 2, maybe: 2 }, (a) => a === parseIp('10.0.0.1'));
    const [o] = evalBaseChain(t, 'c', pkt('10.0.0.1'), has);
    expect(o!.verdict).toBe('accept');
    expect(o!.trace.map((h) => h.rule)).toEqual([1]);
    expect(o!.updates?.map((u) => u.op)).toEqual(['delete', 'delete']);
  });
});

// The nft evaluator on small tables: matches, sets and verdict maps, numgen branches, jump/goto/return,
// policies, marks, three-valued unknowns.
import { describe, test, expect } from 'vitest';
import { parseNft } from '../../src/model/nft/index.ts';
import { evalBaseChain, type NftEnv } from '../../src/model/nft/eval.ts';
import { parseIp } from '../../src/model/ip.ts';
import type { Pkt } from '../../src/model/eval/packet.ts';
import { synPkt } from '../helpers/packet.ts';

const table = (body: string) => [...parseNft(`table ip t {\n${body}\n}\n`).tables.values()][0]!;
const pkt = (over: Partial<Pkt> = {}): Pkt =>
  synPkt({ src: parseIp('10.244.1.12')!, dst: parseIp('10.96.0.10')!, ...over });
const env: NftEnv = { hook: 'prerouting', iif: 'eth0' };
const run = (body: string, p: Partial<Pkt> = {}, e: NftEnv = env) => evalBaseChain(table(body), 'c', pkt(p), e);
const base = (rules: string, policy = 'accept') =>
  `chain c { type filter hook prerouting priority 0; policy ${policy};\n${rules}\n}`;

describe('matches', () => {
  test('prefixes, ranges, sets, !=, ports with their protocol', () => {
    const body = base('ip saddr 10.244.0.0/16 tcp dport { 80, 443 } drop');
    expect(run(body).map((o) => o.verdict)).toEqual(['drop']);
    expect(run(body, { dport: 81 }).map((o) => o.verdict)).toEqual(['accept']);
    expect(run(body, { proto: 17 }).map((o) => o.verdict)).toEqual(['accept']);
    expect(run(base('ip daddr != 10.96.0.0-10.96.0.9 drop')).map((o) => o.verdict)).toEqual(['drop']);
    expect(run(base('iifname "eth*" drop')).map((o) => o.verdict)).toEqual(['drop']);
  });

  test('ct state: a flag list is any of those bits; invalid without a connection, untracked after notrack', () => {
    const body = base('ct state established,related accept\nct state untracked drop\nct state invalid counter');
    expect(run(body, { notrack: true }).map((o) => o.verdict)).toEqual(['drop']);
    // nft_ct.c nft_ct_get_eval: no connection and not untracked reads as invalid
    expect(run(body).map((o) => [o.verdict, o.policy, o.trace.length])).toEqual([['accept', true, 1]]);
    // other ct keys break the rule without a connection, != too
    expect(run(base('ct mark != 1 drop')).map((o) => o.verdict)).toEqual(['accept']);
    const est: NftEnv = { ...env, ct: { state: 2, status: 0, mark: 0 } };
    expect(run(body, {}, est).map((o) => o.verdict)).toEqual(['accept']);
  });

  test('a ct mark set earlier in the traversal is what a later rule reads (nft_ct_set_eval writes ct->mark)', () => {
    const est: NftEnv = { ...env, ct: { state: 8, status: 0, mark: 0 } };
    const body = ['chain j { ct mark 0x2 drop; }', base('ct mark set 0x2\njump j')].join('\n');
    expect(run(body, {}, est).map((o) => [o.verdict, o.ctMark])).toEqual([['drop', 2]]);
    expect(run(base('ct mark set 0x1 ct mark 0x1 drop'), {}, est).map((o) => o.verdict)).toEqual(['drop']);
    // without a connection there is no mark to set or read: the match breaks the rule
    expect(run(base('ct mark set 0x1 ct mark 0x1 drop')).map((o) => o.verdict)).toEqual(['accept']);
  });

  test('what the model cannot know is unknown, not guessed', () => {
    expect(run(base('fib daddr type local drop')).map((o) => o.verdict)).toEqual(['unknown']);
    const e: NftEnv = { ...env, fibAddrType: () => 2 };
    expect(run(base('fib daddr type local drop'), {}, e).map((o) => o.verdict)).toEqual(['drop']);
    expect(run(base('oifname "eth0" drop')).map((o) => o.verdict)).toEqual(['unknown']);
  });
});

describe('sets, maps and numgen', () => {
  test('th dport of an ICMP packet (its checksum) in a lookup: a miss when a known component misses', () => {
    const icmp = { proto: 1, sport: 0, dport: 0, icmpType: 8 };
    const vmap = (els: string) => base(`ip daddr . meta l4proto . th dport vmap { ${els} }`);
    // no element has protocol icmp: a miss whatever the checksum, as on the kernel (regression case)
    expect(run(vmap('10.96.0.10 . tcp . 80 : drop, 10.96.0.10 . udp . 53 : drop'), icmp).map((o) => o.verdict)).toEqual(
      ['accept'],
    );
    // an icmp element with one port: it hinges on the checksum, unknown
    expect(run(vmap('10.96.0.10 . icmp . 80 : drop'), icmp).map((o) => o.verdict)).toEqual(['unknown']);
    // every port: a hit whatever the checksum
    expect(run(vmap('10.96.0.10 . icmp . 0-65535 : drop'), icmp).map((o) => o.verdict)).toEqual(['drop']);
    // sets too, and != of a miss
    expect(run(base('ip daddr . meta l4proto . th dport { 10.96.0.10 . tcp . 80 } drop'), icmp)[0]!.verdict).toBe(
      'accept',
    );
    expect(run(base('meta l4proto . th dport != { tcp . 80 } drop'), icmp)[0]!.verdict).toBe('drop');
    // alone, th dport of ICMP is still unknown
    expect(run(base('th dport 80 drop'), icmp)[0]!.verdict).toBe('unknown');
  });

  test("kube-proxy's concatenated verdict map", () => {
    const body = [
      'map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = {' +
        ' 10.96.0.10 . tcp . 80 : goto svc } }',
      'chain svc { meta l4proto tcp dnat to 10.244.1.11:8080; }',
      'chain c { type nat hook prerouting priority dstnat; policy accept;',
      'ip daddr . meta l4proto . th dport vmap @service-ips',
      '}',
    ].join('\n');
    const [o] = run(body);
    expect(o).toMatchObject({ verdict: 'accept', nat: { type: 'dnat', port: 8080 } });
    expect(o!.trace).toEqual([
      { chain: 'c', rule: 0 },
      { chain: 'svc', rule: 0 },
    ]);
    expect(run(body, { dport: 81 }).map((x) => x.nat)).toEqual([undefined]);
  });

  test('numgen random mod 3: three branches of exactly 1/3', () => {
    const body = [
      'chain a { meta mark set 1; }',
      'chain b { meta mark set 2; }',
      base('numgen random mod 3 vmap { 0 : jump a, 1 : jump b, 2 : drop }\nmeta mark 0 drop'),
    ].join('\n');
    const out = run(body);
    expect(out.map((o) => [o.p, o.verdict, o.pkt.mark])).toEqual([
      [1 / 3, 'accept', 1],
      [1 / 3, 'accept', 2],
      [1 / 3, 'drop', 0],
    ]);
  });
});

describe('chains and verdicts', () => {
  test('jump returns, goto does not; return in the base chain and the end of a goto both give the policy', () => {
    const chains = 'chain j { return; }\nchain g { meta mark set 7; }';
    expect(run(`${chains}\n${base('jump j\nmeta mark set 5', 'drop')}`).map((o) => [o.verdict, o.pkt.mark])).toEqual([
      ['drop', 5],
    ]);
    expect(run(`${chains}\n${base('goto g\nmeta mark set 5', 'drop')}`).map((o) => [o.verdict, o.pkt.mark])).toEqual([
      ['drop', 7],
    ]);
    expect(run(base('return\ndrop')).map((o) => o.verdict)).toEqual(['accept']);
  });

  test('marks: set, or, xor; a masked match', () => {
    const body = base(
      'meta mark set meta mark | 0x4000\nmeta mark & 0x4000 == 0x4000 meta mark set meta mark ^ 0x4001',
    );
    expect(run(body).map((o) => o.pkt.mark)).toEqual([1]);
  });
});

// limit, hashlimit, string, u32 and time on single packets (spec/modules.md): what is decided, what is unknown.
import { describe, test, expect } from 'vitest';
import { parseSave } from '../../src/model/rules/restore.ts';
import { compileRuleset, type CompiledRule } from '../../src/model/eval/chains.ts';
import type { MatchEnv } from '../../src/model/eval/matchers.ts';
import { newHostState, type Pkt, type HostState } from '../../src/model/eval/packet.ts';
import { parseIp } from '../../src/model/ip.ts';
import { hlGuaranteed, limitGuaranteed } from '../../src/model/rules/kinds-modules-more.ts';
import { synPkt, matchEnvOn } from '../helpers/packet.ts';

const ip = (s: string) => parseIp(s)!;

const pkt = synPkt;

/** The compiled rules of a ruleset text, by "table/chain/number". */
function rules(text: string): Map<string, CompiledRule> {
  const out = new Map<string, CompiledRule>();
  for (const t of compileRuleset(parseSave(text)).values())
    for (const c of t.chains.values()) for (const r of c.rules) out.set(r.id, r);
  return out;
}

/** true, false, or "unknown" when the rule asked */
function run(r: CompiledRule, p: Partial<Pkt> = {}, state: HostState = newHostState()): boolean | 'unknown' {
  let asked = false;
  const env: MatchEnv = matchEnvOn({
    state,
    ruleId: r.id,
    rule: r,
    unknown: () => {
      asked = true;
      return true;
    },
  });
  const v = r.test(pkt(p), env);
  return asked ? 'unknown' : v;
}

const nat = (lines: string) => `*nat\n:PREROUTING ACCEPT [0:0]\n:SVC - [0:0]\n${lines}\nCOMMIT\n`;

describe('token buckets (limit, hashlimit)', () => {
  test('a fresh hashlimit bucket in nat passes its burst, then the answer rests on time', () => {
    const rs = rules(
      nat(
        '-A PREROUTING -d 10.96.0.100/32 -p tcp -j SVC\n' +
          '-A SVC -m hashlimit --hashlimit-upto 1000/sec --hashlimit-burst 3 --hashlimit-name lb2 -j RETURN',
      ),
    );
    const r = rs.get('nat/SVC/1')!;
    expect(r.pinned).toBe(true);
    const st = newHostState();
    expect([1, 2, 3, 4].map(() => run(r, {}, st))).toEqual([true, true, true, 'unknown']);
  });

  test('--hashlimit-above is the inverse, and each key has its own bucket', () => {
    const rs = rules(
      nat(
        '-A PREROUTING -p udp -j SVC\n' +
          '-A SVC -m hashlimit --hashlimit-above 1/min --hashlimit-burst 1 --hashlimit-mode srcip ' +
          '--hashlimit-name a -j RETURN',
      ),
    );
    const r = rs.get('nat/SVC/1')!;
    const st = newHostState();
    expect(run(r, { proto: 17 }, st)).toBe(false);
    expect(run(r, { proto: 17 }, st)).toBe('unknown');
    expect(run(r, { proto: 17, src: ip('10.244.1.12') }, st)).toBe(false);
  });

  test('outside nat, or where a non-followed protocol can reach it, a bucket is never pinned', () => {
    const rs = rules(
      nat('-A PREROUTING -m limit --limit 1/sec -j RETURN\n-A PREROUTING -p tcp -m limit --limit 1/sec -j RETURN') +
        '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m limit --limit 1/sec -j ACCEPT\nCOMMIT\n',
    );
    expect(rs.get('nat/PREROUTING/1')!.pinned).toBeUndefined();
    expect(rs.get('nat/PREROUTING/2')!.pinned).toBe(true);
    expect(rs.get('filter/INPUT/1')!.pinned).toBeUndefined();
    expect(run(rs.get('filter/INPUT/1')!)).toBe('unknown');
    expect(run(rs.get('nat/PREROUTING/2')!)).toBe(true);
  });

  test('a hashlimit name shared with a rule elsewhere, or with other settings, is not pinned', () => {
    const hl = '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name n';
    const rs = rules(
      nat(`-A PREROUTING -p tcp ${hl} -j RETURN`) +
        `*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp ${hl} -j ACCEPT\nCOMMIT\n`,
    );
    expect(rs.get('nat/PREROUTING/1')!.pinned).toBeUndefined();
    const rs2 = rules(nat(`-A PREROUTING -p tcp ${hl} -j RETURN\n-A PREROUTING -p tcp ${hl} --hashlimit-burst 9`));
    expect(rs2.get('nat/PREROUTING/1')!.pinned).toBeUndefined();
  });

  test('after a conntrack flush no bucket is sure of its count (world-commands.ts conntrackDelete marks it)', () => {
    const rs = rules(nat('-A PREROUTING -p tcp -m limit --limit 1/sec --limit-burst 5 -j RETURN'));
    const r = rs.get('nat/PREROUTING/1')!;
    const st = newHostState();
    expect(run(r, {}, st)).toBe(true);
    st.tokens.set('*', Infinity);
    expect(run(r, {}, st)).toBe('unknown');
  });

  test("the kernels' credit arithmetic (HZ 250)", () => {
    // xt_limit 3/min burst 10: 640000 credits a packet, 6400000 in all
    expect(limitGuaranteed(200000, 10)).toBe(10);
    expect(limitGuaranteed(500, 5)).toBe(5);
    expect(limitGuaranteed(500, 0)).toBe(0);
    expect(hlGuaranteed(1000, 5)).toEqual({ packets: 5, overflow: false });
    // measured: 1/day with burst 1000000 is refused (ERANGE)
    expect(hlGuaranteed(86400 * 1_000_000, 1_000_000).overflow).toBe(true);
  });
});

describe('u32 reads what the model carries', () => {
  const r = (expr: string) => rules(`*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m u32 --u32 "${expr}"\nCOMMIT\n`);
  const u32 = (expr: string, p: Partial<Pkt> = {}) => run(r(expr).get('filter/INPUT/1')!, p);
  test('header fields: version and IHL, protocol, addresses, ports through the IHL', () => {
    expect(u32('0>>24=0x45')).toBe(true);
    expect(u32('6&0xFF=6')).toBe(true);
    expect(u32('6&0xFF=17')).toBe(false);
    expect(u32('12=0x0af4010b')).toBe(true);
    expect(u32('16=0x0a600064')).toBe(true);
    expect(u32('0>>22&0x3C@0>>16=40000')).toBe(true);
    expect(u32('0>>22&0x3C@0&0xFFFF=80')).toBe(true);
    expect(u32('0>>22&0x3C@0&0xFFFF=81:90')).toBe(false);
    // TCP flags through the header length: SYN
    expect(u32('0>>22&0x3C@12>>16&0x3F=2')).toBe(true);
    // no fragment: MF and the offset are 0
    expect(u32('4&0x3FFF=0')).toBe(true);
    // the TTL the packet carries (64 at its sender, one less per routed hop)
    expect(u32('8>>24=64')).toBe(true);
    expect(u32('8>>24=63', { ttl: 63 })).toBe(true);
    expect(u32('8>>24=64', { ttl: 63 })).toBe(false);
  });
  test('bytes the model does not carry are unknown: TOS, IP id, sequence numbers, the TCP header length', () => {
    expect(u32('0>>16&0xFF=0')).toBe('unknown');
    expect(u32('4>>16=0')).toBe('unknown');
    expect(u32('0>>22&0x3C@4=0')).toBe('unknown');
    expect(u32('0>>22&0x3C@12>>26&0x3C@0=0x47455420')).toBe('unknown');
    // a test that fails on known bits decides the whole match
    expect(u32('4>>16=0&&6&0xFF=17')).toBe(false);
    // beyond any packet
    expect(u32('65535=1')).toBe(false);
  });
  test('negation', () => {
    const rr = rules('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m u32 ! --u32 "6&0xFF=6"\nCOMMIT\n');
    expect(run(rr.get('filter/INPUT/1')!)).toBe(false);
  });
  test('ICMP: type and code, an echo identifier', () => {
    expect(u32('0>>22&0x3C@0>>24=8', { proto: 1, icmpType: 8, sport: 7 })).toBe(true);
    expect(u32('0>>22&0x3C@4>>16=7', { proto: 1, icmpType: 8, sport: 7 })).toBe(true);
  });
});

describe('string and time', () => {
  const one = (m: string) => run(rules(`*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ${m}\nCOMMIT\n`).get('filter/INPUT/1')!);
  test('string is never decided: the bytes it searches are not modelled', () => {
    expect(one('-m string --string GET --algo bm')).toBe('unknown');
  });
  test('time is decided only when it restricts nothing', () => {
    expect(one('-m time')).toBe(true);
    expect(one('-m time --weekdays Mon')).toBe('unknown');
    expect(one('-m time --timestart 08:00')).toBe('unknown');
  });
});

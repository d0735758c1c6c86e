// Every match and target of the descriptor table, evaluated on single packets.
import { describe, test, expect } from 'vitest';
import { parseSave } from '../../src/model/rules/restore.ts';
import { compileRule } from '../../src/model/eval/chains.ts';
import { MATCHERS, type MatchEnv } from '../../src/model/eval/matchers.ts';
import { EXTENSIONS } from '../../src/model/rules/descriptors.ts';
import { newHostState, type Pkt, TCP } from '../../src/model/eval/packet.ts';
import { parseIp } from '../../src/model/ip.ts';
import { unconfirmed, newCtTable } from '../../src/model/conntrack.ts';
import { labOf, obs, only } from '../helpers/model.ts';
import { synPkt, matchEnvOn } from '../helpers/packet.ts';
import { runProbe } from '../../src/model/probe.ts';
import { newWorld } from '../../src/model/lab-model.ts';

const ip = (s: string) => parseIp(s)!;

const pkt = synPkt;

const env = matchEnvOn;

/** Does `spec` (after "-A CHAIN") match the packet? */
function matches(
  spec: string,
  p: Partial<Pkt> = {},
  e: Partial<MatchEnv> = {},
  table = 'filter',
  chain = 'INPUT',
): boolean {
  const rs = parseSave(`*${table}\n-A ${chain} ${spec}\nCOMMIT\n`);
  const rule = rs.tables.get(table as 'filter')!.chains.get(chain)!.rules[0]!;
  return compileRule(rule)(pkt(p), env(e));
}

test('every match in the descriptor table has an evaluator', () => {
  for (const d of EXTENSIONS.filter((x) => x.type === 'match')) expect(MATCHERS[d.name], d.name).toBeTypeOf('function');
});

describe('rule-level matches', () => {
  test('-s / -d with CIDR and !', () => {
    expect(matches('-s 10.244.0.0/16 -j DROP')).toBe(true);
    expect(matches('! -s 10.244.0.0/16 -j DROP')).toBe(false);
    expect(matches('-d 10.96.0.100 -j DROP')).toBe(true);
    expect(matches('-d 10.96.0.101 -j DROP')).toBe(false);
  });
  test('-p by name and number, ! and all', () => {
    expect(matches('-p tcp -j DROP')).toBe(true);
    expect(matches('-p 17 -j DROP')).toBe(false);
    expect(matches('! -p udp -j DROP')).toBe(true);
    expect(matches('-p all -j DROP', { proto: 47 })).toBe(true);
  });
  test('-i / -o with the + wildcard', () => {
    expect(matches('-i cni+ -j DROP', {}, { inIf: 'cni0' }, 'filter', 'FORWARD')).toBe(true);
    expect(matches('-i veth+ -j DROP', {}, { inIf: 'cni0' }, 'filter', 'FORWARD')).toBe(false);
    expect(matches('! -o eth0 -j DROP', {}, { outIf: 'eth1' }, 'filter', 'FORWARD')).toBe(true);
  });
});

describe('match modules', () => {
  test('tcp/udp ports, ranges, !', () => {
    expect(matches('-p tcp --dport 80 -j DROP')).toBe(true);
    expect(matches('-p tcp --dport 81:90 -j DROP')).toBe(false);
    expect(matches('-p tcp ! --dport 81:90 -j DROP')).toBe(true);
    expect(matches('-p tcp --sport 40000: -j DROP')).toBe(true);
    expect(matches('-p udp --dport 53 -j DROP', { proto: 17, dport: 53 })).toBe(true);
  });
  test('--tcp-flags and --syn', () => {
    expect(matches('-p tcp --syn -j DROP')).toBe(true);
    expect(matches('-p tcp --syn -j DROP', { tcpFlags: TCP.SYN | TCP.ACK })).toBe(false);
    expect(matches('-p tcp ! --syn -j DROP', { tcpFlags: TCP.ACK })).toBe(true);
    expect(matches('-p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP', { tcpFlags: TCP.SYN | TCP.ACK })).toBe(true);
  });
  test('multiport', () => {
    expect(matches('-p tcp -m multiport --dports 22,80:90 -j DROP')).toBe(true);
    expect(matches('-p tcp -m multiport --sports 22,80:90 -j DROP')).toBe(false);
    expect(matches('-p tcp -m multiport --ports 40000 -j DROP')).toBe(true);
    expect(matches('-p tcp -m multiport ! --dports 80 -j DROP')).toBe(false);
  });
  test('icmp --icmp-type', () => {
    const echo = { proto: 1, icmpType: 8, icmpCode: 0 };
    expect(matches('-p icmp --icmp-type echo-request -j DROP', echo)).toBe(true);
    expect(matches('-p icmp --icmp-type 3/3 -j DROP', echo)).toBe(false);
    expect(matches('-p icmp --icmp-type port-unreachable -j DROP', { proto: 1, icmpType: 3, icmpCode: 3 })).toBe(true);
    expect(matches('-p icmp --icmp-type any -j DROP', echo)).toBe(true);
  });
  test('comment always matches', () => expect(matches('-m comment --comment "x y" -j DROP')).toBe(true));
  test('mark value/mask', () => {
    expect(matches('-m mark --mark 0x4000/0x4000 -j DROP', { mark: 0x4001 })).toBe(true);
    expect(matches('-m mark --mark 0x4000 -j DROP', { mark: 0x4001 })).toBe(false);
    expect(matches('-m mark ! --mark 0x4000/0x4000 -j DROP', { mark: 0 })).toBe(true);
  });
  test('conntrack and state', () => {
    const e = unconfirmed(newCtTable(), {
      proto: 6,
      src: ip('10.244.1.11'),
      sport: 40000,
      dst: ip('10.96.0.100'),
      dport: 80,
    });
    e.reply = { proto: 6, src: ip('10.244.1.12'), sport: 8080, dst: ip('10.244.1.11'), dport: 40000 };
    e.dstNat = true;
    const ct = { entry: e, dir: 'orig' as const, state: 'NEW' as const };
    expect(matches('-m conntrack --ctstate NEW -j DROP', {}, { ct })).toBe(true);
    expect(matches('-m conntrack --ctstate ESTABLISHED,RELATED -j DROP', {}, { ct })).toBe(false);
    expect(matches('-m conntrack --ctstate DNAT -j DROP', {}, { ct })).toBe(true);
    expect(matches('-m conntrack --ctstate INVALID -j DROP')).toBe(true);
    expect(matches('-m conntrack --ctstate UNTRACKED -j DROP', { notrack: true })).toBe(true);
    // no connection: conntrack_mt looks at --ctstate alone (and without it does not match)
    expect(matches('-m conntrack --ctstate INVALID --ctdir ORIGINAL -j DROP')).toBe(true);
    expect(matches('-m conntrack --ctstate UNTRACKED --ctorigsrc 10.0.0.1 -j DROP', { notrack: true })).toBe(true);
    expect(matches('-m conntrack --ctdir ORIGINAL -j DROP')).toBe(false);
    expect(matches('-m conntrack ! --ctorigsrc 10.0.0.1 -j DROP')).toBe(false);
    expect(matches('-m conntrack --ctstate NEW --ctdir ORIGINAL -j DROP')).toBe(false);
    expect(matches('-m conntrack --ctstate NEW --ctdir REPLY -j DROP', {}, { ct })).toBe(false);
    expect(matches('-m conntrack --ctorigdst 10.96.0.100 --ctorigdstport 80 -j DROP', {}, { ct })).toBe(true);
    expect(matches('-m conntrack --ctreplsrc 10.244.1.12 -j DROP', {}, { ct })).toBe(true);
    expect(matches('-m conntrack ! --ctorigdst 10.96.0.0/12 -j DROP', {}, { ct })).toBe(false);
    expect(matches('-m state --state NEW -j DROP', {}, { ct })).toBe(true);
  });
  test('addrtype with and without --limit-iface-in', () => {
    expect(matches('-m addrtype --dst-type LOCAL -j DROP', { dst: ip('192.168.50.10') })).toBe(true);
    expect(matches('-m addrtype --dst-type LOCAL -j DROP')).toBe(false);
    expect(matches('-m addrtype --dst-type UNICAST -j DROP')).toBe(true);
    expect(matches('-m addrtype --dst-type BROADCAST -j DROP', { dst: ip('10.244.1.255') })).toBe(true);
    // 192.168.50.10 is local, but not on cni0
    expect(
      matches(
        '-m addrtype --dst-type LOCAL --limit-iface-in -j RETURN',
        { dst: ip('192.168.50.10') },
        { inIf: 'cni0' },
        'nat',
        'PREROUTING',
      ),
    ).toBe(false);
    expect(
      matches(
        '-m addrtype --dst-type LOCAL --limit-iface-in -j RETURN',
        { dst: ip('10.244.1.1') },
        { inIf: 'cni0' },
        'nat',
        'PREROUTING',
      ),
    ).toBe(true);
  });
  test('statistic random asks for a branch with the exact probability', () => {
    const asked: number[] = [];
    matches('-m statistic --mode random --probability 0.25 -j DROP', {}, { choose: (p) => (asked.push(p), true) });
    expect(asked).toEqual([0.25]);
  });
  test('statistic nth matches every n-th packet from --packet', () => {
    const rs = parseSave('*filter\n-A INPUT -m statistic --mode nth --every 3 --packet 0 -j DROP\nCOMMIT\n');
    const t = compileRule(rs.tables.get('filter')!.chains.get('INPUT')!.rules[0]!);
    const e = env();
    // packets 0, 3, ... counted from 0: the first matches (measured: suites/regressions/statistic-nth-*)
    expect([1, 2, 3, 4, 5, 6].map(() => t(pkt(), e))).toEqual([true, false, false, true, false, false]);
  });
  test('recent: --set, --rcheck, --update with --seconds, --remove, --rdest', () => {
    const state = newHostState();
    const at = (now: number) => ({ state, now });
    expect(matches('-m recent --name L --rcheck -j DROP', {}, at(0))).toBe(false);
    expect(matches('-m recent --name L --set -j DROP', {}, at(0))).toBe(true);
    expect(matches('-m recent --name L --rcheck --seconds 10 -j DROP', {}, at(5))).toBe(true);
    expect(matches('-m recent --name L --rcheck --seconds 10 -j DROP', {}, at(11))).toBe(false);
    expect(matches('-m recent --name L --update --seconds 10 -j DROP', {}, at(5))).toBe(true);
    expect(matches('-m recent --name L --rcheck --seconds 10 -j DROP', {}, at(14))).toBe(true);
    expect(matches('-m recent --name L --rcheck --rdest -j DROP', {}, at(14))).toBe(false);
    expect(matches('-m recent --name L --remove -j DROP', {}, at(14))).toBe(true);
    expect(matches('-m recent --name L --rcheck -j DROP', {}, at(14))).toBe(false);
  });
  test('recent --rttl: the TTL before forwarding against the stored one (suites/regressions/recent-rttl-*)', () => {
    const state = newHostState();
    const fwd = { state, hook: 'FORWARD' as const, outIf: 'cni0' };
    const check = '-m recent --name L --rcheck --rttl -j DROP';
    // set in INPUT at 64; a routed packet arrives at FORWARD with 63 and compares as 64
    expect(matches('-m recent --name L --set -j DROP', { ttl: 64 }, { state })).toBe(true);
    expect(matches(check, { ttl: 63 }, fwd)).toBe(true);
    // a bridged frame kept 64: it compares as 65; without --rttl the entry is found
    expect(matches(check, { ttl: 64 }, fwd)).toBe(false);
    expect(matches('-m recent --name L --rcheck -j DROP', { ttl: 64 }, fwd)).toBe(true);
    // a socket of this namespace: no correction in OUTPUT; none (REJECT's reset): one more
    const out = { state, hook: 'OUTPUT' as const, outIf: 'eth0' };
    const sock = { host: 'node', kind: 'kernel' as const };
    expect(matches(check, { ttl: 64, sock }, out)).toBe(true);
    expect(matches(check, { ttl: 64 }, out)).toBe(false);
    // an --update without --rttl that matches stores the packet's TTL
    expect(matches('-m recent --name L --update -j DROP', { ttl: 64 }, fwd)).toBe(true);
    expect(matches(check, { ttl: 64 }, fwd)).toBe(true);
    expect(matches(check, { ttl: 63 }, fwd)).toBe(false);
  });
});

describe('targets, through the packet path', () => {
  const filter = (rules: string) =>
    `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules}\nCOMMIT\n`;
  const nat = (rules: string) =>
    `*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING` +
    ` ACCEPT [0:0]\n${rules}\nCOMMIT\n`;
  const toPod1 = { from: 'client', proto: 'tcp' as const, dst: '10.244.1.11', dport: 8080 };

  test('ACCEPT, DROP and the policy', () => {
    expect(obs(labOf({ node: filter('-A FORWARD -j ACCEPT') }), toPod1).outcome).toBe('delivered');
    const d = obs(labOf({ node: filter('-A FORWARD -s 192.168.50.20 -j DROP') }), toPod1);
    expect(d.outcome).toBe('dropped');
    expect(d.droppedAt).toMatchObject({ host: 'node', hook: 'FORWARD', table: 'filter', chain: 'FORWARD', rule: 1 });
    const p = obs(labOf({ node: filter('-P FORWARD DROP') }), toPod1);
    expect(p.droppedAt).toMatchObject({ chain: 'FORWARD', rule: 'policy' });
  });
  test('RETURN, jump and goto', () => {
    const rules =
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:A - [0:0]\n:B' +
      ' - [0:0]\n-A FORWARD -j A\n-A FORWARD -j DROP\n-A A -g B\n-A A -j DROP\n-A B -j' +
      ' RETURN\nCOMMIT\n';
    // goto B then RETURN from B returns to FORWARD (not to A), where the next rule drops
    const o = obs(labOf({ node: rules }), toPod1);
    expect(o.droppedAt).toMatchObject({ chain: 'FORWARD', rule: 2 });
  });
  test('REJECT variants reach the client as refused or icmp-error', () => {
    expect(obs(labOf({ node: filter('-A FORWARD -j REJECT') }), toPod1)).toMatchObject({
      outcome: 'refused',
      icmp: 'port-unreachable',
    });
    expect(obs(labOf({ node: filter('-A FORWARD -p tcp -j REJECT --reject-with tcp-reset') }), toPod1)).toMatchObject({
      outcome: 'refused',
      icmp: null,
    });
    expect(
      obs(labOf({ node: filter('-A FORWARD -j REJECT --reject-with icmp-host-prohibited') }), toPod1),
    ).toMatchObject({ outcome: 'icmp-error', icmp: 'host-prohibited' });
    expect(
      obs(labOf({ node: filter('-A FORWARD -j REJECT --reject-with icmp-net-unreachable') }), toPod1),
    ).toMatchObject({ outcome: 'icmp-error', icmp: 'net-unreachable' });
  });
  test('LOG, NFLOG and TRACE do not decide', () => {
    expect(
      obs(labOf({ node: filter('-A FORWARD -j LOG\n-A FORWARD -j NFLOG\n-A FORWARD -j DROP') }), toPod1).outcome,
    ).toBe('dropped');
  });
  test('MARK and CONNMARK', () => {
    const o = obs(
      labOf({
        node:
          `*mangle\n-A PREROUTING -j MARK --set-mark 0x7\n-A PREROUTING -j CONNMARK` +
          ` --save-mark\nCOMMIT\n${filter('-A FORWARD -m mark --mark 0x7 -j DROP')}`,
      }),
      toPod1,
    );
    expect(o.droppedAt).toMatchObject({ table: 'filter', rule: 1 });
    const x = obs(
      labOf({
        node:
          `*mangle\n-A PREROUTING -j MARK --or-mark 0x10\n-A PREROUTING -j MARK --and-mark 0x10\n-A` +
          ` PREROUTING -j MARK --xor-mark` +
          ` 0x1\nCOMMIT\n${filter('-A FORWARD -m mark --mark 0x11 -j DROP')}`,
      }),
      toPod1,
    );
    expect(x.outcome).toBe('dropped');
  });
  test('DNAT with a port, SNAT, MASQUERADE (address of the outgoing interface) and REDIRECT', () => {
    const d = obs(labOf({ node: nat('-A PREROUTING -d 10.96.0.1 -p tcp -j DNAT --to-destination 10.244.1.12:8080') }), {
      from: 'client',
      proto: 'tcp',
      dst: '10.96.0.1',
      dport: 80,
    });
    expect(d).toMatchObject({
      outcome: 'delivered',
      responder: 'pod2',
      seen: { src: '192.168.50.20:40000', dst: '10.244.1.12:8080' },
    });
    const s = obs(labOf({ node: nat('-A POSTROUTING -s 192.168.50.20 -j SNAT --to-source 10.0.2.10') }), toPod1);
    expect(s.seen).toEqual({ src: '10.0.2.10:40000', dst: '10.244.1.11:8080' });
    const m = obs(labOf({ node: nat('-A POSTROUTING -s 192.168.50.20 -j MASQUERADE') }), toPod1);
    expect(m.seen).toEqual({ src: '10.244.1.1:40000', dst: '10.244.1.11:8080' });
    const mr = obs(labOf({ node: nat('-A POSTROUTING -s 192.168.50.20 -j MASQUERADE --random-fully') }), toPod1);
    expect(mr.seen).toEqual({ src: '10.244.1.1:1024-65535', dst: '10.244.1.11:8080' });
    const r = obs(labOf({ node: nat('-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 9090') }), {
      from: 'client',
      proto: 'tcp',
      dst: '10.244.1.11',
      dport: 80,
    });
    expect(r).toMatchObject({ outcome: 'delivered', responder: 'node', seen: { dst: '192.168.50.10:9090' } });
  });
  test('NOTRACK and CT --notrack leave the packet untracked: no NAT, state UNTRACKED', () => {
    for (const t of ['NOTRACK', 'CT --notrack']) {
      const text =
        `*raw\n-A PREROUTING -d 10.96.0.1 -j` +
        ` ${t}\nCOMMIT\n${nat('-A PREROUTING -d 10.96.0.1 -p tcp -j DNAT --to-destination 10.244.1.12:8080')}`;
      const o = obs(labOf({ node: text }), { from: 'client', proto: 'tcp', dst: '10.96.0.1', dport: 80 });
      expect(o.outcome).toBe('dropped');
      expect(o.conntrack.node).toEqual([]);
    }
  });
  test('the nat table is consulted only for the first packet of a connection', () => {
    const lab = labOf({ node: nat('-A PREROUTING -d 10.96.0.1 -p tcp -j DNAT --to-destination 10.244.1.12:8080') });
    const run = only(lab, { from: 'client', proto: 'tcp', dst: '10.96.0.1', dport: 80 });
    const natRules = run.trace.filter(
      (e) => e.kind === 'rule' && e.table === 'nat' && e.host === 'node' && e.rule !== 'policy',
    );
    expect(natRules).toHaveLength(1);
    expect(run.observation.outcome).toBe('delivered');
  });
});

describe('regressions found by the kernel', () => {
  const dnat = '*nat\n-A PREROUTING -d 10.96.0.1/32 -p tcp -j DNAT --to-destination 10.244.1.12:8080\nCOMMIT\n';
  test('conntrack is inactive with an empty nat table, active once a rule needs it (seed suite C18)', () => {
    const empty = obs(labOf({ node: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n' }), {
      from: 'pod2',
      proto: 'tcp',
      dst: '10.244.1.11',
      dport: 8080,
    });
    expect(empty.conntrack).toEqual({});
    const used = obs(labOf({ node: dnat }), { from: 'pod2', proto: 'tcp', dst: '10.244.1.11', dport: 8080 });
    expect(used.conntrack.node).toHaveLength(1);
  });
  test('a connection whose first reply is a RST is deleted (seed suite C16)', () => {
    const o = obs(labOf({ node: dnat }), { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 7777 });
    expect(o.outcome).toBe('refused');
    expect(o.conntrack.node).toEqual([]);
  });
});

describe('NAT port allocation', () => {
  test('SNAT keeps the source port when it is free, and picks another from 1024-65535 when it clashes', () => {
    const lab = labOf({
      node: '*nat\n-A POSTROUTING -s 10.244.1.0/24 -o eth0 -j SNAT --to-source 192.168.50.10\nCOMMIT\n',
    });
    const first = runProbe(lab, newWorld(lab), {
      from: 'pod1',
      proto: 'udp',
      dst: '192.168.50.20',
      dport: 8080,
      sport: 40000,
    });
    expect(first[0]!.value.observation.seen?.src).toBe('192.168.50.10:40000');
    // pod2 with the same source port toward the same server: the reply tuple would clash
    const second = runProbe(lab, first[0]!.value.world, {
      from: 'pod2',
      proto: 'udp',
      dst: '192.168.50.20',
      dport: 8080,
      sport: 40000,
    });
    expect(second[0]!.value.observation.seen?.src).toBe('192.168.50.10:1024-65535');
  });
});

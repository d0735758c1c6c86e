// The modules of spec/modules.md read and printed as iptables 1.8.9 does. Every expectation below was
// measured with real iptables-restore + iptables-save on both flavors in `unshare -n` (ipsets `allowed`
// hash:ip and `blocked` hash:net,port present); the kernel project's parser property re-checks them.
import { describe, test, expect } from 'vitest';
import { parseSave } from '../../src/model/rules/restore.ts';
import { printRuleSpec } from '../../src/model/rules/print.ts';
import { InputError } from '../../src/model/errors.ts';
import { targetAction } from '../../src/model/eval/targets.ts';
import type { IptablesFlavor, TableName } from '../../src/model/rules/types.ts';

function lint(table: TableName, chain: string, spec: string, backend: IptablesFlavor): string[] | InputError {
  try {
    const rs = parseSave(`*${table}\n:U - [0:0]\n-A ${chain} ${spec}\nCOMMIT\n`, { file: 'r', backend });
    return rs.tables.get(table)!.chains.get(chain)!.rules.map(printRuleSpec);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
}

// [table, chain, input, what iptables-save prints (both flavors)]
const PRINTED: readonly (readonly [TableName, string, string, string])[] = [
  ['filter', 'OUTPUT', '-m owner --uid-owner 0 -j ACCEPT', '-m owner --uid-owner 0 -j ACCEPT'],
  [
    'filter',
    'OUTPUT',
    '-m owner ! --uid-owner 1000-2000 --gid-owner 5 --socket-exists -j ACCEPT',
    '-m owner --socket-exists ! --uid-owner 1000-2000 --gid-owner 5 -j ACCEPT',
  ],
  [
    'filter',
    'OUTPUT',
    '-m owner --uid-owner root --gid-owner 0 --suppl-groups -j ACCEPT',
    '-m owner --uid-owner 0 --gid-owner 0 --suppl-groups -j ACCEPT',
  ],
  [
    'filter',
    'OUTPUT',
    '-m owner --uid-owner nobody --gid-owner nogroup -j ACCEPT',
    '-m owner --uid-owner 65534 --gid-owner 65534 -j ACCEPT',
  ],
  ['filter', 'OUTPUT', '-m owner --uid-owner daemon -j ACCEPT', '-m owner --uid-owner 1 -j ACCEPT'],
  ['filter', 'OUTPUT', '-m owner --uid-owner 0:5 -j ACCEPT', '-m owner --uid-owner 0-5 -j ACCEPT'],
  ['filter', 'OUTPUT', '-m owner --uid-owner 0x10 -j ACCEPT', '-m owner --uid-owner 16 -j ACCEPT'],
  ['filter', 'OUTPUT', '-m owner ! --socket-exists -j ACCEPT', '-m owner ! --socket-exists -j ACCEPT'],
  ['filter', 'INPUT', '-m set --match-set allowed src -j DROP', '-m set --match-set allowed src -j DROP'],
  ['filter', 'INPUT', '-m set --set allowed src -j DROP', '-m set --match-set allowed src -j DROP'],
  [
    'filter',
    'INPUT',
    '-m set ! --match-set blocked src,dst --return-nomatch ! --update-counters ! --update-subcounters -j DROP',
    '-m set ! --match-set blocked src,dst --return-nomatch ! --update-counters ! --update-subcounters -j DROP',
  ],
  [
    'filter',
    'INPUT',
    '-m set --match-set allowed src --return-nomatch --update-counters --update-subcounters -j DROP',
    '-m set --match-set allowed src --return-nomatch -j DROP',
  ],
  [
    'filter',
    'INPUT',
    '-m set --match-set allowed src,dst,src -j DROP',
    '-m set --match-set allowed src,dst,src -j DROP',
  ],
  [
    'filter',
    'INPUT',
    '-m set --match-set allowed src -m set --match-set blocked dst -j DROP',
    '-m set --match-set allowed src -m set --match-set blocked dst -j DROP',
  ],
  [
    'filter',
    'INPUT',
    '-m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 1.2.3.4-1.2.3.4 -j ACCEPT',
    '-m iprange --src-range 10.0.0.1-10.0.0.9 ! --dst-range 1.2.3.4-1.2.3.4 -j ACCEPT',
  ],
  [
    'filter',
    'INPUT',
    '-m iprange --src-range 10.0.0.1 -j ACCEPT',
    '-m iprange --src-range 10.0.0.1-10.0.0.1 -j ACCEPT',
  ],
  [
    'filter',
    'INPUT',
    '-m iprange --dst-range 10.0.0.9-10.0.0.1 -j ACCEPT',
    '-m iprange --dst-range 10.0.0.9-10.0.0.1 -j ACCEPT',
  ],
  ['filter', 'INPUT', '-m connmark --mark 0x1/0xff -j ACCEPT', '-m connmark --mark 0x1/0xff -j ACCEPT'],
  ['filter', 'INPUT', '-m connmark ! --mark 5 -j ACCEPT', '-m connmark ! --mark 0x5 -j ACCEPT'],
  ['filter', 'INPUT', '-m connmark --mark 0xffffffff/0xffffffff -j ACCEPT', '-m connmark --mark 0xffffffff -j ACCEPT'],
  ['filter', 'INPUT', '-m pkttype --pkt-type unicast -j ACCEPT', '-m pkttype --pkt-type unicast -j ACCEPT'],
  ['filter', 'INPUT', '-m pkttype ! --pkt-type BROADCAST -j ACCEPT', '-m pkttype ! --pkt-type broadcast -j ACCEPT'],
  ['filter', 'INPUT', '-m pkttype --pkt-type host -j ACCEPT', '-m pkttype --pkt-type unicast -j ACCEPT'],
  ['filter', 'INPUT', '-m pkttype --pkt-type otherhost -j ACCEPT', '-m pkttype --pkt-type otherhost -j ACCEPT'],
  ['filter', 'INPUT', '-s 1.2.3.4 -p udp -f -i eth0 -j DROP', '-s 1.2.3.4/32 -i eth0 -p udp -f -j DROP'],
  ['filter', 'INPUT', '! -f -j DROP', '! -f -j DROP'],
  [
    'filter',
    'INPUT',
    '-m physdev --physdev-in veth1 ! --physdev-out eth+ --physdev-is-bridged -j ACCEPT',
    '-m physdev --physdev-in veth1 ! --physdev-out eth+ --physdev-is-bridged -j ACCEPT',
  ],
  [
    'filter',
    'INPUT',
    '-m physdev ! --physdev-in eth0 ! --physdev-is-in -j DROP',
    '-m physdev ! --physdev-is-in ! --physdev-in eth0 -j DROP',
  ],
  ['filter', 'INPUT', '-m physdev --physdev-is-out -j ACCEPT', '-m physdev --physdev-is-out -j ACCEPT'],
  ['filter', 'OUTPUT', '-m physdev --physdev-in veth0 -j ACCEPT', '-m physdev --physdev-in veth0 -j ACCEPT'],
  ['filter', 'INPUT', '-j NFQUEUE', '-j NFQUEUE --queue-num 0'],
  ['filter', 'INPUT', '-j NFQUEUE --queue-bypass', '-j NFQUEUE --queue-num 0 --queue-bypass'],
  ['filter', 'INPUT', '-j NFQUEUE --queue-num 3 --queue-bypass', '-j NFQUEUE --queue-num 3 --queue-bypass'],
  [
    'filter',
    'INPUT',
    '-j NFQUEUE --queue-balance 2:5 --queue-bypass --queue-cpu-fanout',
    '-j NFQUEUE --queue-balance 2:5 --queue-bypass --queue-cpu-fanout',
  ],
  ['filter', 'INPUT', '-j NFQUEUE --queue-num 65535', '-j NFQUEUE --queue-num 65535'],
  [
    'mangle',
    'FORWARD',
    '-p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
    '-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
  [
    'mangle',
    'POSTROUTING',
    '-p tcp --syn -j TCPMSS --clamp-mss-to-pmtu',
    '-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
  [
    'mangle',
    'PREROUTING',
    '-p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400',
    '-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400',
  ],
  [
    'mangle',
    'POSTROUTING',
    '-p udp --dport 68 -j CHECKSUM --checksum-fill',
    '-p udp -m udp --dport 68 -j CHECKSUM --checksum-fill',
  ],
  [
    'mangle',
    'PREROUTING',
    '-p tcp -j TPROXY --on-port 1234',
    '-p tcp -j TPROXY --on-port 1234 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0',
  ],
  [
    'mangle',
    'PREROUTING',
    '-p tcp -j TPROXY --on-port 1234 --on-ip 10.0.0.1 --tproxy-mark 0x1/0x1',
    '-p tcp -j TPROXY --on-port 1234 --on-ip 10.0.0.1 --tproxy-mark 0x1/0x1',
  ],
  [
    'mangle',
    'PREROUTING',
    '-p udp -j TPROXY --on-port 1234 --tproxy-mark 5',
    '-p udp -j TPROXY --on-port 1234 --on-ip 0.0.0.0 --tproxy-mark 0x5/0xffffffff',
  ],
  ['raw', 'PREROUTING', '-p tcp --dport 21 -j CT --helper ftp', '-p tcp -m tcp --dport 21 -j CT --helper ftp'],
  ['raw', 'PREROUTING', '-p udp -j CT --helper sip', '-p udp -j CT --helper sip'],
  ['raw', 'PREROUTING', '-j CT --notrack --helper ftp', '-j CT --notrack --helper ftp'],
  ['raw', 'PREROUTING', '-j CT --notrack --zone 1', '-j CT --notrack --zone 1'],
  ['raw', 'PREROUTING', '-j CT --zone 0', '-j CT'],
  ['raw', 'PREROUTING', '-j CT', '-j CT'],
  ['raw', 'PREROUTING', '-j CT --zone 0x10', '-j CT --zone 16'],
  ['raw', 'PREROUTING', '-p tcp -j CT --zone mark --zone-reply 58167', '-p tcp -j CT --zone-reply mark'],
  [
    'filter',
    'OUTPUT',
    '-p tcp --syn -j TCPMSS --set-mss 7277 --clamp-mss-to-pmtu',
    '-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
  ['raw', 'PREROUTING', '-j CT --zone-orig mark', '-j CT --zone-orig mark'],
  ['filter', 'INPUT', '-m iprange --src-range 1.2.3 -j DROP', '-m iprange --src-range 1.2.3.0-1.2.3.0 -j DROP'],
  [
    'mangle',
    'PREROUTING',
    '-p tcp -j TPROXY --on-port 010 --on-ip 1.2.3',
    '-p tcp -j TPROXY --on-port 10 --on-ip 1.2.0.3 --tproxy-mark 0x0/0x0',
  ],
  [
    'filter',
    'OUTPUT',
    '-j LOG --log-uid --log-macdecode --log-ip-options --log-tcp-options --log-tcp-sequence' +
      ' --log-level 7 --log-prefix "x y"',
    '-j LOG --log-prefix "x y" --log-level 7 --log-tcp-sequence --log-tcp-options' +
      ' --log-ip-options --log-uid --log-macdecode',
  ],
  ['filter', 'OUTPUT', '-j LOG --log-level debug', '-j LOG --log-level 7'],
];

// [table, chain, input, flavors that refuse it]
const REFUSED: readonly (readonly [TableName, string, string, readonly IptablesFlavor[]])[] = [
  ['filter', 'OUTPUT', '-m owner -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'OUTPUT', '-m owner --suppl-groups --gid-owner 0 -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'OUTPUT', '-m owner --gid-owner 0 ! --suppl-groups -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'OUTPUT', '-m owner --uid-owner 4294967295 -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'OUTPUT', '-m owner --uid-owner 5-3 -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m owner --uid-owner 0 -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m set --match-set allowed src ! --return-nomatch -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m set --match-set allowed src,dst,dst,dst,dst,dst,dst -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m set --match-set allowed src --match-set blocked dst -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m set --match-set allowed SRC -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m set -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m iprange -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m iprange --src-range 1.2.3/24 -j DROP', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m connmark -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m pkttype --pkt-type multi -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m pkttype --pkt-type loopback -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m pkttype -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m physdev -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'OUTPUT', '-m physdev --physdev-out veth0 -j ACCEPT', ['nft', 'legacy']],
  ['filter', 'INPUT', '-j NFQUEUE --queue-balance 2:5 --fail-open', ['nft', 'legacy']],
  ['filter', 'INPUT', '-j NFQUEUE --queue-balance 5:2', ['nft', 'legacy']],
  ['filter', 'INPUT', '-j NFQUEUE --queue-balance 5:5', ['nft', 'legacy']],
  ['filter', 'INPUT', '-j NFQUEUE --queue-num 65536', ['nft', 'legacy']],
  ['filter', 'INPUT', '-j NFQUEUE --queue-num 1 --queue-balance 2:3', ['nft', 'legacy']],
  ['filter', 'INPUT', '-j NFQUEUE --queue-cpu-fanout', ['nft', 'legacy']],
  ['mangle', 'FORWARD', '-p tcp -j TCPMSS --set-mss 1400', ['legacy']],
  ['mangle', 'FORWARD', '-j TCPMSS --set-mss 1400', ['nft', 'legacy']],
  ['mangle', 'PREROUTING', '-p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu', ['nft', 'legacy']],
  ['mangle', 'FORWARD', '-p tcp --tcp-flags SYN,RST SYN -j TCPMSS', ['nft', 'legacy']],
  ['mangle', 'POSTROUTING', '-j CHECKSUM', ['nft', 'legacy']],
  ['mangle', 'PREROUTING', '-j TPROXY --on-port 1234', ['nft', 'legacy']],
  ['mangle', 'PREROUTING', '-p tcp -j TPROXY --on-ip 1.2.3.4', ['nft', 'legacy']],
  ['filter', 'INPUT', '-m iprange --src-range 1.2.3.4.5 -j DROP', ['nft', 'legacy']],
  ['raw', 'PREROUTING', '-p tcp --dport 21 -j CT --helper nosuch', ['nft', 'legacy']],
  ['raw', 'PREROUTING', '-j CT --helper ftp', ['nft', 'legacy']],
  ['raw', 'PREROUTING', '-p udp -j CT --helper ftp', ['nft', 'legacy']],
  ['raw', 'PREROUTING', '! -p tcp -j CT --helper ftp', ['nft', 'legacy']],
];

describe.each(['nft', 'legacy'] as const)('modules on iptables-%s', (backend) => {
  test.each(PRINTED)('%s %s %s', (table, chain, input, printed) => {
    expect(lint(table, chain, input, backend)).toEqual([printed]);
  });
  test.each(REFUSED)('%s %s %s is refused', (table, chain, input, by) => {
    const r = lint(table, chain, input, backend);
    if (by.includes(backend)) expect(r).toBeInstanceOf(InputError);
    else expect(r).toBeInstanceOf(Array);
  });
});

test('owner and its hook limit hold through a user chain on both flavors (xt_match.hooks)', () => {
  for (const backend of ['nft', 'legacy'] as const) {
    const text = '*filter\n:U - [0:0]\n-A INPUT -j U\n-A U -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n';
    expect(() => parseSave(text, { backend })).toThrow(/owner is not allowed in filter INPUT/);
  }
});

test(
  'physdev --physdev-out in a user chain reached from OUTPUT: iptables-nft loads it,' + ' iptables-legacy refuses',
  () => {
    const text = '*filter\n:U - [0:0]\n-A OUTPUT -j U\n-A U -m physdev --physdev-out eth0 -j ACCEPT\nCOMMIT\n';
    expect(() => parseSave(text, { backend: 'nft' })).not.toThrow();
    expect(() => parseSave(text, { backend: 'legacy' })).toThrow(/physdev-out/);
  },
);

test('CT zones print as iptables-save prints them; the fate of a packet after one is unknown, not guessed', () => {
  expect(lint('raw', 'PREROUTING', '-j CT --zone 1 --zone-orig 2', 'nft')).toEqual(['-j CT --zone-orig 2']);
  expect(lint('raw', 'PREROUTING', '-j CT --zone-orig 1 --zone-reply 2', 'nft')).toEqual(['-j CT --zone 2']);
  expect(lint('raw', 'PREROUTING', '-j CT --zone-reply 1', 'legacy')).toEqual(['-j CT --zone-reply 1']);
  expect(lint('raw', 'PREROUTING', '-j CT --zone mark', 'legacy')).toEqual(['-j CT --zone mark']);
  const rs = parseSave('*raw\n-A PREROUTING -j CT --zone 1\nCOMMIT\n');
  const rule = rs.tables.get('raw')!.chains.get('PREROUTING')!.rules[0]!;
  const action = targetAction((rule.target as { kind: 'ext'; ext: Parameters<typeof targetAction>[0] }).ext);
  expect(action.kind).toBe('unknown');
});

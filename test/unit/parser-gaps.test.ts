// Parser gaps found against real iptables 1.8.9; every expectation here was measured with
// iptables-legacy-restore + iptables-legacy-save in an `unshare -n` namespace (and agrees on nft
// unless said otherwise). The property test test/kernel/parser-iptables.test.ts keeps judging the rest.
import { describe, test, expect } from 'vitest';
import { parseRuleset, parseSave } from '../../src/model/rules/restore.ts';
import { printRuleSpec } from '../../src/model/rules/print.ts';
import { InputError } from '../../src/model/errors.ts';
import type { IptablesFlavor, TableName } from '../../src/model/rules/types.ts';

function rules(spec: string, table: TableName = 'filter', backend: IptablesFlavor = 'legacy'): string[] {
  const rs = parseSave(`*${table}\n:X - [0:0]\n-A X ${spec}\nCOMMIT\n`, { file: 'r', backend });
  return rs.tables.get(table)!.chains.get('X')!.rules.map(printRuleSpec);
}
function refused(spec: string, table: TableName = 'filter', backend: IptablesFlavor = 'legacy'): InputError {
  try {
    rules(spec, table, backend);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error(`expected "${spec}" to be refused`);
}

describe('what iptables accepts', () => {
  test.each([
    // getopt_long: any unambiguous prefix of a long option known at that point
    ['-p tcp -j REDIRECT --to-port 8080', 'nat', '-p tcp -j REDIRECT --to-ports 8080'],
    ['-p tcp --dp 80 --sp=1024:', 'filter', '-p tcp -m tcp --sport 1024:65535 --dport 80'],
    ['--sou 10.0.0.1 --proto udp', 'filter', '-s 10.0.0.1/32 -p udp'],
    // service names, NAT ports included (a service name only as a single port)
    ['-p tcp -j REDIRECT --to-ports ftp-data', 'nat', '-p tcp -j REDIRECT --to-ports 20'],
    ['-p tcp --dport ssh:http', 'filter', '-p tcp -m tcp --dport 22:80'],
    ['-p tcp -m multiport --dports domain,https', 'filter', '-p tcp -m multiport --dports 53,443'],
    // protocol database: names and numbers print as iptables prints them
    ['-p 108', 'filter', '-p ipcomp'],
    ['-p IPCOMP', 'filter', '-p ipcomp'],
    ['-p 200', 'filter', '-p 200'],
    ['-p 58', 'filter', '-p ipv6-icmp'],
    // netmasks with holes, numeric shorthands
    ['-s 10.0.0.0/255.0.255.0', 'filter', '-s 10.0.0.0/255.0.255.0'],
    ['-d 10.1/16', 'filter', '-d 10.1.0.0/16'],
    ['-s 10.0.0.7/0', 'filter', ''],
    // ICMP codes: ranges read, only the low code printed (libipt_icmp.c icmp_save)
    ['-p icmp --icmp-type 3/1:4', 'filter', '-p icmp -m icmp --icmp-type 3/1'],
    ['-p icmp --icmp-type echo-req', 'filter', '-p icmp -m icmp --icmp-type 8'],
    // udp keeps a reversed range (it then matches nothing); tcp refuses it
    ['-p udp --dport 100:50', 'filter', '-p udp -m udp --dport 100:50'],
    // counters in both forms; iptables-save without -c does not print them
    ['-c 5 6 -j ACCEPT', 'filter', '-j ACCEPT'],
    ['-c 5,6 -j ACCEPT', 'filter', '-j ACCEPT'],
    // statistic: "! --every" inverts the match
    ['-m statistic --mode nth ! --every 3 --packet 0', 'filter', '-m statistic --mode nth ! --every 3 --packet 0'],
    [
      '-m recent --rcheck --rttl',
      'filter',
      '-m recent --rcheck --rttl --name DEFAULT --mask 255.255.255.255 --rsource',
    ],
    // MARK/CONNMARK --set-mark V/M stores V/(V|M)
    ['-j MARK --set-mark 0x1/0xf0', 'mangle', '-j MARK --set-xmark 0x1/0xf1'],
    // LOG/NFLOG options that only shape the log record
    ['-j LOG --log-uid --log-level info', 'filter', '-j LOG --log-level 6 --log-uid'],
    ['-j NFLOG --nflog-group 5 --nflog-size 100', 'filter', '-j NFLOG --nflog-group 5 --nflog-size 100'],
  ] as const)('%s', (spec, table, want) => {
    expect(rules(spec, table)).toEqual([want]);
  });

  test('comma-separated addresses: one rule per source x destination, in that order', () => {
    expect(rules('-s 10.0.0.1,10.0.0.2 -d 1.1.1.1,2.2.2.2 -j ACCEPT')).toEqual([
      '-s 10.0.0.1/32 -d 1.1.1.1/32 -j ACCEPT',
      '-s 10.0.0.1/32 -d 2.2.2.2/32 -j ACCEPT',
      '-s 10.0.0.2/32 -d 1.1.1.1/32 -j ACCEPT',
      '-s 10.0.0.2/32 -d 2.2.2.2/32 -j ACCEPT',
    ]);
  });

  test('a protocol number above 255: legacy keeps it (it matches nothing), nft keeps its low 8 bits', () => {
    expect(rules('-p mptcp', 'filter', 'legacy')).toEqual(['-p mptcp']);
    expect(rules('-p mptcp', 'filter', 'nft')).toEqual(['-p tcp']);
  });

  test('iptables-nft writes "! --dport 0:N" back as "--dport N+1:65535"', () => {
    expect(rules('-p tcp ! --dport 0:1649', 'filter', 'nft')).toEqual(['-p tcp -m tcp --dport 1650:65535']);
    expect(rules('-p tcp ! --dport 0:1649', 'filter', 'legacy')).toEqual(['-p tcp -m tcp ! --dport 0:1649']);
  });
});

describe('what iptables refuses, and why', () => {
  test.each([
    ['-p tcp -j REDIRECT --to-ports 10-ssh', 'nat', "Port `ssh' not valid"],
    ['-p tcp --dport 100:50', 'filter', 'invalid portrange (min > max)'],
    ['-m statistic --mode nth --every 3', 'filter', '"--every" also requires "--packet"'],
    ['-m recent --set --rttl', 'filter', '"--rttl" cannot be used together with "--set"'],
    ['-j NFLOG --nflog-group 65536', 'filter', 'out of range (0-65535)'],
    ['! -p 0', 'filter', 'rule would never match protocol'],
    ['-p tcp --to-port 80', 'filter', 'unknown option "--to-port"'],
    ['-p tcp --tcp- 80', 'filter', 'ambiguous'],
    ['-s 10.0.0.1,10.0.0.2 ! -d 1.1.1.1', 'filter', '! not allowed with multiple'],
    ['-c 5 -j ACCEPT', 'filter', 'requires packet and byte counter'],
    ['-p tcp --syn --tcp-flags SYN SYN', 'filter', '--tcp-flags'],
  ] as const)('%s', (spec, table, why) => {
    expect(refused(spec, table).message).toContain(why);
  });

  test('the old negation form says what to write instead', () => {
    const e = refused('-d ! 10.0.0.0/8 -j ACCEPT');
    expect(e.message).toContain("write `! -d 10.0.0.0/8'");
  });

  test('host names are refused with the reason, not resolved', () => {
    expect(refused('-s example.org -j ACCEPT').message).toMatch(/host names are not resolved/);
  });

  test('iptables-nft refuses a negated 0.0.0.0/0, iptables-legacy keeps it (measured)', () => {
    expect(rules('! -s 0/0', 'filter', 'legacy')).toEqual(['! -s 0.0.0.0/0']);
    expect(refused('! -s 0/0', 'filter', 'nft').message).toContain('negated 0.0.0.0/0');
  });
});

test('single quotes are ordinary characters in iptables-restore input', () => {
  expect(() => parseRuleset("*filter\n-A INPUT -m comment --comment 'a b' -j ACCEPT\nCOMMIT\n")).toThrow(
    /Bad argument `b''/,
  );
});

describe('files as tools write them', () => {
  test('"* nat" (a space after the star, as Istio writes it) is the nat table', () => {
    const rs = parseRuleset('* nat\n-A OUTPUT -p tcp -j REDIRECT --to-ports 15001\nCOMMIT\n');
    expect(rs.tables.get('nat')!.chains.get('OUTPUT')!.rules).toHaveLength(1);
  });
  test('with problems collected, every bad line is reported and the good ones are kept', () => {
    const problems: InputError[] = [];
    const rs = parseRuleset(
      '*filter\n-A INPUT -s 1.2.3.4.5 -j ACCEPT\n-A INPUT -m nosuch -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n',
      {
        problems,
      },
    );
    expect(problems.map((p) => [p.pos?.line, p.kind])).toEqual([
      [2, 'syntax'],
      [3, 'unsupported'],
    ]);
    // the unknown module's rule is kept (evaluated as unknown), the syntax error's is left out
    expect(rs.tables.get('filter')!.chains.get('INPUT')!.rules).toHaveLength(2);
  });
});

// Real rulesets (suites/realworld/: firewalld's nftables backend, Debian's examples) read around what is outside
// the nft subset (spec/nft.md §3a): the rest of a rule becomes an opaque statement whose packets are unknown, an
// ip6 table and stateful objects are left out, other families refuse; IPv6 matches break on IPv4 packets.
import { describe, test, expect } from 'vitest';
import { parseNft, printNft } from '../../src/model/nft/index.ts';
import { evalBaseChain, type NftEnv } from '../../src/model/nft/eval.ts';
import { InputError } from '../../src/model/errors.ts';
import { parseIp } from '../../src/model/ip.ts';
import { synPkt } from '../helpers/packet.ts';

const FIREWALLD = `table inet firewalld {
	ct helper helper-netbios-ns-udp {
		type "netbios-ns" protocol udp
		l3proto ip
	}

	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		meta nfproto ipv4 tcp dport 8080 accept
		ip6 daddr { ::/96, ::ffff:0.0.0.0/96, 2002:a00::/24 } reject with icmpv6 addr-unreachable
		icmpv6 type { nd-neighbor-advert, 136 } accept
		udp dport 137 ct helper set "helper-netbios-ns-udp"
		reject with icmpx admin-prohibited
	}
}
table ip6 t6 {
	chain c { type filter hook input priority 0; policy drop; }
}
`;
const env: NftEnv = { hook: 'input', iif: 'eth0' };
const pkt = (dport: number, proto = 6) =>
  synPkt({ src: parseIp('203.0.113.1')!, dst: parseIp('203.0.113.10')!, dport, proto });

describe('reading around', () => {
  const problems: InputError[] = [];
  const rs = parseNft(FIREWALLD, { file: 'fw.nft', problems });
  const t = rs.tables.get('inet firewalld')!;
  const run = (dport: number, proto = 6) => evalBaseChain(t, 'filter_INPUT', pkt(dport, proto), env);

  test('lists what it left out, with file:line:col', () => {
    expect(problems.map((p) => p.message)).toEqual([
      'fw.nft:2:2: unsupported: "ct helper" in a table',
      'fw.nft:10:69: unsupported: reject with icmpv6',
      'fw.nft:12:17: unsupported: "ct helper"',
      'fw.nft:16:7: unsupported: family ip6',
    ]);
    expect([...rs.tables.keys()]).toEqual(['inet firewalld']);
    // the opaque rest prints as written
    expect(printNft(rs)).toContain('udp dport 137 ct helper set "helper-netbios-ns-udp"');
  });

  test('IPv4: the family matches, IPv6 matches break the rule, an opaque rest is unknown', () => {
    expect(run(8080).map((o) => o.verdict)).toEqual(['accept']);
    // past the ip6 daddr (no IPv6 header: the rule breaks before its opaque reject) to the last rule
    expect(run(22).map((o) => [o.verdict, o.reject?.with])).toEqual([
      ['drop', { type: 'icmpx', code: 'admin-prohibited' }],
    ]);
    // udp 137 reaches the opaque ct helper statement: unknown, naming why
    const [u] = run(137, 17);
    expect(u?.verdict).toBe('unknown');
    expect(u?.undecided?.why).toContain('ct helper');
    expect(run(138, 17).map((o) => o.verdict)).toEqual(['drop']);
  });

  test('without a problems list the file is refused as before; other families refuse it either way', () => {
    expect(() => parseNft(FIREWALLD, { file: 'fw.nft' })).toThrow(/unsupported: "ct helper" in a table/);
    const arp = 'table arp a {\n\tchain c { type filter hook input priority 0; policy drop; }\n}\n';
    expect(() => parseNft(arp, { file: 'a.nft', problems: [] })).toThrow(/unsupported: family arp/);
    expect(() => parseNft('include "x.nft"\n', { file: 'i.nft', problems: [] })).toThrow(/command "include"/);
  });

  test('nft forms real files use: IPv6 words, "dnat" without "to", a payload statement', () => {
    const p: InputError[] = [];
    const rs2 = parseNft(
      'table ip nat {\n\tchain pre {\n\t\ttype nat hook prerouting priority 0;\n' +
        '\t\tdnat tcp dport map { 1000 : 1.1.1.1 } : tcp dport map { 1000 : 1234 }\n' +
        '\t\ttcp dport 80 ip daddr set 10.0.0.1\n\t}\n}\n',
      { file: 'n.nft', problems: p },
    );
    expect(p.map((x) => x.reason)).toEqual(['dnat to a port from an expression', 'ip daddr set (a payload statement)']);
    expect(rs2.tables.get('ip nat')?.chains.get('pre')?.rules.length).toBe(2);
  });
});

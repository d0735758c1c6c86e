import { describe, test, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { parseNft, lintNft, printNft, detectLanguage, printPriority } from '../../src/model/nft/index.ts';
import { InputError } from '../../src/model/errors.ts';

const dir = new URL('../fixtures/nft/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.nft'));
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');

function errorOf(text: string): InputError {
  try {
    parseNft(text, { file: 'x.nft' });
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError, got none');
}

const inChain = (rule: string, family = 'ip', spec = 'type filter hook input priority 0;') =>
  `table ${family} t {\n set s { type ipv4_addr; }\n chain c { ${spec}\n ${rule}\n }\n chain d { }\n}\n`;
function listedRule(rule: string): string {
  const lines = printNft(parseNft(inChain(rule))).split('\n');
  return lines[lines.findIndex((l) => l.startsWith('\t\ttype filter')) + 1]!.trim();
}

describe('nft fixtures, as real nft listed them', () => {
  test('there are fixtures', () => expect(fixtures.length).toBeGreaterThanOrEqual(4));
  for (const f of fixtures) {
    const list = f.replace(/\.nft$/, '.list');
    test(`${f} prints as ${list}, and ${list} reads back to itself`, () => {
      const want = read(list);
      expect(printNft(parseNft(read(f), { file: f }))).toBe(want);
      expect(printNft(parseNft(want, { file: list }))).toBe(want);
    });
  }
});

describe('what nft changes when it lists a rule (measured with nft 1.0.6)', () => {
  const cases: [string, string][] = [
    ['meta l4proto tcp th dport 80', 'tcp dport 80'],
    ['ip protocol tcp tcp dport 80', 'tcp dport 80'],
    ['meta l4proto tcp counter th dport 80', 'meta l4proto tcp counter packets 0 bytes 0 tcp dport 80'],
    // a one-element set is a comparison, a dependency as any; the last match on tcp, udp or a protocol nft has
    // no header for before a transport expression (statements' keys too) is its dependency
    ['ip protocol == { udp } meta iif "lo" udp sport 53', 'iif "lo" udp sport 53'],
    ['meta l4proto { tcp } tcp dport 80', 'tcp dport 80'],
    ['ip protocol != { udp } udp sport 53', 'ip protocol != udp udp sport 53'],
    ['meta l4proto 122 th dport 53', 'th dport 53'],
    ['ip protocol 122 ip saddr 1.2.3.4 th dport 53', 'ip saddr 1.2.3.4 th dport 53'],
    ['meta l4proto tcp ip protocol 122 tcp dport 80', 'meta l4proto tcp tcp dport 80'],
    ['ip protocol 122 udp dport 53', 'ip protocol 122 udp dport 53'],
    ['ip protocol != 122 th dport 53', 'ip protocol != 122 th dport 53'],
    ['ip protocol 122 counter th dport 53', 'ip protocol 122 counter packets 0 bytes 0 th dport 53'],
    [
      'meta l4proto tcp meta l4proto 250 th dport 80 th sport 80',
      'meta l4proto tcp meta l4proto 250 @th,0,32 0x500050',
    ],
    ['tcp dport 80 ip saddr 1.2.3.4 tcp sport 5', 'ip saddr 1.2.3.4 tcp sport 5 tcp dport 80'],
    ['th dport 80 th sport 1', '@th,0,32 0x10050'],
    ['ip saddr { 1.0.0.0/24, 1.0.1.0/24, 9.9.9.9 }', 'ip saddr { 1.0.0.0/23, 9.9.9.9 }'],
    ['tcp dport { 80 }', 'tcp dport 80'],
    ['ip saddr 1.2.3.4/24', 'ip saddr 1.2.3.0/24'],
    ['mark and 0x4000 != 0', 'meta mark & 0x00004000 != 0x00000000'],
    ['meta mark set mark or 0x4000', 'meta mark set meta mark | 0x00004000'],
    ['ct state new,established', 'ct state established,new'],
    ['ct state != new,established', 'ct state != established | new'],
    ['log level warn prefix "p"', 'log prefix "p"'],
    ['reject with icmp type port-unreachable', 'reject'],
    ['meta l4proto tcp reject with tcp reset', 'reject with tcp reset'],
    ['counter accept comment "x"', 'counter packets 0 bytes 0 accept comment "x"'],
  ];
  for (const [rule, listed] of cases) test(`${rule} -> ${listed}`, () => expect(listedRule(rule)).toBe(listed));

  test('priorities: named within 10 of a standard one, dstnat only at prerouting, srcnat only at postrouting', () => {
    expect(printPriority(-110, 'prerouting')).toBe('dstnat - 10');
    expect(printPriority(-110, 'forward')).toBe('-110');
    expect(printPriority(-5, 'input')).toBe('filter - 5');
    expect(printPriority(90, 'postrouting')).toBe('srcnat - 10');
    expect(printPriority(-100, 'output')).toBe('-100');
  });
});

describe('bad nft input: file:line:col, typed', () => {
  const cases: [string, string, InputError['kind'], string][] = [
    ['unknown statement', inChain('tcp dport 80 bogus'), 'syntax', 'x.nft:4:15'],
    ['jump to a missing chain', inChain('jump nosuch'), 'invalid', 'x.nft:4:2'],
    ['dnat in a filter chain', inChain('dnat to 1.1.1.1'), 'invalid', ''],
    [
      'nat port without a protocol',
      inChain('dnat to 1.1.1.1:80', 'ip', 'type nat hook prerouting priority dstnat;'),
      'invalid',
      '',
    ],
    [
      'masquerade at prerouting',
      inChain('masquerade', 'ip', 'type nat hook prerouting priority dstnat;'),
      'invalid',
      '',
    ],
    ['conflicting protocols', inChain('meta l4proto udp tcp dport 80'), 'invalid', ''],
    ['statement after a verdict', inChain('accept counter'), 'invalid', ''],
    [
      'a loop reached from a base chain',
      'table ip t {\n chain h { type filter hook input priority 0; jump a; }\n chain a { jump b;' +
        ' }\n chain b { jump a; }\n}\n',
      'invalid',
      '',
    ],
    ['ip6 family', 'table ip6 t {\n}\n', 'unsupported', 'x.nft:1:7'],
    ['a map to a type outside the subset', 'table ip t {\n map m { type ipv4_addr : ifname; }\n}\n', 'unsupported', ''],
    ['limit', inChain('limit rate 10/second'), 'unsupported', ''],
    ['dstnat at input', 'table ip t {\n chain c { type filter hook input priority dstnat; }\n}\n', 'invalid', ''],
    ['nat at priority -200', 'table ip t {\n chain c { type nat hook prerouting priority -200; }\n}\n', 'invalid', ''],
    [
      'interval element without the flag',
      'table ip t {\n set s { type ipv4_addr; elements = { 10.0.0.0/8 } }\n}\n',
      'invalid',
      '',
    ],
  ];
  for (const [name, text, kind, where] of cases)
    test(name, () => {
      const e = errorOf(text);
      expect(e.kind).toBe(kind);
      expect(e.message).toContain(where || 'x.nft:');
    });

  test('lint reports every refused command, not only the first', () => {
    const { errors } = lintNft(inChain('jump nosuch\n ip saddr @nos accept'), { file: 'x.nft' });
    expect(errors.map((e) => e.pos?.line)).toEqual([4, 5]);
  });
});

describe('language detection', () => {
  test('nft by its first command, iptables otherwise', () => {
    expect(detectLanguage('# c\ntable ip t {\n}\n')).toBe('nft');
    expect(detectLanguage('add rule ip t c accept\n')).toBe('nft');
    expect(detectLanguage('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n')).toBe('iptables');
    expect(detectLanguage('iptables -A INPUT -j ACCEPT\n')).toBe('iptables');
  });
});

describe('keywords and quoted strings as names (measured with nft 1.0.6 in a throw-away namespace)', () => {
  const positions = (n: string): [string, string][] => [
    ['table', `table ip ${n} {\n}\n`],
    ['chain', `table ip t {\n\tchain ${n} {\n\t}\n}\n`],
    ['set', `table ip t {\n\tset ${n} {\n\t\ttype ipv4_addr\n\t}\n}\n`],
    ['add chain', `add table ip t\nadd chain ip t ${n}\nadd rule ip t ${n} accept\n`],
  ];
  // nft took these: words its scanner reads as keywords only in another start condition, times, `_x`
  for (const n of ['filter', 'input', 'nat', 'state', 'new', 'daddr', 'ingress', 'to', 'level', '_x', '1d', 'a..b'])
    for (const [where, text] of positions(n))
      test(`${where} ${n}: accepted and listed unquoted`, () => {
        expect(printNft(parseNft(text, { file: 'x.nft' }))).toContain(` ${n} {`);
      });
  // nft refused these: keywords of the scanner's initial state, quoted strings, numbers
  for (const n of [
    'counter',
    'chain',
    'ip',
    'inet',
    'tcp',
    'accept',
    'jump',
    'comment',
    'th',
    '"foo"',
    '"filter"',
    '10',
  ])
    for (const [where, text] of positions(n))
      test(`${where} ${n}: a syntax error at the name`, () => {
        const e = errorOf(text);
        expect(e.kind).toBe('syntax');
        expect(e.message).toMatch(/bad (table|chain|set) name/);
      });
  test('a keyword as a jump target or a set reference is refused; nh only after @', () => {
    expect(errorOf(inChain('jump counter')).message).toContain('"counter" is an nft keyword');
    expect(errorOf(inChain('ip saddr @nh accept')).message).toContain('"nh" is an nft keyword');
    expect(printNft(parseNft('table ip t {\n\tchain nh {\n\t}\n}\n'))).toContain('chain nh {');
  });
});

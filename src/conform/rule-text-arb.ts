// Rule texts as people and tools write them, for judging the parser against real
// iptables (spec/iptables.md §8). Every option of every extension in the descriptor
// table is drawn, in the spellings iptables accepts (aliases, unambiguous
// abbreviations, `--opt=value`, service names, dotted and odd netmasks, hex numbers,
// reversed ranges...), plus a share of broken texts, so that refusals are judged too.
import fc from 'fast-check';
import {
  EXTENSIONS,
  KINDS,
  REJECT_TYPES,
  TABLE_HOOKS,
  TABLES,
  PROTOCOLS,
  SERVICES,
  protocolName,
  formatIp,
  type ExtensionDesc,
  type OptionDesc,
  type Kind,
  type KindName,
  type OptValue,
  type TableName,
} from '../model/index.ts';
import { IPSET_NAMES, NFACCT_NAMES, TARGET_CHAIN, type RuleItem } from './iptables-oracle.ts';

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const octet = fc.integer({ min: 0, max: 255 });
const ip = fc.nat({ max: 0xffffffff }).map(formatIp);
const SERVICE_NAMES = [...new Set(SERVICES.map((s) => s.name))];

const portText = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 65535 }).map(String) },
  { weight: 4, arbitrary: pick(SERVICE_NAMES) },
  { weight: 1, arbitrary: pick(['65536', '-1', 'nosuchservice', '0x50', '080', '']) },
);
const rangeText = (sep: string) =>
  fc.oneof(
    { weight: 4, arbitrary: portText },
    { weight: 3, arbitrary: fc.tuple(portText, portText).map(([a, b]) => `${a}${sep}${b}`) },
    { weight: 1, arbitrary: portText.map((a) => `${a}${sep}`) },
    { weight: 1, arbitrary: portText.map((a) => `${sep}${a}`) },
  );
const maskText = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 32 }).map(String) },
  {
    weight: 4,
    arbitrary: fc.integer({ min: 0, max: 32 }).map((l) => formatIp(l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0)),
  },
  { weight: 2, arbitrary: ip },
  { weight: 1, arbitrary: pick(['33', '-1', '255.255.255.256']) },
);
const cidrText = fc.oneof(
  { weight: 3, arbitrary: ip },
  { weight: 5, arbitrary: fc.tuple(ip, maskText).map(([a, m]) => `${a}/${m}`) },
  { weight: 1, arbitrary: pick(['0/0', '0.0.0.0/0', '10.0.0', '1.2.3.4.5', '256.1.1.1', '10.0.0.0/33', '0x0a000001']) },
  { weight: 1, arbitrary: fc.tuple(octet, octet).map(([a, b]) => `${a}.${b}`) },
);
const addrListText = fc.oneof(
  { weight: 6, arbitrary: cidrText },
  { weight: 1, arbitrary: fc.array(cidrText, { minLength: 2, maxLength: 3 }).map((l) => l.join(',')) },
);
const uintText = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 70000 }).map(String) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((n) => `0x${n.toString(16)}`) },
  { weight: 1, arbitrary: pick(['4294967295', '4294967296', '-1', '1k', '010', '']) },
);
const hex32Text = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 0xffffffff }).map((n) => `0x${n.toString(16)}`) },
  { weight: 6, arbitrary: fc.nat({ max: 0xffffffff }).map(String) },
  { weight: 1, arbitrary: pick(['0x100000000', 'zz', '010']) },
);
const markText = fc.oneof(
  { weight: 3, arbitrary: hex32Text },
  { weight: 3, arbitrary: fc.tuple(hex32Text, hex32Text).map(([a, b]) => `${a}/${b}`) },
);
const flagListText = fc.oneof(
  pick(['ALL', 'NONE', 'SYN', 'syn', 'FIN,SYN,RST,ACK', 'ACK', 'RST,ACK', 'URG,PSH', 'BOGUS', 'SYN,,ACK']),
  fc.subarray(['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'], { minLength: 1 }).map((l) => l.join(',')),
);
const icmpText = fc.oneof(
  pick(['any', 'echo-request', 'echo-reply', 'ping', 'pong', 'port-unreachable', 'destination-unreachable']),
  pick(['network-unreachable', 'host-unreachable', 'time-exceeded', 'ttl-zero-during-transit', 'redirect']),
  pick(['ttl-exceeded', 'router-advertisement', 'router-solicitation', 'address-mask-request', 'bogus']),
  fc.integer({ min: 0, max: 260 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 256 })).map(([t, c]) => `${t}/${c}`),
  fc
    .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }))
    .map(([t, a, b]) => `${t}/${a}-${b}`),
);
const idText = (names: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.nat({ max: 70000 }).map(String) },
    { weight: 2, arbitrary: fc.tuple(fc.nat({ max: 2000 }), fc.nat({ max: 2000 })).map(([a, b]) => `${a}-${b}`) },
    { weight: 2, arbitrary: pick(names) },
    { weight: 1, arbitrary: pick(['4294967294', '4294967295', '1:2', '0x10', '-1']) },
  );
const macText = (b: readonly number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join(':');
const stringText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/),
  fc.stringMatching(/^[A-Za-z0-9 ]{1,12}$/).map((s) => `"${s}"`),
  pick(['""', '"a \\"quoted\\" word"', "'single quoted'", 'x'.repeat(260)]),
);
const natRangeText = (withIp: boolean) => {
  const ports = fc.oneof(
    portText,
    fc.tuple(portText, portText).map(([a, b]) => `${a}-${b}`),
  );
  if (!withIp) return ports;
  const ips = fc.oneof(
    ip,
    fc.tuple(ip, ip).map(([a, b]) => `${a}-${b}`),
  );
  return fc.oneof(
    { weight: 3, arbitrary: ips },
    { weight: 3, arbitrary: fc.tuple(ips, ports).map(([a, p]) => `${a}:${p}`) },
    { weight: 1, arbitrary: ports.map((p) => `:${p}`) },
  );
};
const listOf = (names: readonly string[], extra: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.subarray([...names], { minLength: 1, maxLength: 3 }).map((l) => l.join(',')) },
    {
      weight: 1,
      arbitrary: fc.subarray([...names], { minLength: 1, maxLength: 2 }).map((l) => l.join(',').toLowerCase()),
    },
    { weight: 1, arbitrary: pick(extra) },
  );

/** Text for the arguments of an option of each kind: what a person may write, valid or not. */
const KIND_TEXT: Record<KindName, () => fc.Arbitrary<string[]>> = {
  flag: () => fc.constant([]),
  string: () => stringText.map((s) => [s]),
  rawString: () => stringText.map((s) => [s]),
  nfacctName: () =>
    fc.oneof({ weight: 9, arbitrary: pick(NFACCT_NAMES) }, { weight: 1, arbitrary: pick(['""']) }).map((s) => [s]),
  cidr: () => cidrText.map((s) => [s]),
  cidrShort: () => cidrText.map((s) => [s]),
  host: () => fc.oneof({ weight: 4, arbitrary: ip }, { weight: 1, arbitrary: cidrText }).map((s) => [s]),
  uint: () => uintText.map((s) => [s]),
  hex32: () => hex32Text.map((s) => [s]),
  port: () => portText.map((s) => [s]),
  portRange: () => rangeText(':').map((s) => [s]),
  portList: () =>
    fc.array(fc.oneof(rangeText(':'), portText), { minLength: 1, maxLength: 9 }).map((l) => [l.join(',')]),
  markMask: () => markText.map((s) => [s]),
  xmark: () => markText.map((s) => [s]),
  tcpFlags: () => fc.tuple(flagListText, flagListText).map(([a, b]) => [a, b]),
  icmpType: () => icmpText.map((s) => [s]),
  probability: () =>
    fc
      .oneof(
        fc
          .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 12 }))
          .map(([p, d]) => p.toFixed(d)),
        pick(['0', '1', '0.5', '.25', '1e-3', '1.5', '-0.1', 'x']),
      )
      .map((s) => [s]),
  ctStates: () =>
    listOf(
      ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'],
      ['BOGUS', 'NEW,,ESTABLISHED'],
    ).map((s) => [s]),
  states: () => listOf(['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'], ['SNAT', 'BOGUS']).map((s) => [s]),
  addrTypes: () =>
    listOf(['UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE'], ['BOGUS']).map((s) => [s]),
  statMode: () => pick(['random', 'nth', 'RANDOM', 'bogus']).map((s) => [s]),
  natDst: () => natRangeText(true).map((s) => [s]),
  natPorts: () => natRangeText(false).map((s) => [s]),
  rejectWith: () =>
    // the kernel's names, then aliases iptables also reads, then a bogus one
    pick([...REJECT_TYPES, 'net-unreach', 'tcp-rst', 'port-unreach', 'icmp-bogus']).map((s) => [s]),
  logLevel: () =>
    fc
      .oneof(fc.integer({ min: 0, max: 8 }).map(String), pick(['info', 'debug', 'warn', 'emerg', 'panic', 'x']))
      .map((s) => [s]),
  ctDir: () => pick(['ORIGINAL', 'REPLY', 'original', 'reply', 'both']).map((s) => [s]),
  limitRate: () =>
    fc
      .oneof(
        {
          weight: 6,
          arbitrary: fc
            .tuple(
              fc.integer({ min: 1, max: 12000 }),
              pick(['', '/s', '/sec', '/second', '/m', '/min', '/hour', '/h', '/day', '/MIN']),
            )
            .map(([n, u]) => `${n}${u}`),
        },
        { weight: 1, arbitrary: pick(['0/sec', '5/x', '3/', '5abc/sec', '20000/s', '-1/s']) },
      )
      .map((s) => [s]),
  plenMask: () => fc.oneof(fc.integer({ min: 0, max: 33 }).map(String), pick(['128', '129', 'x'])).map((s) => [s]),
  // names of base-passwd, names this machine may or may not have (resolved through its accounts on both
  // sides: system-accounts.ts), and names nobody has
  uidRange: () => idText(['root', 'nobody', 'daemon', '_apt', 'systemd-network', 'java', 'nosuchuser']).map((s) => [s]),
  gidRange: () =>
    idText(['root', 'nogroup', 'users', 'docker', 'systemd-journal', 'java', 'nosuchgroup']).map((s) => [s]),
  mac: () =>
    fc
      .oneof(
        { weight: 6, arbitrary: fc.array(fc.nat({ max: 255 }), { minLength: 6, maxLength: 6 }).map(macText) },
        { weight: 1, arbitrary: pick(['0:1:2:3:4:5', 'AA:BB:CC:DD:EE:FF', '00:11:22:33:44', '000:1:2:3:4:5', 'zz']) },
      )
      .map((s) => [s]),
  ipRange: () =>
    fc
      .oneof(
        { weight: 3, arbitrary: fc.tuple(ip, ip).map(([a, b]) => `${a}-${b}`) },
        { weight: 2, arbitrary: ip },
        { weight: 1, arbitrary: pick(['10.0.0.0/8', '1.2.3', '1.2.3.4-', 'x']) },
      )
      .map((s) => [s]),
  pktType: () =>
    pick(['unicast', 'broadcast', 'multicast', 'host', 'otherhost', 'BROADCAST', 'loopback']).map((s) => [s]),
  ifaceName: () => IFACE_TEXT.map((s) => [s]),
  setMatch: () =>
    fc
      .tuple(
        // only sets that exist in the oracle's namespace: lint cannot know the kernel's sets
        pick(IPSET_NAMES),
        pick(['src', 'dst', 'src,dst', 'dst,src', 'src,src,dst', 'SRC', 'src,,dst']),
      )
      .map(([n, f]) => [n, f]),
  queueBalance: () =>
    fc
      .oneof(
        { weight: 4, arbitrary: fc.tuple(fc.nat({ max: 20 }), fc.nat({ max: 20 })).map(([a, b]) => `${a}:${b}`) },
        { weight: 1, arbitrary: pick(['1', '2:70000', 'x:1']) },
      )
      .map((s) => [s]),
  ctZone: () => fc.oneof(fc.integer({ min: 0, max: 65536 }).map(String), pick(['mark', '0x10', 'x'])).map((s) => [s]),
  helperName: () => pick(['ftp', 'tftp', 'sip', 'irc', 'nosuch']).map((s) => [s]),
  ipAddr: () => fc.oneof({ weight: 4, arbitrary: ip }, { weight: 1, arbitrary: pick(['1.2.3', 'x']) }).map((s) => [s]),
  hlRate: () =>
    fc
      .oneof(
        {
          weight: 6,
          arbitrary: fc
            .tuple(
              fc.integer({ min: 1, max: 2000 }),
              pick(['', '/s', '/sec', '/second', '/m', '/min', '/minute', '/h', '/hour', '/d', '/day', '/MIN']),
            )
            .map(([n, u]) => `${n}${u}`),
        },
        { weight: 1, arbitrary: pick(['0/sec', '5/x', '3/', '1000000/s', '1000001/s', '-1/s', '7abc/min']) },
      )
      .map((s) => [s]),
  hlBurst: () =>
    fc
      .oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 20 }).map(String) },
        { weight: 1, arbitrary: pick(['0', '10000', '1000000', '1000001', '5k', '2m', '0x10', '010', '5x', '-1']) },
      )
      .map((s) => [s]),
  hlMode: () =>
    listOf(['srcip', 'srcport', 'dstip', 'dstport'], ['""', 'bogus', 'srcip|dstport', 'dstip,']).map((s) => [s]),
  hlName: () => pick(['lb2', 'lograte', 'ssh', 'x'.repeat(40), '.', 'a/b', '""']).map((s) => [s]),
  hlPlen: () => fc.oneof(fc.integer({ min: 0, max: 33 }).map(String), pick(['128', '129', 'x'])).map((s) => [s]),
  strPattern: () =>
    fc
      .oneof(
        { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:\/-]{1,20}$/) },
        { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9 ]{1,12}$/).map((s) => `"${s}"`) },
        { weight: 1, arbitrary: pick(['""', 'caf\u00e9', '"a|b"', 'x'.repeat(129), 'GET']) },
      )
      .map((s) => [s]),
  strHex: () =>
    fc
      .oneof(
        {
          weight: 4,
          arbitrary: fc
            .array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 5 })
            .map((b) => `"|${b.map((x) => x.toString(16).padStart(2, '0')).join(' ')}|"`),
        },
        { weight: 1, arbitrary: pick(['"|41 42|c"', '|00|', 'a|5c|', '|4142|', '|0|', '|zz|', 'ab', '"|41"']) },
      )
      .map((s) => [s]),
  strAlgo: () => pick(['bm', 'kmp', 'fsm', 'bm', 'kmp', 'foo']).map((s) => [s]),
  u32Expr: () =>
    fc
      .oneof(
        { weight: 4, arbitrary: (KINDS.u32Expr as Kind<string>).arb(fc) },
        {
          weight: 2,
          arbitrary: pick([
            '0>>22&0x3C@0>>16=80',
            '6&0xFF=6 && 0>>22&0x3C@12>>26&0x3C@0=0x47455420',
            '0 = 5',
            '0=1,2,3:5',
            '0=010',
            '0x10=1',
            '0=5:3',
            '0<<8=0',
          ]),
        },
        { weight: 1, arbitrary: pick(['0=', '=5', '0>5', '0=5||4=6', 'x', '0=1&&', '0&&1=2', '0=-1']) },
      )
      .map((s) => [`"${s}"`]),
  dayTime: () =>
    pick(['08:00', '8:5', '23:59:59', '00:00', '22:00', '06:00:30', '24:00', '8', '12:60', 'x']).map((s) => [s]),
  weekdays: () =>
    listOf(
      ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun', '1', '7', 'Monday', 'Tu'],
      ['mon', '0', '8', 'Mon,,Tue'],
    ).map((s) => [s]),
  monthdays: () =>
    fc
      .oneof(
        {
          weight: 4,
          arbitrary: fc.array(fc.integer({ min: 1, max: 31 }), { minLength: 1, maxLength: 4 }).map((l) => l.join(',')),
        },
        { weight: 1, arbitrary: pick(['32', '0', 'x', '1,,2']) },
      )
      .map((s) => [s]),
  date: () =>
    pick([
      '2020-01-01',
      '2020',
      '2020-1-5T3',
      '2038-01-19T03:14:07',
      '2030-12-31T23:59:59',
      '2024-02-29T12:30',
      '1969-12-31',
      '2039-01-01',
      '2020-02-30',
      'x',
    ]).map((s) => [s]),
};

/** Options without which a module is refused: drawn more often with it, so that accepted texts are judged too */
const ANCHORS: Readonly<Record<string, readonly string[]>> = {
  hashlimit: ['--hashlimit-upto', '--hashlimit-name'],
  string: ['--string', '--algo'],
  u32: ['--u32'],
};

/** Spellings of a long option iptables accepts: its name, an alias, a prefix (maybe ambiguous), `=value`. */
function optionName(od: OptionDesc): fc.Arbitrary<string> {
  const names = [od.name, ...(od.aliases ?? [])];
  return fc.oneof(
    { weight: 8, arbitrary: pick(names) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(pick(names), fc.integer({ min: 5, max: 14 }))
        // "--help" is iptables' own option (it prints the help and loads nothing), not --helper's abbreviation
        .map(([n, k]) => n.slice(0, Math.min(n.length, k)))
        .map((n) => (n === '--help' ? '--helpe' : n)),
    },
  );
}

function optionText(od: OptionDesc): fc.Arbitrary<string[]> {
  const kind = KINDS[od.kind] as Kind<OptValue>;
  return fc
    .tuple(
      fc.oneof(
        { weight: 50, arbitrary: fc.constant(false) },
        { weight: od.negatable ? 20 : 1, arbitrary: fc.constant(true) },
      ),
      optionName(od),
      KIND_TEXT[od.kind](),
      fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    )
    .map(([neg, name, args, eq]) => {
      const head = neg ? ['!'] : [];
      if (kind.arity === 1 && eq && args[0] !== undefined && !args[0].includes(' '))
        return [...head, `${name}=${args[0]}`];
      return [...head, name, ...args];
    });
}

function extensionText(d: ExtensionDesc): fc.Arbitrary<string[]> {
  const usable = d.options;
  const anchors = usable.filter((o) => ANCHORS[d.name]?.includes(o.name));
  const rest = usable.filter((o) => !anchors.includes(o));
  const free = fc.subarray([...usable], {
    minLength: Math.min(1, usable.length),
    maxLength: Math.min(3, usable.length),
  });
  const anchored = fc
    .subarray([...rest], { minLength: 0, maxLength: Math.min(3, rest.length) })
    .map((more) => [...anchors, ...more]);
  return (anchors.length ? fc.oneof(free, { weight: 3, arbitrary: anchored }) : free)
    .chain((chosen) => (chosen.length ? fc.tuple(...chosen.map(optionText)) : fc.constant([] as string[][])))
    .map((parts) => parts.flat());
}

const PROTO_TEXT = fc.oneof(
  { weight: 6, arbitrary: pick(['tcp', 'udp', 'icmp', 'sctp', 'all']) },
  { weight: 1, arbitrary: pick(['TCP', 'Udp', '6', '17', '1', '0', '132', '33', '136', 'dccp', 'udplite']) },
  { weight: 2, arbitrary: pick(PROTOCOLS.flatMap((p) => [p.name, ...p.aliases])) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map(String) },
  { weight: 1, arbitrary: pick(['0x6', '006', 'bogus', '256', '']) },
);
const IFACE_TEXT = fc.oneof(
  {
    weight: 10,
    arbitrary: pick(['eth0', 'eth1', 'cni0', 'veth+', 'lo', '+', 'br-0f1a', 'wg0', 'docker0', 'vlan.10', 'e']),
  },
  { weight: 1, arbitrary: pick(['a'.repeat(15), 'a'.repeat(16), '"eth 0"', 'eth/0', '""']) },
);

/** `arb` once in `n` draws, else undefined */
const sometimes = <T>(n: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const neg = (w = 10) =>
  fc.oneof({ weight: 40, arbitrary: fc.constant([] as string[]) }, { weight: w, arbitrary: fc.constant(['!']) });

const ruleLevel: fc.Arbitrary<string[]>[] = [
  fc.tuple(neg(), pick(['-s', '--source', '--src', '--sou']), addrListText).map(([n, o, a]) => [...n, o, a]),
  fc.tuple(neg(), pick(['-d', '--destination', '--dst', '--dest']), addrListText).map(([n, o, a]) => [...n, o, a]),
  fc.tuple(neg(), pick(['-i', '-i', '--in-interface', '--in-i']), IFACE_TEXT).map(([n, o, a]) => [...n, o, a]),
  fc.tuple(neg(), pick(['-o', '-o', '--out-interface', '--out']), IFACE_TEXT).map(([n, o, a]) => [...n, o, a]),
  fc.tuple(neg(3), pick(['-f', '--fragments', '--frag'])).map(([n, o]) => [...n, o]),
];

export interface ItemGenOptions {
  /** share of texts broken on purpose (a token dropped or duplicated); default 0.05 */
  breakShare?: number;
}

/** One rule and where it goes. */
export function ruleItem(opts: ItemGenOptions = {}): fc.Arbitrary<RuleItem> {
  const matches = EXTENSIONS.filter((d) => d.type === 'match');
  const targets = EXTENSIONS.filter((d) => d.type === 'target');
  const br = opts.breakShare ?? 0.05;
  const ext = (d: ExtensionDesc, flag: string) => extensionText(d).map((t) => ({ d, toks: [flag, d.name, ...t] }));
  return fc
    .record({
      coherent: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      table: fc.oneof(
        { weight: 5, arbitrary: fc.constant<TableName>('filter') },
        { weight: 3, arbitrary: fc.constant<TableName>('nat') },
        { weight: 2, arbitrary: pick(TABLES.filter((t) => t !== 'filter' && t !== 'nat')) },
      ),
      placement: fc.integer({ min: 0, max: 2 }),
      pickA: fc.nat(),
      pickB: fc.nat(),
      levels: fc
        .subarray(ruleLevel, { maxLength: 3 })
        .chain((l) => (l.length ? fc.tuple(...l) : fc.constant([] as string[][]))),
      proto: sometimes(2, fc.tuple(neg(3), pick(['-p', '--protocol', '--proto']), PROTO_TEXT)),
      ms: fc.array(
        pick(matches).chain((d) => ext(d, '-m')),
        { maxLength: 2 },
      ),
      target: fc.oneof(
        {
          weight: 3,
          arbitrary: pick([['-j', 'ACCEPT'], ['-j', 'DROP'], ['-j', 'RETURN'], []]).map((toks) => ({
            d: undefined,
            toks,
          })),
        },
        {
          weight: 1,
          arbitrary: pick([
            ['-j', TARGET_CHAIN],
            ['-g', TARGET_CHAIN],
            ['--jump', TARGET_CHAIN],
            ['-j', 'NOSUCH'],
          ]).map((toks) => ({ d: undefined, toks })),
        },
        { weight: 5, arbitrary: pick(targets).chain((d) => ext(d, '-j')) },
      ),
      counters: sometimes(
        15,
        pick([
          ['-c', '1', '2'],
          ['-c', '10,20'],
          ['--set-counters', '0', '0'],
          ['-c', 'x', '1'],
        ]),
      ),
      protoLast: fc.boolean(),
      broken: sometimes(Math.max(1, Math.round(1 / br)), fc.tuple(fc.boolean(), fc.nat())),
    })
    .map((r) => {
      const td = r.target.d;
      let table = r.table;
      let hooks: readonly string[] = TABLE_HOOKS[table];
      let proto = r.proto ? [...r.proto[0], r.proto[1], r.proto[2]] : [];
      if (r.coherent) {
        // what a person who knows the rules writes: the target's table and hooks, the protocol a module needs
        if (td?.tables) table = td.tables[r.pickA % td.tables.length]!;
        if (table === 'nat' && r.target.toks[1] === 'DROP') table = 'filter';
        hooks = TABLE_HOOKS[table].filter((h) => !td?.hooks || td.hooks.includes(h));
        const need = [...r.ms.map((m) => m.d), ...(td ? [td] : [])].find((d) => d.protos)?.protos;
        if (need && (proto.length === 0 || proto[0] === '!'))
          proto = ['-p', protocolName(need[r.pickB % need.length]!) ?? String(need[0])];
      }
      const hook = hooks[r.pickB % hooks.length] ?? TABLE_HOOKS[table][0]!;
      let toks = [
        ...(r.protoLast ? [] : proto),
        ...r.levels.flat(),
        ...r.ms.flatMap((m) => m.toks),
        ...(r.protoLast ? proto : []),
        ...(r.counters ?? []),
        ...r.target.toks,
      ];
      if (r.broken && toks.length > 0) {
        const at = r.broken[1] % toks.length;
        toks = r.broken[0] ? toks.filter((_, i) => i !== at) : [...toks.slice(0, at + 1), ...toks.slice(at)];
      }
      const spec = toks.join(' ');
      if (r.placement === 0) return { table, builtin: hook, spec };
      if (r.placement === 1) return { table, via: hook, spec };
      return { table, spec };
    });
}

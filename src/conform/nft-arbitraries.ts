// fast-check arbitraries for nft rulesets (`nft -f` text), driven by the model's nft descriptor tables:
// selectors and their datatypes, named priorities, chain types and hooks, statements. Most generated
// rulesets are meant to load; some are meant to be refused (wrong hook, loops, bad types, missing
// objects), so that the parser's refusals are judged too (spec/nft.md §6).
import fc from 'fast-check';
import {
  K8S_NODE,
  NFT_SELECTORS,
  NFT_DTYPES,
  NFT_NAMED_PRIORITIES,
  NFT_LOG_LEVELS,
  NFT_REJECT_ICMP,
  NFT_REJECT_ICMPX,
  type NftSelectorDesc,
  type NftDtypeName,
  type NftHook,
} from '../model/index.ts';

type Family = 'ip' | 'inet';
const HOOKS: readonly NftHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.96.0.10', '192.168.1.1', '172.16.5.4', K8S_NODE.pods[1]!.ip, '127.0.0.1'];
const PORTS = [22, 53, 80, 443, 8080, 9090, 30080];
const IFNAMES = ['eth0', 'cni0', 'lo', 'veth1', 'eth*'];

const u8 = fc.integer({ min: 0, max: 255 });
const ipText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ADDRS) },
  { weight: 1, arbitrary: fc.tuple(u8, u8, u8, u8).map((p) => p.join('.')) },
);

/** A value of a datatype as nft input text; `interval` allows prefixes and ranges. */
export function valueText(dt: NftDtypeName, interval: boolean): fc.Arbitrary<string> {
  switch (dt) {
    case 'ipv4_addr':
      return interval
        ? fc.oneof(
            { weight: 3, arbitrary: ipText },
            { weight: 2, arbitrary: fc.tuple(ipText, fc.integer({ min: 0, max: 32 })).map(([a, l]) => `${a}/${l}`) },
            { weight: 1, arbitrary: fc.tuple(ipText, ipText).map(([a, b]) => `${a}-${b}`) },
          )
        : ipText;
    case 'inet_service': {
      const port = fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 }));
      return interval
        ? fc.oneof(
            { weight: 3, arbitrary: port.map(String) },
            { weight: 1, arbitrary: fc.tuple(port, port).map(([a, b]) => `${a}-${b}`) },
            { weight: 1, arbitrary: fc.constantFrom('ssh', 'http', 'https') },
          )
        : port.map(String);
    }
    case 'inet_proto':
      return fc.oneof(
        fc.constantFrom('tcp', 'udp', 'icmp', 'tcp', 'udp'),
        fc.integer({ min: 0, max: 255 }).map(String),
      );
    case 'mark':
      return fc.oneof(
        fc.constantFrom('0x4000', '0x8000', '0', '1'),
        fc.integer({ min: 0, max: 0xffffffff }).map((n) => `0x${n.toString(16)}`),
        fc.integer({ min: 0, max: 1000 }).map(String),
      );
    case 'ifname':
      return fc.constantFrom(...IFNAMES).map((n) => `"${n}"`);
    case 'iface_index':
      return fc.constant('"lo"');
    case 'ct_state':
    case 'ct_status':
    case 'fib_addrtype':
    case 'nfproto':
    case 'icmpv6_type': {
      const syms = Object.keys(NFT_DTYPES[dt].symbols ?? {});
      return fc.constantFrom(...syms);
    }
    case 'integer':
      return fc.integer({ min: 0, max: 9 }).map(String);
    case 'ipv6_addr':
      return fc.constantFrom('::1', 'fe80::/64', '2001:db8::1');
  }
}

export interface NftGenSet {
  name: string;
  map: boolean;
  key: NftDtypeName[];
  /** a data map's value types (absent: a set, or a verdict map) */
  data?: NftDtypeName[];
  /** "type K : interval D": its values are nat ranges */
  dataInterval?: boolean;
  interval: boolean;
  /** "flags timeout" or a default "timeout T": add/update/delete statements may give a timeout */
  timeouts?: boolean;
}

export interface NftGenContext {
  family: Family;
  /** the base chain's type and hook when the rule is in (or reached from) one */
  base?: { type: 'filter' | 'nat' | 'route'; hook: NftHook };
  sets: readonly NftGenSet[];
  /** chains a rule may jump or go to */
  targets: readonly string[];
}

/** the selectors drawn: the real-world ones (IPv6, the family) are left to suites/realworld/ */
const DRAWN = NFT_SELECTORS.filter((s) => !s.notGenerated);
const concatSelectors = DRAWN.filter((s) => s.concat);
const spelled = (s: NftSelectorDesc) => fc.constantFrom(s.name, ...(s.aliases ?? []));

function verdictText(ctx: NftGenContext, withTargets = true): fc.Arbitrary<string> {
  const simple = fc.constantFrom('accept', 'drop', 'return', 'continue');
  if (!withTargets || ctx.targets.length === 0) return simple;
  return fc.oneof(
    simple,
    fc.tuple(fc.constantFrom('jump', 'goto'), fc.constantFrom(...ctx.targets)).map(([v, c]) => `${v} ${c}`),
  );
}

/** an element's comment (kube-proxy's "ns/name:port" among them); at most 128 characters, as nft allows */
const elementComment = fc.option(
  fc.oneof(fc.constantFrom('default/empty:http', 'x y', ''), fc.stringMatching(/^[a-z0-9/:. -]{1,24}$/)),
  { freq: 3, nil: undefined },
);

function setLiteral(
  dts: readonly NftDtypeName[],
  interval: boolean,
  verdicts?: fc.Arbitrary<string>,
  comments = false,
) {
  const key = fc.tuple(...dts.map((d) => valueText(d, interval && dts.length === 1))).map((parts) => parts.join(' . '));
  // a named set's elements may carry a comment, after the key and before a map's data
  const el = comments
    ? fc.tuple(key, elementComment).map(([k, c]) => (c === undefined ? k : `${k} comment "${c}"`))
    : key;
  const item = verdicts ? fc.tuple(el, verdicts).map(([k, v]) => `${k} : ${v}`) : el;
  return fc.array(item, { minLength: 1, maxLength: 4 }).map((xs) => `{ ${xs.join(', ')} }`);
}

function matchText(ctx: NftGenContext): fc.Arbitrary<string> {
  // a numgen match now and then ("numgen random mod 4 { 0, 2 }"): a draw the packet's branch decides
  const numgen = numgenExpr.chain((n) =>
    fc
      .tuple(
        fc.constantFrom('', '', '!= '),
        fc.oneof(
          fc.constantFrom(...n.values.map(String), '0', '1-2'),
          n.values.length
            ? fc.subarray(n.values, { minLength: 1 }).map((vs) => `{ ${vs.join(', ')} }`)
            : fc.constant('{ 0 }'),
        ),
      )
      .map(([op, v]) => `${n.text} ${op}${v}`),
  );
  return fc.oneof({ weight: 12, arbitrary: selectorMatchText(ctx) }, { weight: 1, arbitrary: numgen });
}

function selectorMatchText(ctx: NftGenContext): fc.Arbitrary<string> {
  return fc.constantFrom(...DRAWN).chain((s) => {
    const dt = s.dtype;
    const d = NFT_DTYPES[dt];
    const refs = ctx.sets.filter((x) => !x.map && x.key.length === 1 && x.key[0] === dt);
    const rhs: fc.Arbitrary<string>[] = [valueText(dt, !!(d.prefix || d.range))];
    if (dt !== 'iface_index' && dt !== 'fib_addrtype') rhs.push(setLiteral([dt], !!(d.prefix || d.range)));
    if (d.flags)
      rhs.push(fc.uniqueArray(valueText(dt, false), { minLength: 2, maxLength: 3 }).map((xs) => xs.join(',')));
    if (refs.length) rhs.push(fc.constantFrom(...refs).map((r) => `@${r.name}`));
    const masked =
      dt === 'mark'
        ? [fc.tuple(valueText('mark', false), valueText('mark', false)).map(([m, v]) => `& ${m} == ${v}`)]
        : [];
    return fc
      .tuple(
        spelled(s),
        fc.oneof(
          {
            weight: 5,
            arbitrary: fc.tuple(fc.constantFrom('', '', '== ', '!= '), fc.oneof(...rhs)).map(([op, v]) => `${op}${v}`),
          },
          ...masked.map((m) => ({ weight: 1, arbitrary: m })),
        ),
      )
      .map(([name, rest]) => `${name} ${rest}`);
  });
}

function vmapText(ctx: NftGenContext): fc.Arbitrary<string> {
  // verdict maps; a data map now and then (refused: nft wants verdicts)
  const verdictMaps = ctx.sets.filter((x) => x.map && !x.data);
  const maps = verdictMaps.length ? verdictMaps : ctx.sets.filter((x) => x.map);
  const concat = fc.uniqueArray(fc.constantFrom(...concatSelectors), { minLength: 1, maxLength: 3 }).chain((parts) => {
    const key = parts.map((p) => p.dtype);
    const same = maps.filter((m) => m.key.length === key.length && m.key.every((k, i) => k === key[i]));
    const right: fc.Arbitrary<string>[] = [setLiteral(key, false, verdictText(ctx))];
    if (same.length) right.push(fc.constantFrom(...same).map((m) => `@${m.name}`));
    return fc
      .tuple(fc.tuple(...parts.map(spelled)), fc.oneof(...right))
      .map(([names, r]) => `${names.join(' . ')} vmap ${r}`);
  });
  const numgen = fc
    .integer({ min: 1, max: 4 })
    .chain((mod) =>
      fc
        .tuple(fc.array(verdictText(ctx), { minLength: mod, maxLength: mod }), fc.boolean(), numgenMode)
        .map(
          ([vs, withOffset, mode]) =>
            `numgen ${mode} mod ${mod}${withOffset ? ' offset 1' : ''} vmap {` +
            ` ${vs.map((v, i) => `${i + (withOffset ? 1 : 0)} : ${v}`).join(', ')} }`,
        ),
    );
  // the kube-proxy shape, as its proxier writes it
  const kp = maps.length
    ? fc.constantFrom(...maps).map((m) => `ip daddr . meta l4proto . th dport vmap @${m.name}`)
    : fc.constant('ip daddr . meta l4proto . th dport vmap { 10.96.0.10 . tcp . 80 : accept }');
  return fc.oneof(concat, numgen, kp);
}

const numgenMode = fc.constantFrom('random', 'random', 'inc');

/** "numgen random|inc mod N [offset K]" and the values it draws; now and then an offset that wraps or mod 0 (the
 *  kernel refuses them: ERANGE, EOVERFLOW). */
const numgenExpr: fc.Arbitrary<{ text: string; values: number[] }> = fc
  .tuple(
    numgenMode,
    fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) }),
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 9 }) },
      { weight: 1, arbitrary: fc.constant(4294967295) },
    ),
  )
  .map(([mode, mod, off]) => ({
    text: `numgen ${mode} mod ${mod}${off ? ` offset ${off}` : ''}`,
    values: Array.from({ length: mod }, (_, i) => i + off),
  }));

/** "numgen ... map { k : v, ... }": an element per drawn value mostly, now and then one missing, another value, a
 *  range of values, or a named map (refused: a numgen key is an integer, no map of the subset is). */
function numgenLookupText(ctx: NftGenContext, data: readonly NftDtypeName[]): fc.Arbitrary<string> {
  const named = ctx.sets.filter((x) => x.map);
  const key = fc.oneof(
    { weight: 8, arbitrary: numgenExpr.map((n) => ({ ...n, values: n.values.map(String) })) },
    {
      weight: 2,
      arbitrary: numgenExpr.chain((n) =>
        fc.subarray(n.values.length ? n.values : [0], { minLength: 1 }).map((vs) => ({ ...n, values: vs.map(String) })),
      ),
    },
    {
      weight: 1,
      arbitrary: numgenExpr.map((n) => ({ ...n, values: [`${n.values[0] ?? 0}-${(n.values[0] ?? 0) + 1}`, '7'] })),
    },
  );
  const anon = fc
    .tuple(key, natInterval(data))
    .chain(([k, iv]) =>
      fc
        .array(dataText(data, iv), { minLength: k.values.length, maxLength: k.values.length })
        .map((vs) => `${k.text} map { ${k.values.map((v, i) => `${v} : ${vs[i]!}`).join(', ')} }`),
    );
  return named.length
    ? fc.oneof(
        { weight: 12, arbitrary: anon },
        {
          weight: 1,
          arbitrary: fc.tuple(numgenExpr, fc.constantFrom(...named)).map(([n, m]) => `${n.text} map @${m.name}`),
        },
      )
    : anon;
}

/** A time as nft reads it: whole seconds mostly (nft -j writes times in seconds), now and then milliseconds. */
const timeText = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom('30s', '1m', '3h', '10s', '1m30s', '1d') },
  { weight: 1, arbitrary: fc.constantFrom('500ms', '1s500ms', '0s') },
);

/** "add|update|delete @s { KEY [timeout T] }" (nft_dynset.c): a set of the table and a key of its type mostly; a
 *  map, a key of another type, a timeout on a set without timeouts or an interval set now and then (refused). */
/** A key expression of these types ("ip saddr . th dport"). */
const keyOf = (dts: readonly NftDtypeName[]) =>
  fc
    .tuple(
      ...dts.map((d) => {
        const sels = concatSelectors.filter((x) => x.dtype === d);
        return sels.length ? fc.constantFrom(...sels).chain(spelled) : fc.constant('ip saddr');
      }),
    )
    .map((parts) => parts.join(' . '));

/** A data map's value: one value of each type ("10.0.0.2 . 8080"); `interval`: a nat range ("10.0.0.1-10.0.0.3 .
 *  80-90", a prefix, now and then a single value, which such a map refuses: EINVAL). */
const dataText = (dts: readonly NftDtypeName[], interval = false) =>
  interval
    ? fc
        .tuple(
          ...dts.map((d, i) =>
            i === 0
              ? valueText(d, true).map((v) => (v.includes('/') || v.includes('-') ? v : `${v}/32`))
              : valueText(d, true),
          ),
          fc.integer({ min: 0, max: 15 }),
        )
        .map((xs) => {
          const odd = xs.pop() === 0;
          const parts = xs as string[];
          return (odd ? parts.map((v) => v.replace(/\/32$/, '')) : parts).join(' . ');
        })
    : fc.tuple(...dts.map((d) => valueText(d, false))).map((parts) => parts.join(' . '));

/** Now and then a nat map's values are ranges (`dnat to K map { k : 10.0.0.1-10.0.0.3 }`). */
const natInterval = (data: readonly NftDtypeName[]) =>
  data[0] === 'ipv4_addr' ? fc.integer({ min: 0, max: 5 }).map((n) => n === 0) : fc.constant(false);

/** The data-map types nat and marks read (and the rest of the subset's, refused by those statements). */
const DATA_TYPES: readonly NftDtypeName[][] = [
  ['mark'],
  ['ipv4_addr'],
  ['ipv4_addr', 'inet_service'],
  ['inet_service'],
];

/** "KEY map @m" or "KEY map { k : v, ... }" giving values of `data`: a map of the table of that data mostly, an
 *  anonymous one, and now and then a map of other data or a key of another type (refused). */
function lookupText(ctx: NftGenContext, data: readonly NftDtypeName[]): fc.Arbitrary<string> {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const named = ctx.sets.filter((x) => x.data && same(x.data, data));
  const others = ctx.sets.filter((x) => x.map);
  const anonKey = fc.oneof(
    fc.constant<NftDtypeName[]>(['ipv4_addr']),
    fc.constant<NftDtypeName[]>(['inet_service']),
    fc.constant<NftDtypeName[]>(['ipv4_addr', 'inet_service']),
    fc.constant<NftDtypeName[]>(['mark']),
  );
  // keys of an anonymous map are intervals now and then (an interval map): most random ranges are empty (refused)
  const anon = fc.tuple(anonKey, fc.integer({ min: 0, max: 3 }), natInterval(data)).chain(([key, n, iv]) =>
    fc
      .tuple(
        keyOf(key),
        fc.array(fc.tuple(fc.tuple(...key.map((d) => valueText(d, key.length === 1 && n === 0))), dataText(data, iv)), {
          minLength: 1,
          maxLength: 3,
        }),
      )
      .map(([k, els]) => `${k} map { ${els.map(([kv, v]) => `${kv.join(' . ')} : ${v}`).join(', ')} }`),
  );
  const arbs: { weight: number; arbitrary: fc.Arbitrary<string> }[] = [
    { weight: 3, arbitrary: anon },
    { weight: 2, arbitrary: numgenLookupText(ctx, data) },
  ];
  if (named.length)
    arbs.push({
      weight: 5,
      arbitrary: fc.constantFrom(...named).chain((m) => keyOf(m.key).map((k) => `${k} map @${m.name}`)),
    });
  if (others.length)
    arbs.push({
      weight: 1,
      arbitrary: fc.constantFrom(...others).chain((m) => keyOf(m.key).map((k) => `${k} map @${m.name}`)),
    });
  return fc.oneof(...arbs);
}

function dynsetText(ctx: NftGenContext): fc.Arbitrary<string> | undefined {
  if (ctx.sets.length === 0) return undefined;
  // sets an add/update/delete may name mostly: no verdict map, no interval flag
  const good = ctx.sets.filter((x) => (!x.map || x.data) && !x.interval);
  const set = good.length
    ? fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...good) },
        { weight: 1, arbitrary: fc.constantFrom(...ctx.sets) },
      )
    : fc.constantFrom(...ctx.sets);
  return fc
    .tuple(
      fc.constantFrom('add', 'update', 'update', 'delete'),
      set,
      fc.integer({ min: 0, max: 9 }),
      fc.option(timeText, { freq: 2, nil: undefined }),
    )
    .chain(([op, set, odd, time]) =>
      fc
        .tuple(
          odd === 0 ? keyOf(['ipv4_addr', 'inet_service']) : keyOf(set.key),
          // a data map's element takes a value (a delete's too: EINVAL without); a set's none, now and then one
          // (refused)
          set.data && odd !== 3
            ? dataText(set.data)
            : odd === 2 && op === 'add'
              ? dataText(['mark'])
              : fc.constant(undefined),
        )
        .map(([key, data]) => {
          const t = time !== undefined && (set.timeouts || odd === 1) ? ` timeout ${time}` : '';
          return `${op} @${set.name} { ${key}${t}${data !== undefined ? ` : ${data}` : ''} }`;
        }),
    );
}

function statementText(ctx?: NftGenContext): fc.Arbitrary<string> {
  const dyn = ctx ? dynsetText(ctx) : undefined;
  const mark = fc.constantFrom('meta mark', 'mark', 'ct mark');
  // a mark from a data map (nft_lookup.c with a data register): mark data mostly, other data now and then
  const fromMap = ctx ? [fc.tuple(mark, lookupText(ctx, ['mark'])).map(([m, l]) => `${m} set ${l}`)] : [];
  return fc.oneof(
    ...fromMap,
    fc.constant('counter'),
    fc.integer({ min: 0, max: 99 }).map((n) => `counter packets ${n} bytes ${n * 60}`),
    fc
      .tuple(
        mark,
        fc.oneof(
          valueText('mark', false),
          fc
            .tuple(fc.constantFrom('meta mark', 'mark', 'ct mark'), fc.constantFrom('|', '&', '^', 'or', 'xor'))
            .chain(([m, op]) => valueText('mark', false).map((v) => `${m} ${op} ${v}`)),
          fc.constantFrom('meta mark', 'ct mark'),
        ),
      )
      .map(([m, v]) => `${m} set ${v}`),
    fc
      .tuple(
        fc.option(fc.constantFrom('"p: "', '"kube"', 'x'), { nil: undefined }),
        fc.option(fc.constantFrom(...NFT_LOG_LEVELS.filter((l) => l !== 'audit')), { nil: undefined }),
      )
      .map(([p, l]) => ['log', ...(p ? [`prefix ${p}`] : []), ...(l ? [`level ${l}`] : [])].join(' ')),
    fc.constant('notrack'),
    ...(dyn ? [dyn] : []),
  );
}

function terminalText(ctx: NftGenContext): fc.Arbitrary<string> {
  const fam = ctx.family === 'inet' ? fc.constantFrom(' ip', ' ip', '') : fc.constantFrom('', '', ' ip');
  const port = fc.option(fc.constantFrom(...PORTS), { nil: undefined });
  return fc.oneof(
    { weight: 4, arbitrary: verdictText(ctx) },
    { weight: 1, arbitrary: fc.constant('reject') },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constant('reject with tcp reset'),
        fc.constantFrom(...NFT_REJECT_ICMP).map((c) => `reject with icmp type ${c}`),
        fc.constantFrom(...NFT_REJECT_ICMPX).map((c) => `reject with icmpx type ${c}`),
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('dnat', 'snat'), fam, ipText, port)
        .map(([t, f, a, p]) => `${t}${f} to ${a}${p !== undefined ? `:${p}` : ''}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(port, fc.subarray(['random', 'fully-random', 'persistent'], { maxLength: 2 }))
        .map(([p, f]) =>
          ['masquerade', ...(p !== undefined ? [`to :${p}`] : []), ...(f.length ? [f.join(',')] : [])].join(' '),
        ),
    },
    { weight: 2, arbitrary: vmapText(ctx) },
    {
      // "dnat to KEY map ..." : an address, or an address and a port, from a data map; a port after it now and then
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('dnat', 'snat'),
          fam,
          fc.constantFrom<NftDtypeName[]>(['ipv4_addr'], ['ipv4_addr', 'inet_service']),
          fc.option(fc.constantFrom(...PORTS), { freq: 6, nil: undefined }),
        )
        .chain(([t, f, data, p]) =>
          // (a port after a map of addresses and ports is refused: rarely)
          lookupText(ctx, data).map(
            (l) => `${t}${f} to ${l}${p !== undefined && (data.length === 1 || p === 22) ? ` : ${p}` : ''}`,
          ),
        ),
    },
  );
}

/** One rule: matches, statements, maybe an add/update/delete of a set, maybe a terminal statement, maybe a
 *  comment. */
export function nftRuleText(ctx: NftGenContext): fc.Arbitrary<string> {
  const protoDep = fc.constantFrom('meta l4proto tcp', 'meta l4proto udp', 'ip protocol tcp', 'tcp dport 80');
  // a slot of its own where a set may take them (a map or an interval set refuses them)
  const dyn = ctx.sets.some((x) => (!x.map || x.data) && !x.interval) ? dynsetText(ctx) : undefined;
  return fc
    .tuple(
      fc.option(protoDep, { freq: 3, nil: undefined }),
      fc.array(fc.oneof({ weight: 4, arbitrary: matchText(ctx) }, { weight: 1, arbitrary: statementText(ctx) }), {
        maxLength: 3,
      }),
      dyn ? fc.option(dyn, { freq: 6, nil: undefined }) : fc.constant(undefined),
      fc.option(terminalText(ctx), { freq: 2, nil: undefined }),
      fc.option(fc.constantFrom('comment "a rule"', 'comment "svc/ns"'), { freq: 8, nil: undefined }),
    )
    .map(([dep, body, dynset, term, comment]) => [
      ...(dep ? [dep] : []),
      ...body,
      ...(dynset ? [dynset] : []),
      ...(term ? [term] : []),
      ...(comment ? [comment] : []),
    ])
    .filter((parts) => parts.length > 0 && !(parts.length === 1 && parts[0]!.startsWith('comment')))
    .map((parts) => parts.join(' '));
}

function priorityText(hook: NftHook): fc.Arbitrary<string> {
  const named = NFT_NAMED_PRIORITIES.filter((p) => !p.hooks || p.hooks.includes(hook)).map((p) => p.name);
  return fc.oneof(
    fc.constantFrom(...named),
    fc
      .tuple(fc.constantFrom(...named), fc.constantFrom('+', '-'), fc.integer({ min: 1, max: 15 }))
      .map(([n, s, k]) => `${n} ${s} ${k}`),
    fc.integer({ min: -400, max: 400 }).map(String),
    fc.constantFrom('-110', '-100', '100', '0', '-5'),
  );
}

interface ChainPlan {
  name: string;
  base?: { type: 'filter' | 'nat' | 'route'; hook: NftHook; prio: string; policy?: 'accept' | 'drop' };
}

type SetPlan = NftGenSet & { elements?: string; props?: string };

/** A set's flags, timeout and size (nft_set_hash.c, nft_dynset.c): now and then "flags dynamic", "flags timeout", a
 *  default timeout, a small size (elements beyond it are refused: ENFILE). Elements go only in sets without
 *  timeouts: nft lists their time left ("expires 29s996ms"), which depends on when it lists. */
const setProps = fc.record({
  dynamic: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  timeout: fc.option(fc.oneof(fc.constant('flags'), timeText), { freq: 3, nil: undefined }),
  size: fc.option(fc.constantFrom(1, 2, 3, 65535, 100), { freq: 6, nil: undefined }),
  odd: fc.integer({ min: 0, max: 9 }),
});

const setPlan = (i: number): fc.Arbitrary<SetPlan> =>
  fc.tuple(fc.boolean(), fc.option(fc.constantFrom(...DATA_TYPES), { freq: 3, nil: undefined })).chain(([map, data]) =>
    fc
      .oneof(
        fc.constantFrom<NftDtypeName[]>(['ipv4_addr'], ['inet_service'], ['mark'], ['ifname'], ['inet_proto']),
        fc.constant<NftDtypeName[]>(['ipv4_addr', 'inet_proto', 'inet_service']),
        fc.constant<NftDtypeName[]>(['inet_proto', 'inet_service']),
      )
      .chain((key) =>
        fc.tuple(fc.boolean(), fc.boolean(), setProps).chain(([interval, withElements, p]) => {
          // "dynamic,interval" has no kernel backend (EOPNOTSUPP): drawn rarely
          const flags = [
            ...(interval && key.length === 1 ? ['interval'] : []),
            ...(p.dynamic && !(interval && key.length === 1 && p.odd !== 0) ? ['dynamic'] : []),
            ...(p.timeout === 'flags' ? ['timeout'] : []),
          ];
          const props =
            (flags.length ? ` flags ${flags.join(',')};` : '') +
            (p.timeout && p.timeout !== 'flags' ? ` timeout ${p.timeout};` : '') +
            (p.size !== undefined ? ` size ${p.size};` : '');
          const s: SetPlan = {
            name: `${map ? 'm' : 's'}${i}`,
            map,
            key,
            ...(map && data ? { data } : {}),
            ...(map && data?.[0] === 'ipv4_addr' && p.odd >= 8 ? { dataInterval: true } : {}),
            interval: interval && key.length === 1,
            ...(p.timeout !== undefined ? { timeouts: true } : {}),
            ...(props ? { props } : {}),
          };
          if (!withElements || s.timeouts) return fc.constant(s);
          const vs = s.data ? dataText(s.data, s.dataInterval) : fc.constantFrom('accept', 'drop', 'continue');
          return setLiteral(key, s.interval, map ? vs : undefined, true).map((e) => ({ ...s, elements: e }));
        }),
      ),
  );

/** Now and then a table, the first chain or the first set takes a name nft's scanner knows as a keyword in
 *  another start condition (accepted), or one it refuses: a keyword, a quoted string, a number (names.ts). */
const KEYWORD_NAMES = [
  'filter',
  'input',
  'nat',
  'state',
  'new',
  'daddr',
  'to',
  'nh',
  'll',
  'saddr',
  'th',
  'counter',
  'ip',
  'jump',
  '"x"',
  '10',
];
const names: fc.Arbitrary<{ table?: string; chain?: string; set?: string }> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYWORD_NAMES).map((table) => ({ table })) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYWORD_NAMES).map((chain) => ({ chain })) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYWORD_NAMES).map((set) => ({ set })) },
);

/** A whole ruleset as `nft -f` text: one or two tables, sets and maps, base and regular chains, rules. */
export function nftRulesetText(): fc.Arbitrary<string> {
  return fc.constantFrom<Family>('ip', 'inet', 'ip').chain((family) =>
    fc
      .tuple(
        fc.array(setPlan(0), { maxLength: 3 }),
        fc.array(
          fc.option(
            fc
              .tuple(fc.constantFrom<'filter' | 'nat' | 'route'>('filter', 'nat', 'filter'), fc.constantFrom(...HOOKS))
              .chain(([type, hook]) =>
                fc
                  .tuple(
                    priorityText(hook),
                    fc.option(fc.constantFrom<'accept' | 'drop'>('accept', 'drop'), { nil: undefined }),
                  )
                  .map(([prio, policy]) => ({ type, hook, prio, ...(policy ? { policy } : {}) })),
              ),
            { freq: 2, nil: undefined },
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.boolean(),
        names,
      )
      .chain(([setsRaw, bases, commandForm, nm]) => {
        const sets = setsRaw.map((s, i) => ({ ...s, name: i === 0 && nm.set ? nm.set : `${s.map ? 'm' : 's'}${i}` }));
        const chains: ChainPlan[] = bases.map((b, i) => {
          const name = i === 0 && nm.chain ? nm.chain : `c${i}`;
          return b ? { name, base: b } : { name };
        });
        const regular = chains.flatMap((c, i) => (c.base ? [] : [{ name: c.name, i }]));
        const rulesPer = chains.map((c, i) => {
          // jumps go forward to regular chains mostly (a loop now and then is refused, as by the kernel)
          const later = regular.filter((r) => r.i > i).map((r) => r.name);
          const ctx: NftGenContext = {
            family,
            sets,
            targets: later.length ? later : regular.map((r) => r.name),
            ...(c.base ? { base: { type: c.base.type, hook: c.base.hook } } : {}),
          };
          return fc.array(nftRuleText(ctx), { maxLength: 4 });
        });
        return fc
          .tuple(...rulesPer)
          .map((rules) => renderRuleset(family, nm.table ?? 't', sets, chains, rules, commandForm));
      }),
  );
}

function baseLine(b: NonNullable<ChainPlan['base']>): string {
  return `type ${b.type} hook ${b.hook} priority ${b.prio};${b.policy ? ` policy ${b.policy};` : ''}`;
}

function setBody(s: SetPlan): string {
  const data = s.data ? s.data.map((k) => NFT_DTYPES[k].setType).join(' . ') : 'verdict';
  const type =
    s.key.map((k) => NFT_DTYPES[k].setType).join(' . ') +
    (s.map ? ` : ${s.dataInterval ? 'interval ' : ''}${data}` : '');
  return `type ${type};${s.props ?? ''}${s.elements ? ` elements = ${s.elements};` : ''}`;
}

function renderRuleset(
  family: Family,
  t: string,
  sets: readonly SetPlan[],
  chains: readonly ChainPlan[],
  rules: readonly string[][],
  commandForm: boolean,
): string {
  if (commandForm) {
    const out = [`add table ${family} ${t}`];
    for (const s of sets) out.push(`add ${s.map ? 'map' : 'set'} ${family} ${t} ${s.name} { ${setBody(s)} }`);
    for (const c of chains) out.push(`add chain ${family} ${t} ${c.name}${c.base ? ` { ${baseLine(c.base)} }` : ''}`);
    chains.forEach((c, i) => {
      for (const r of rules[i]!) out.push(`add rule ${family} ${t} ${c.name} ${r}`);
    });
    return out.join('\n') + '\n';
  }
  const out = [`table ${family} ${t} {`];
  for (const s of sets) out.push(`\t${s.map ? 'map' : 'set'} ${s.name} { ${setBody(s)} }`);
  chains.forEach((c, i) => {
    out.push(`\tchain ${c.name} {`);
    if (c.base) out.push(`\t\t${baseLine(c.base)}`);
    for (const r of rules[i]!) out.push(`\t\t${r}`);
    out.push('\t}');
  });
  out.push('}');
  return out.join('\n') + '\n';
}

// The descriptor entries of the modules real rulesets use (spec/modules.md): part of THE descriptor table
// (descriptors.ts appends them to EXTENSIONS). Option order is the order iptables-save 1.8.9 prints them in,
// measured on both flavors with real iptables-restore/iptables-save in `unshare -n`.
import type { ExtensionDesc, OptionDesc } from './descriptors.ts';
import type { MarkMask, NumRange, TcpFlags } from './kinds.ts';
import type { ExtInstance, OptInstance, Rule } from './types.ts';
import { IPPROTO } from './types.ts';

const opt = (e: ExtInstance, name: string) => e.opts.find((o) => o.name === name);
const has = (e: ExtInstance, name: string) => e.opts.some((o) => o.name === name);

/** Kernel conntrack helpers of this kernel (CT --helper) and the layer-4 protocols they register for. */
export const CT_HELPERS: Readonly<Record<string, readonly number[]>> = {
  ftp: [IPPROTO.TCP],
  tftp: [IPPROTO.UDP],
  irc: [IPPROTO.TCP],
  sip: [IPPROTO.TCP, IPPROTO.UDP],
  amanda: [IPPROTO.UDP],
  pptp: [IPPROTO.TCP],
  sane: [IPPROTO.TCP],
  snmp: [IPPROTO.UDP],
  'netbios-ns': [IPPROTO.UDP],
  RAS: [IPPROTO.UDP],
  'Q.931': [IPPROTO.TCP],
};

const ZONE_OPTS = ['--zone', '--zone-orig', '--zone-reply'];

/** libxt_CT: the zone options set one zone id (the last wins) and direction flags (their union); iptables-save
 *  prints --zone for both directions or none, else the one direction; zone 0 (no mark) is not printed. */
function normalizeZone(opts: OptInstance[]): OptInstance[] {
  const zones = opts.filter((o) => ZONE_OPTS.includes(o.name));
  if (zones.length === 0) return opts;
  const rest = opts.filter((o) => !ZONE_OPTS.includes(o.name));
  // "mark" sets XT_CT_ZONE_MARK, which a later numeric id does not clear (measured: --zone mark --zone-reply 5
  // prints --zone-reply mark)
  const value = zones.some((o) => o.value === 'mark') ? 'mark' : zones.at(-1)!.value;
  const orig = zones.some((o) => o.name === '--zone-orig');
  const reply = zones.some((o) => o.name === '--zone-reply');
  if (value === 0) return rest;
  const name = orig === reply ? '--zone' : orig ? '--zone-orig' : '--zone-reply';
  return [...rest, { name, neg: false, value }];
}

// not drawn by the fuzz arbitraries: the model does not evaluate zones
const zoneOpt = (name: string): OptionDesc => ({ name, kind: 'ctZone', group: 'ct-zone', lastWins: true, noArb: true });

/** A rule whose tcp match looks at SYN (xt_TCPMSS.c find_syn_match). */
function hasSynMatch(r: Rule): boolean {
  return r.matches.some((m) => {
    if (m.name !== 'tcp') return false;
    const f = m.opts.find((o) => o.name === '--tcp-flags');
    return f !== undefined && !f.neg && ((f.value as TcpFlags).comp & 0x02) !== 0;
  });
}

export const MODULE_EXTENSIONS: readonly ExtensionDesc[] = [
  // ---- matches
  {
    // xt_owner.c: the socket of a locally generated packet
    name: 'owner',
    type: 'match',
    options: [
      { name: '--socket-exists', kind: 'flag', negatable: true },
      { name: '--uid-owner', kind: 'uidRange', negatable: true },
      { name: '--gid-owner', kind: 'gidRange', negatable: true },
      { name: '--suppl-groups', kind: 'flag' },
    ],
    check: (e, _p, given) => {
      if (!has(e, '--socket-exists') && !has(e, '--uid-owner') && !has(e, '--gid-owner'))
        return 'owner: At least one of --uid-owner, --gid-owner or --socket-exists is required';
      const s = given.indexOf('--suppl-groups');
      if (s >= 0 && !given.slice(0, s).includes('--gid-owner'))
        return 'owner: Bad value for "--suppl-groups" option: "you need to use --gid-owner first"';
      // owner_check: a reversed range is EINVAL
      for (const n of ['--uid-owner', '--gid-owner']) {
        const r = opt(e, n)?.value as NumRange | undefined;
        if (r && r[0] > r[1]) return `owner: ${n} ${r[0]}-${r[1]} is reversed (the kernel refuses it)`;
      }
      return undefined;
    },
    hooks: ['OUTPUT', 'POSTROUTING'],
  },
  {
    // xt_set.c set_match_v4: membership of the packet's addresses/ports in an ipset
    name: 'set',
    type: 'match',
    options: [
      { name: '--match-set', aliases: ['--set'], kind: 'setMatch', negatable: true },
      { name: '--return-nomatch', kind: 'flag' },
      // the default: only "! --update-counters" is kept and printed
      { name: '--update-counters', kind: 'flag', negatable: true, omitWhen: (_v, neg) => !neg },
      { name: '--update-subcounters', kind: 'flag', negatable: true, omitWhen: (_v, neg) => !neg },
    ],
    more: [
      ['--packets-eq', 1],
      ['--packets-lt', 1],
      ['--packets-gt', 1],
      ['--bytes-eq', 1],
      ['--bytes-lt', 1],
      ['--bytes-gt', 1],
    ],
    check: (e) => (has(e, '--match-set') ? undefined : "You must specify `--match-set' with proper arguments"),
  },
  {
    // xt_iprange.c iprange_mt4: inclusive address ranges
    name: 'iprange',
    type: 'match',
    options: [
      { name: '--src-range', kind: 'ipRange', negatable: true },
      { name: '--dst-range', kind: 'ipRange', negatable: true },
    ],
    check: (e) => (e.opts.length ? undefined : "iprange match: You must specify `--src-range' or `--dst-range'"),
  },
  {
    // xt_connmark.c connmark_mt: (ctmark & mask) == mark
    name: 'connmark',
    type: 'match',
    options: [{ name: '--mark', kind: 'markMask', negatable: true }],
    check: (e) => (e.opts.length ? undefined : 'connmark: option "--mark" must be specified'),
  },
  {
    // xt_pkttype.c: the link-layer packet type
    name: 'pkttype',
    type: 'match',
    options: [{ name: '--pkt-type', kind: 'pktType', negatable: true }],
    check: (e) => (e.opts.length ? undefined : 'pkttype: option "--pkt-type" must be specified'),
  },
  {
    // xt_physdev.c: the bridge ports of a bridged frame (br_netfilter)
    name: 'physdev',
    type: 'match',
    options: [
      { name: '--physdev-is-in', kind: 'flag', negatable: true },
      { name: '--physdev-in', kind: 'ifaceName', negatable: true },
      { name: '--physdev-is-out', kind: 'flag', negatable: true },
      { name: '--physdev-out', kind: 'ifaceName', negatable: true },
      { name: '--physdev-is-bridged', kind: 'flag', negatable: true },
    ],
    check: (e) => (e.opts.length ? undefined : 'PHYSDEV: no physdev option specified'),
    // physdev_mt_check: the output port is not known yet in OUTPUT, unless the rule asks for bridged frames
    hookCheck: (e, hook) => {
      const bridged = opt(e, '--physdev-is-bridged');
      if ((has(e, '--physdev-out') || has(e, '--physdev-is-out')) && (!bridged || bridged.neg) && hook === 'OUTPUT')
        return (
          '--physdev-out and --physdev-is-out only supported in the FORWARD and POSTROUTING chains' +
          ' with bridged traffic'
        );
      return undefined;
    },
  },
  // ---- targets
  {
    // xt_NFQUEUE.c: NF_QUEUE to a queue nobody reads: dropped, or with --queue-bypass on to the next table
    name: 'NFQUEUE',
    type: 'target',
    options: [
      { name: '--queue-num', kind: 'uint', range: [0, 65535], group: 'nfqueue', fill: 0 },
      { name: '--queue-balance', kind: 'queueBalance', group: 'nfqueue' },
      { name: '--queue-bypass', kind: 'flag' },
      { name: '--queue-cpu-fanout', kind: 'flag' },
    ],
    check: (e) =>
      has(e, '--queue-cpu-fanout') && !has(e, '--queue-balance')
        ? 'NFQUEUE: option "--queue-cpu-fanout" also requires "--queue-balance".'
        : undefined,
    verdict: true,
  },
  {
    // xt_TCPMSS.c: rewrites the MSS option of SYNs; XT_CONTINUE
    name: 'TCPMSS',
    type: 'target',
    protos: [IPPROTO.TCP],
    options: [
      { name: '--set-mss', kind: 'uint', range: [0, 65535], group: 'mss', lastWins: true },
      { name: '--clamp-mss-to-pmtu', kind: 'flag', group: 'mss', lastWins: true },
    ],
    // libxt_TCPMSS: both options write info->mss, so the later one wins (measured); --set-mss 65535 is
    // XT_TCPMSS_CLAMP_PMTU
    normalize: (opts) => {
      const last = opts.filter((o) => o.name === '--set-mss' || o.name === '--clamp-mss-to-pmtu').at(-1);
      return opts
        .filter((o) => (o.name !== '--set-mss' && o.name !== '--clamp-mss-to-pmtu') || o === last)
        .map((o) =>
          o.name === '--set-mss' && o.value === 65535 ? { ...o, name: '--clamp-mss-to-pmtu', value: true } : o,
        );
    },
    check: (e) => (e.opts.length ? undefined : 'TCPMSS target: At least one parameter is required'),
    hookCheck: (e, hook) =>
      has(e, '--clamp-mss-to-pmtu') && !['FORWARD', 'OUTPUT', 'POSTROUTING'].includes(hook)
        ? `TCPMSS --clamp-mss-to-pmtu is only valid from FORWARD, OUTPUT, POSTROUTING, not ${hook}`
        : undefined,
    // tcpmss_tg4_check: x_tables wants a tcp match on SYN in the same rule; nft_compat skips the check
    ruleCheck: (r, backend) =>
      backend === 'legacy' && !hasSynMatch(r)
        ? 'TCPMSS: Only works on TCP SYN packets (add --tcp-flags SYN,RST SYN)'
        : undefined,
  },
  {
    // xt_CHECKSUM.c: fills in a checksum; XT_CONTINUE
    name: 'CHECKSUM',
    type: 'target',
    tables: ['mangle'],
    options: [{ name: '--checksum-fill', kind: 'flag' }],
    check: (e) => (e.opts.length ? undefined : 'CHECKSUM: option "--checksum-fill" must be specified'),
  },
  {
    // xt_TPROXY.c tproxy_tg4: a packet no transparent socket takes is dropped
    name: 'TPROXY',
    type: 'target',
    tables: ['mangle'],
    hooks: ['PREROUTING'],
    protos: [IPPROTO.TCP, IPPROTO.UDP],
    options: [
      // XTTYPE_PORT: decimal or a service name ("010" is 10)
      { name: '--on-port', kind: 'port' },
      { name: '--on-ip', kind: 'ipAddr', fill: 0 },
      { name: '--tproxy-mark', kind: 'xmark', fill: { value: 0, mask: 0 } satisfies MarkMask },
    ],
    // --tproxy-mark V is V/0xffffffff (libxt_TPROXY: XTTYPE_MARKMASK32)
    check: (e) => (has(e, '--on-port') ? undefined : 'TPROXY: option "--on-port" must be specified'),
    verdict: true,
  },
  {
    // xt_CT.c xt_ct_tg: --notrack, a helper, a zone (template for the new connection)
    name: 'CT',
    type: 'target',
    tables: ['raw'],
    options: [
      { name: '--notrack', kind: 'flag' },
      { name: '--helper', kind: 'helperName' },
      zoneOpt('--zone'),
      zoneOpt('--zone-orig'),
      zoneOpt('--zone-reply'),
    ],
    normalize: normalizeZone,
    more: [
      ['--ctevents', 1],
      ['--expevents', 1],
      ['--timeout', 1],
    ],
    check: (e, proto) => {
      const helper = opt(e, '--helper')?.value as string | undefined;
      // xt_ct_tg_check: --notrack returns before the helper is looked up
      if (helper !== undefined && !has(e, '--notrack')) {
        const protos = CT_HELPERS[helper];
        if (!protos) return `CT: no conntrack helper "${helper}" in this kernel (ENOENT)`;
        if (proto === undefined || !protos.includes(proto))
          return `CT --helper ${helper}: the rule must give -p for the helper's protocol (ENOENT)`;
      }
      return undefined;
    },
  },
];

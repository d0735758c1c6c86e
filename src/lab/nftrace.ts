// The kernel's own rule trace (spec/nft.md §7): a table whose chains at the lowest priority set
// `meta nftrace set 1` on every packet of a host, and `nft -a monitor` lines read back as segments, one per
// base chain a packet went through: the rules that ran to their end, by handle, and the policy if it
// decided (net/netfilter/nf_tables_trace.c: NFT_TRACETYPE_RULE for a rule whose expressions all ran,
// NFT_TRACETYPE_POLICY). The model's trace gives the same segments (conform/nftrace-compare.ts).

/** The table the lab adds to trace a host's packets; its own lines are left out. */
export const TRACE_TABLE = 'nfc_trace';

/** INT_MIN: before every other hook entry, so that every chain sees the trace bit. IPv4 only: the lab's
 *  interfaces send IPv6 neighbour discovery and MLD on their own, which inet chains would trace too. */
export const NFTRACE_RULESET = `table inet ${TRACE_TABLE} {
  chain pre {
    type filter hook prerouting priority -2147483648; policy accept;
    meta nfproto ipv4 meta nftrace set 1
  }
  chain out {
    type filter hook output priority -2147483648; policy accept;
    meta nfproto ipv4 meta nftrace set 1
  }
}
`;

/** One base chain's evaluation of one packet. */
export interface TraceSegment {
  /** "family name" */
  table: string;
  /** the base chain */
  base: string;
  /** rules that ran to their end, in order: chain and handle */
  rules: { chain: string; handle: number }[];
  /** the base chain's policy, when it decided */
  policy?: string;
  /** the packet's transport ports as the trace printed them (TCP and UDP) */
  ports?: [number, number];
  /** the packet is neither TCP, UDP nor ICMP (an interface's own IGMP report): never a probe's */
  foreign?: true;
}

/** The segments of one flow's packets: those without ports (ICMP), and those one of whose ports is the
 *  flow's (its client port, or the port a NAT gave it). A late packet of an earlier connection is traced in
 *  the same window but is not this probe's. */
export function flowSegments(segs: readonly TraceSegment[], ports: ReadonlySet<number> | 'any'): TraceSegment[] {
  const ours = (s: TraceSegment) => ports === 'any' || !s.ports || ports.has(s.ports[0]) || ports.has(s.ports[1]);
  return segs.filter((s) => !s.foreign && ours(s));
}

/** One segment as text, for comparisons and reports: "inet t input: input#4 foo#9 | policy accept". */
export function segmentText(s: TraceSegment): string {
  const rules = s.rules.map((r) => `${r.chain}#${r.handle}`).join(' ');
  return `${s.table} ${s.base}: ${rules}${s.policy ? ` | policy ${s.policy}` : ''}`;
}

const LINE = /^trace id (\S+) (\S+) (\S+) (\S+) (packet:|rule |policy |verdict )(.*)$/;

/** `nft -a monitor` trace lines into segments, in the order their packets started them. */
export function parseTrace(lines: readonly string[]): TraceSegment[] {
  const out: TraceSegment[] = [];
  const open = new Map<string, TraceSegment>();
  for (const line of lines) {
    const m = LINE.exec(line.trimEnd());
    if (!m) continue;
    const [, id, family, table, chain, kind, rest] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (table === TRACE_TABLE) continue;
    const key = `${id} ${family} ${table}`;
    if (kind === 'packet:') {
      const seg: TraceSegment = { table: `${family} ${table}`, base: chain, rules: [] };
      const sp = / (?:tcp|udp) sport (\d+)/.exec(rest);
      const dp = / (?:tcp|udp) dport (\d+)/.exec(rest);
      if (sp && dp) seg.ports = [Number(sp[1]), Number(dp[1])];
      else if (!/ icmp (type|code|id) /.test(` ${rest} `)) seg.foreign = true;
      open.set(key, seg);
      out.push(seg);
      continue;
    }
    const seg = open.get(key);
    if (!seg) continue;
    if (kind === 'rule ') {
      const h = /# handle (\d+) \(verdict [^)]*\)$/.exec(rest);
      if (h) seg.rules.push({ chain, handle: Number(h[1]) });
    } else if (kind === 'policy ') seg.policy = rest.split(' ')[0]!;
  }
  return out;
}

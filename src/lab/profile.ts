// Where a kernel campaign's time goes (issue 14 §4): each phase's count and time, summed over every lab that
// ran (labs side by side overlap, so the phases add up to lab-seconds, not to the campaign's wall time).

/** The phases a kernel case's time is spent in. */
export const PHASES = {
  build: 'lab build (namespaces, links, agents)',
  renew: 'hosts renewed in a kept lab (a registered legacy table)',
  down: 'lab teardown',
  reset: 'lab reset between cases',
  'reset-wait': "reset: waiting out ip_error's routing-error tokens",
  'reset-settle': 'reset: flushing neighbours again after a reset that sent packets',
  reconfigure: 'lab reconfigure (sysctls, hairpin, ipsets)',
  apply: 'rule applies (iptables-restore, nft -f)',
  command: 'commands between probes (iptables, conntrack, recent)',
  wait: "case wait steps (the kernel's clock)",
  'probe-answered': 'probes answered (or refused locally)',
  'probe-dropped': 'probes dropped: the timeout and its confirmation wait',
  conntrack: "conntrack reads of each probe's flow",
  counters: 'iptables-save -c around probes (counters)',
  nftrace: 'nft rule trace around probes',
  model: 'model (lab compile, probes, commands)',
  plan: 'case planning (parse, print, compile Services)',
  shrink: 'shrinking a divergence (whole cases)',
} as const;

export type Phase = keyof typeof PHASES;

export interface PhaseTime {
  phase: Phase;
  what: string;
  count: number;
  ms: number;
}

/** Why a campaign built a lab rather than reset the one it had (LabPool.get). */
export const BUILD_CAUSES = {
  first: "a pool's first lab",
  links: 'other hosts or links than the last case',
  'conntrack-hooked': 'conntrack still hooked after the reset (a registered legacy table, a refused restore)',
  redirects: 'ICMP redirects sent (per-source state no reset undoes)',
  'renew-failed': "renewing a host's namespace failed",
  'reset-failed': 'the reset failed',
  unsettled: 'neighbour entries kept coming back after the reset',
} as const;

export type BuildCause = keyof typeof BUILD_CAUSES;

/** Counts and times per phase; one instance is shared by every lab of a campaign. */
export class PhaseTimes {
  private readonly acc = new Map<Phase, { count: number; ms: number }>();
  private readonly causes = new Map<BuildCause, number>();

  /** one lab built for this cause */
  built(cause: BuildCause): void {
    this.causes.set(cause, (this.causes.get(cause) ?? 0) + 1);
  }

  /** How many labs were built for each cause, the most frequent first. */
  buildCauses(): { cause: BuildCause; what: string; count: number }[] {
    return [...this.causes]
      .map(([cause, count]) => ({ cause, what: BUILD_CAUSES[cause], count }))
      .sort((x, y) => y.count - x.count);
  }

  add(phase: Phase, ms: number, count = 1): void {
    const a = this.acc.get(phase) ?? { count: 0, ms: 0 };
    a.count += count;
    a.ms += ms;
    this.acc.set(phase, a);
  }

  /** Runs `what` and books its time to `phase` (also when it throws). */
  async time<T>(phase: Phase, what: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await what();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  /** The same, for synchronous work (the model). */
  timeSync<T>(phase: Phase, what: () => T): T {
    const t0 = performance.now();
    try {
      return what();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  /** Every phase that ran, the longest first. */
  report(): PhaseTime[] {
    return [...this.acc]
      .map(([phase, a]) => ({ phase, what: PHASES[phase], count: a.count, ms: Math.round(a.ms) }))
      .sort((x, y) => y.ms - x.ms);
  }
}

/** The breakdown as a table: each phase's count, time, share of the labs' time (labs x wall) and mean. */
export function renderProfile(
  phases: readonly PhaseTime[],
  wallMs: number,
  labs: number,
  builds: readonly { what: string; count: number }[] = [],
): string {
  const labMs = wallMs * Math.max(1, labs);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rows = phases.map((p) => [
    p.what,
    String(p.count),
    s(p.ms),
    p.phase === 'shrink' ? '' : `${((100 * p.ms) / labMs).toFixed(1)}%`,
    p.count ? `${(p.ms / p.count).toFixed(0)} ms` : '',
  ]);
  const head = ['phase', 'count', 'time', 'share', 'mean'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    '  ' + r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  const accounted = phases.filter((p) => p.phase !== 'shrink').reduce((n, p) => n + p.ms, 0);
  return [
    `where the time went: ${labs} lab${labs === 1 ? '' : 's'} x ${s(wallMs)} wall = ${s(labMs)}` +
      ` (phases overlap across labs; shrinking's cases are counted in the phases too)`,
    line(head),
    ...rows.map(line),
    line(['other (engine, judging, labs idle)', '', s(Math.max(0, labMs - accounted)), '', '']),
    ...(builds.length
      ? ['labs built, by cause:', ...builds.map((b) => `  ${String(b.count).padStart(6)}  ${b.what}`)]
      : []),
  ].join('\n');
}

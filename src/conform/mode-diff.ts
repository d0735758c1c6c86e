// The differential of kube-proxy's two modes: random Service sets compiled in iptables mode and in nftables
// mode, the same probes on both (on the model, which evaluates both languages in one hook model), and every
// probe whose results differ is either one of the documented differences (the oracle, told the mode,
// predicts differently: spec/kube.md §2a) or an undocumented one, which fails the campaign.
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';
import fc from 'fast-check';
import type { Observation, Weighted } from '../model/index.ts';
import { readCluster } from '../kube/objects.ts';
import { predict, K8S_NODE_LAYOUT } from '../kube/oracle.ts';
import { serviceCaseArb, serviceCase, type ServiceCaseDraw } from './service-arbitraries.ts';
import { runCases } from './run-case.ts';
import type { CaseFile } from './case-file.ts';

export interface ModeDifference {
  services: string;
  probe: string;
  iptables: string[];
  nftables: string[];
}

export interface ModeDiffReport {
  sets: number;
  probes: number;
  /** probes the two modes answered alike */
  same: number;
  /** probes that differ as spec/kube.md §2a documents (the oracle's predictions differ too) */
  documented: number;
  undocumented: ModeDifference[];
  /** Service sets left out: the model could not read the nftables-mode table (none expected) */
  skipped: number;
  /** repeated connections to a ClientIP-affinity Service (after the first one): its affinity entry decides them */
  sticky: number;
}

/** One possibility, as far as the Services decide it (the port a masquerade picks is left out). */
function key(o: Weighted<Observation>): string {
  const v = o.value;
  const seen = v.seen ? v.seen.src.replace(/:[^:]*$/, '') : '-';
  return `${v.outcome} ${v.responder ?? '-'} seen=${seen} icmp=${v.icmp ?? '-'} p=${o.p.toFixed(6)}`;
}
const keys = (d: Weighted<Observation>[]) => d.map(key).sort();
const noP = (k: string) => k.replace(/ p=[0-9.]+$/, '');

/** Random Service sets, ClientIP affinity included (spec/kube.md §2a). */
export const modeDiffArb = (maxServices = 12) => serviceCaseArb(maxServices);

export async function modeDiff(
  runs: number,
  seed: number,
  maxServices = 12,
  kubeProxyVersion?: KubeProxyVersion,
): Promise<ModeDiffReport> {
  return modeDiffOf(fc.sample(modeDiffArb(maxServices), { numRuns: runs, seed }), seed, kubeProxyVersion);
}

/** The differential over given draws (modeDiffArb's); `seed` only names the cases. */
export async function modeDiffOf(
  draws: readonly ServiceCaseDraw[],
  seed: number,
  kubeProxyVersion?: KubeProxyVersion,
): Promise<ModeDiffReport> {
  const out: ModeDiffReport = { sets: 0, probes: 0, same: 0, documented: 0, undocumented: [], skipped: 0, sticky: 0 };
  for (const [i, d] of draws.entries()) {
    const c0: CaseFile = serviceCase(d, `mode-diff ${seed}#${i}`);
    // a probe to a ClientIP-affinity Service is repeated: later connections follow the affinity entry
    const c: CaseFile = {
      ...c0,
      steps: c0.steps.map((st) => {
        const svc = 'dst' in st ? d.services[serviceIndex(st.dst, st.dport ?? 0)] : undefined;
        return svc?.affinity ? { ...st, repeat: 3 } : st;
      }),
    };
    const [a] = await runCases([c], { sides: 'model' });
    const [b] = await runCases([c], {
      sides: 'model',
      mode: 'nftables',
      ...(kubeProxyVersion ? { kubeProxyVersion } : {}),
    });
    if (!a || !b) throw new Error('no report');
    if (b.model === 'skip') {
      out.skipped++;
      continue;
    }
    out.sets++;
    const cluster = readCluster(c.services!.text!, '<generated>', { strict: true });
    // client, protocol and affinity Service -> the endpoints its first delivered connection could reach: later
    // ones stick to one of those. A connection no endpoint took (the wrong protocol on a NodePort, a drop) makes
    // no affinity entry, so the next one is a first one again.
    const firstOf = new Map<string, Set<string>>();
    a.steps.forEach((sa, k) => {
      const sb = b.steps[k]!;
      if (!sa.probe) return;
      out.probes++;
      const reps = sa.repetitions ?? sa.model.length;
      if (reps > 1) out.sticky += reps - 1;
      const differs = sa.model.map((m, r) => [keys(m), keys(sb.model[r] ?? [])] as const);
      // a later connection to an affinity Service follows the branch each run took for the first (its most
      // likely one, which equal probabilities leave to the order of the branches): alike when each mode sticks
      // to one of the possibilities of the client's first connection to it
      const st = c.steps[k]!;
      const svc = 'dst' in st ? serviceIndex(st.dst, st.dport ?? 0) : -1;
      const sticky = d.services[svc]?.affinity === true;
      const client = `${sa.probe.from} ${sa.probe.proto} ${svc}`;
      const earlier = sticky ? firstOf.get(client) : undefined;
      const first = earlier ?? new Set(differs[0]![0].map(noP));
      const reached = [...first].filter((k) => k.startsWith('delivered '));
      if (sticky && !earlier && reached.length) firstOf.set(client, new Set(reached));
      const sticks = (x: readonly string[]) => x.length === 1 && x[0]!.endsWith('p=1.000000') && first.has(noP(x[0]!));
      const at = differs.findIndex(
        ([x, y], r) =>
          JSON.stringify(x) !== JSON.stringify(y) && !((r > 0 || earlier) && sticky && sticks(x) && sticks(y)),
      );
      if (at < 0) {
        out.same++;
        return;
      }
      const [ka, kb] = differs[at]!;
      const layout = { ...K8S_NODE_LAYOUT, clusterCIDR: c.services!.clusterCIDR };
      const from = sa.probe.from;
      const addr = K8S_NODE_LAYOUT.nodes.find((n) => n.name === from)?.addresses[0] ?? hostAddress(from);
      const pi = predict(cluster, layout, sa.probe, addr);
      const pn = predict(cluster, { ...layout, proxyMode: 'nftables' }, sa.probe, addr);
      if (JSON.stringify(pi) !== JSON.stringify(pn)) out.documented++;
      else out.undocumented.push({ services: c.services!.text!, probe: sa.label, iptables: ka, nftables: kb });
    });
  }
  return out;
}

/** The drawn Service a probe aims at (service-arbitraries.ts: ClusterIP 10.96.1.N+1, LB 203.0.113.100+N,
 *  NodePort 30100+N). */
function serviceIndex(dst: string, dport: number): number {
  if (dport >= 30100) return dport - 30100;
  const m = /^(?:10\.96\.1\.(\d+)|203\.0\.113\.(\d+))$/.exec(dst);
  if (!m) return -1;
  return m[1] !== undefined ? Number(m[1]) - 1 : Number(m[2]) - 100;
}

const hostAddress = (host: string): string =>
  Object.entries(K8S_NODE_LAYOUT.hostOf).find(([, h]) => h === host)?.[0] ?? '0.0.0.0';

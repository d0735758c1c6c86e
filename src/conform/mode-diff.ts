// The differential of kube-proxy's two modes: random Service sets compiled in iptables mode and in nftables
// mode, the same probes on both (on the model, which evaluates both languages in one hook model), and every
// probe whose results differ is either one of the documented differences (the oracle, told the mode,
// predicts differently: spec/kube.md §2a) or an undocumented one, which fails the campaign.
import fc from 'fast-check';
import type { Observation, Weighted } from '../model/index.ts';
import { readCluster } from '../kube/objects.ts';
import { predict, K8S_NODE_LAYOUT } from '../kube/oracle.ts';
import { serviceCaseArb, serviceCase, type ServiceDraw } from './service-arbitraries.ts';
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
  /** Service sets left out: the model reads nftables mode's ClientIP affinity sets only in part */
  skipped: number;
}

/** One possibility, as far as the Services decide it (the port a masquerade picks is left out). */
function key(o: Weighted<Observation>): string {
  const v = o.value;
  const seen = v.seen ? v.seen.src.replace(/:[^:]*$/, '') : '-';
  return `${v.outcome} ${v.responder ?? '-'} seen=${seen} icmp=${v.icmp ?? '-'} p=${o.p.toFixed(6)}`;
}
const keys = (d: Weighted<Observation>[]) => d.map(key).sort();

/** Random Service sets without ClientIP affinity (whose nftables-mode sets the model does not read yet). */
export const modeDiffArb = (maxServices = 12) =>
  serviceCaseArb(maxServices).map((d) => ({
    ...d,
    services: d.services.map((s): ServiceDraw => ({ ...s, affinity: false })),
  }));

export async function modeDiff(runs: number, seed: number, maxServices = 12): Promise<ModeDiffReport> {
  const draws = fc.sample(modeDiffArb(maxServices), { numRuns: runs, seed });
  const out: ModeDiffReport = { sets: 0, probes: 0, same: 0, documented: 0, undocumented: [], skipped: 0 };
  for (const [i, d] of draws.entries()) {
    const c: CaseFile = serviceCase(d, `mode-diff ${seed}#${i}`);
    const [a] = await runCases([c], { sides: 'model' });
    const [b] = await runCases([c], { sides: 'model', mode: 'nftables' });
    if (!a || !b) throw new Error('no report');
    if (b.model === 'skip') {
      out.skipped++;
      continue;
    }
    out.sets++;
    const cluster = readCluster(c.services!.text!, '<generated>', { strict: true });
    a.steps.forEach((sa, k) => {
      const sb = b.steps[k]!;
      if (!sa.probe) return;
      out.probes++;
      const ka = keys(sa.model[0] ?? []);
      const kb = keys(sb.model[0] ?? []);
      if (JSON.stringify(ka) === JSON.stringify(kb)) {
        out.same++;
        return;
      }
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

const hostAddress = (host: string): string =>
  Object.entries(K8S_NODE_LAYOUT.hostOf).find(([, h]) => h === host)?.[0] ?? '0.0.0.0';

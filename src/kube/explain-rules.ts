// Which rules of a node's dump no Service explains: leftovers of deleted Services,
// chains nothing jumps to, and rules or chains that are not kube-proxy's at all.
// Heuristic by design (spec/kube.md §6): kube-proxy versions differ in rule text, so
// rules are attributed by their "ns/name:port" comments, by reachability from the
// kube-proxy entry chains, and by the addresses they match.
import { printRuleSpec, type Ruleset, type Rule, type TableName } from '../model/index.ts';
import { isBuiltinChain, ruleComment } from '../model/index.ts';
import { formatIp } from '../model/index.ts';
import type { Cluster } from './objects.ts';
import { resolve } from './endpoints.ts';

export interface RuleWarning {
  /** an iptables table, or an nft table as "family name" */
  table: TableName | string;
  chain: string;
  /** 1-based rule number, or undefined for the whole chain */
  rule?: number;
  line?: number;
  text: string;
  why: string;
}

/** kube-proxy's own fixed chains (and kubelet's), whatever the Services. */
const KUBE_FIXED = new Set([
  'KUBE-SERVICES',
  'KUBE-NODEPORTS',
  'KUBE-POSTROUTING',
  'KUBE-MARK-MASQ',
  'KUBE-MARK-DROP',
  'KUBE-FORWARD',
  'KUBE-PROXY-FIREWALL',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-FIREWALL',
  'KUBE-KUBELET-CANARY',
  'KUBE-PROXY-CANARY',
  'KUBE-LOAD-BALANCER',
  'KUBE-IPTABLES-HINT',
]);
const PER_SERVICE = /^KUBE-(SVC|SVL|EXT|FW|SEP|XLB)-[A-Z2-7]{16}$/;

const commentOf = ruleComment;
/** "ns/name:port ..." or "ns/name ..." at the start of a comment names a Service port */
const spnOf = (comment: string | undefined) =>
  comment ? /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)(:[^\s]*)?(\s|$)/.exec(comment) : null;
const targetChain = (r: Rule) => (r.target?.kind === 'jump' || r.target?.kind === 'goto' ? r.target.chain : undefined);

export function unexplainedRules(rs: Ruleset, cluster: Cluster, nodeName: string): RuleWarning[] {
  const out: RuleWarning[] = [];
  const ports = resolve(cluster, nodeName);
  const services = new Set(cluster.services.map((s) => `${s.namespace}/${s.name}`));
  const addresses = new Set(
    ports.flatMap((rp) =>
      [rp.svc.clusterIP, ...rp.svc.externalIPs, ...rp.svc.loadBalancerIPs, ...rp.cluster.map((e) => e.ip)].filter(
        (x): x is string => Boolean(x),
      ),
    ),
  );
  for (const [tname, table] of rs.tables) {
    const referenced = new Set<string>();
    for (const c of table.chains.values())
      for (const r of c.rules) {
        const t = targetChain(r);
        if (t) referenced.add(t);
      }
    for (const c of table.chains.values()) {
      const builtin = isBuiltinChain(tname, c.name);
      if (!builtin && !c.name.startsWith('KUBE-')) {
        out.push({ table: tname, chain: c.name, text: `:${c.name}`, why: "a chain that is not kube-proxy's" });
        continue;
      }
      if (!builtin && !KUBE_FIXED.has(c.name)) {
        if (!PER_SERVICE.test(c.name))
          out.push({ table: tname, chain: c.name, text: `:${c.name}`, why: 'a KUBE- chain kube-proxy does not make' });
        else if (!referenced.has(c.name))
          out.push({ table: tname, chain: c.name, text: `:${c.name}`, why: 'nothing jumps to it (a stale chain)' });
      }
      c.rules.forEach((r, i) => {
        const at = {
          table: tname,
          chain: c.name,
          rule: i + 1,
          ...(r.pos ? { line: r.pos.line } : {}),
          text: `-A ${c.name} ${printRuleSpec(r)}`,
        };
        const t = targetChain(r);
        if (builtin) {
          if (!t?.startsWith('KUBE-'))
            out.push({
              ...at,
              why: "a rule in a built-in chain that does not lead to kube-proxy's chains (a foreign rule)",
            });
          return;
        }
        if (t && !t.startsWith('KUBE-')) out.push({ ...at, why: `jumps to ${t}, not a kube-proxy chain` });
        const spn = spnOf(commentOf(r));
        if (spn && !services.has(spn[1]!))
          out.push({ ...at, why: `for Service ${spn[1]}, which does not exist (a leftover)` });
        if (
          c.name === 'KUBE-SERVICES' &&
          r.dst &&
          !r.dst.neg &&
          r.dst.value.len === 32 &&
          !addresses.has(formatIp(r.dst.value.addr))
        ) {
          out.push({ ...at, why: `matches ${formatIp(r.dst.value.addr)}, which is no Service's address` });
        }
      });
    }
  }
  return out;
}

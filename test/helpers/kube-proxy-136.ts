// kube-proxy 1.36's masquerading (spec/kube.md §2a, "Which kube-proxy") on a 1.33-1.35 listing: no
// mark-for-masquerade chain, the ClusterIP rule first in `services`, masquerading as one rule, hairpin by the
// `hairpin-connections` set instead of a rule per endpoint chain. The endpoint chains stay (1.36 squashes the
// ones without affinity into a `dnat ... map`, which the model does not read yet): the masquerade rework alone.
const MARK = 'meta mark set meta mark | 0x00004000';

export function withMasquerading136(listing: string, clusterCIDR: string): string {
  const hairpin: string[] = [];
  const out: string[] = [];
  let chain = '';
  let endpoint: string | undefined;
  for (const line of listing.split('\n')) {
    const head = /^\tchain (\S+) \{$/.exec(line);
    if (head) chain = head[1]!;
    if (chain === 'mark-for-masquerade') {
      if (line === '\t}') chain = '';
      continue;
    }
    if (line === '' && out.at(-1) === '') continue;
    // an endpoint chain's hairpin rule: the set's element instead
    const self = /^\t\tip saddr ([\d.]+) jump mark-for-masquerade$/.exec(line);
    if (self && chain.startsWith('endpoint-')) {
      endpoint = self[1];
      continue;
    }
    const dnat = /^\t\tmeta l4proto (\w+) dnat to ([\d.]+):(\d+)$/.exec(line);
    if (dnat && endpoint === dnat[2]) hairpin.push(`${endpoint} . ${endpoint} . ${dnat[1]} . ${dnat[3]}`);
    if (dnat) endpoint = undefined;
    // the Service chains' ClusterIP rule: one rule in `services` instead
    if (/^\t\tip daddr [\d.]+ .*jump mark-for-masquerade$/.test(line)) continue;
    if (chain === 'masquerading' && line.startsWith('\t\t')) {
      if (line.endsWith('return'))
        out.push(
          '\t\tmeta mark & 0x00004000 != 0x00000000 meta mark set meta mark ^ 0x00004000 masquerade fully-random',
          '\t\tct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections' +
            ' masquerade fully-random',
        );
      continue;
    }
    out.push(line.replace('jump mark-for-masquerade', MARK));
    if (head && chain === 'services')
      out.push(`\t\tip daddr @cluster-ips ip saddr != ${clusterCIDR} ${MARK} comment "masquerade clusterIP traffic"`);
  }
  const at = out.findIndex((l) => /^table ip kube-proxy \{$/.test(l));
  out.splice(
    at + 1,
    0,
    '\tset hairpin-connections {',
    '\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service',
    ...(hairpin.length ? [`\t\telements = { ${[...new Set(hairpin)].join(',\n\t\t\t     ')} }`] : []),
    '\t}',
    '',
  );
  return out.join('\n');
}

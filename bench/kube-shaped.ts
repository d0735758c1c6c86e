// kube-proxy-shaped nat rulesets of any size, for benchmarks (the real compiler comes with the Service layer).
export function kubeShapedRuleset(services: number, endpointsPer = 2): { text: string; vips: string[] } {
  const chains: string[] = [
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-NODEPORTS - [0:0]',
  ];
  const rules: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -j MASQUERADE --random-fully',
  ];
  const vips: string[] = [];
  for (let s = 0; s < services; s++) {
    const vip = `10.96.${(s >> 8) & 255}.${s & 255}`;
    vips.push(vip);
    const svc = `KUBE-SVC-${s.toString(36).toUpperCase().padStart(6, '0')}`;
    chains.push(`:${svc} - [0:0]`);
    rules.push(
      `-A KUBE-SERVICES -d ${vip}/32 -p tcp -m comment --comment "ns/svc-${s}:http cluster IP"` +
        ` -m tcp --dport 80 -j ${svc}`,
    );
    rules.push(`-A ${svc} ! -s 10.244.0.0/16 -d ${vip}/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ`);
    for (let e = 0; e < endpointsPer; e++) {
      const sep = `KUBE-SEP-${s.toString(36).toUpperCase().padStart(6, '0')}${e}`;
      chains.push(`:${sep} - [0:0]`);
      const ep = `10.244.${1 + (((s * endpointsPer + e) >> 8) % 200)}.${(s * endpointsPer + e) & 255}`;
      rules.push(
        e < endpointsPer - 1
          ? `-A ${svc} -m statistic --mode random --probability ${(1 / (endpointsPer - e)).toFixed(11)} -j ${sep}`
          : `-A ${svc} -j ${sep}`,
      );
      rules.push(`-A ${sep} -s ${ep}/32 -j KUBE-MARK-MASQ`);
      rules.push(`-A ${sep} -p tcp -m tcp -j DNAT --to-destination ${ep}:8080`);
    }
  }
  rules.push('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  const text = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...chains,
    ...rules,
    'COMMIT',
    '',
  ].join('\n');
  return { text, vips };
}

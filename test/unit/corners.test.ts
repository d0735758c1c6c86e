// The fuzzer's reach (issue 14 §1): the corners drawn on purpose (src/conform/corner-arbitraries.ts) all come
// up in a campaign-sized sample and load on the model, and per-interface sysctls follow the kernel's rules
// for combining conf.all with an interface's own value (spec/semantics.md §1).
import { test, expect } from 'vitest';
import fc from 'fast-check';
import { REJECT_TYPES, compileTopology, k8sNode, ifaceConf, DEFAULT_SYSCTLS } from '../../src/model/index.ts';
import { cornerArb, withRules, REJECT_USER_CHAIN, ARP_IFACES } from '../../src/conform/corner-arbitraries.ts';
import { caseDrawArb, caseFromDraw } from '../../src/conform/fuzz-arbitraries.ts';
import { checkCase, caseTopology } from '../../src/conform/case-file.ts';
import { planCase } from '../../src/conform/plan.ts';
import { InputError } from '../../src/model/index.ts';

test('REJECT with every --reject-with in every chain where it loads, NAT in every nat chain, remote REJECT', () => {
  const seen = new Set<string>();
  for (const d of fc.sample(cornerArb(), { seed: 14, numRuns: 3000 })) {
    for (const r of d.node) {
      const target = /-j (\S+)(?: --reject-with (\S+))?/.exec(r.spec)!;
      if (target[1] === 'REJECT') seen.add(`${r.chain} ${target[2]}`);
      else seen.add(`${r.table} ${r.chain} ${target[1]}`);
    }
    if (d.remote) seen.add(`remote ${d.remote.host}`);
    for (const k of Object.keys(d.sysctls.nodeIfaces)) seen.add(`iface ${k}`);
  }
  for (const chain of ['INPUT', 'FORWARD', 'OUTPUT', REJECT_USER_CHAIN])
    for (const w of REJECT_TYPES) expect(seen, `${chain} ${w}`).toContain(`${chain} ${w}`);
  for (const x of [
    'nat PREROUTING DNAT',
    'nat OUTPUT DNAT',
    'nat POSTROUTING SNAT',
    'nat POSTROUTING MASQUERADE',
    'nat INPUT SNAT',
    'remote node2',
    'remote pod1',
    'remote pod3',
    'remote client',
    'iface cni0',
    'iface eth0',
    'iface eth1',
  ])
    expect(seen).toContain(x);
});

test('drawn cases load on the model (no ruleset refused), and most carry the drawn corners', async () => {
  const draws = fc.sample(caseDrawArb(), { seed: 7, numRuns: 150 });
  let corners = 0;
  for (const d of draws) {
    // the corners alone: reach-arbitraries.ts' recipes may be refused on purpose (a refusal is judged too)
    const plan = await planCase(caseFromDraw({ ...d, reach: undefined }));
    const refused = [...plan.rulesets, ...plan.otherRulesets].find((r) => r.refusal);
    expect(refused?.refusal?.message, refused?.text).toBeUndefined();
    if (d.corners) corners++;
  }
  expect(corners).toBeGreaterThan(draws.length / 3);
});

test('withRules puts rules first or last in their chain and declares the REJECT user chain', () => {
  const text = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n';
  const out = withRules(text, [
    { table: 'filter', chain: REJECT_USER_CHAIN, spec: '-j REJECT', first: true },
    { table: 'filter', chain: 'INPUT', spec: `-j ${REJECT_USER_CHAIN}`, first: true },
    { table: 'nat', chain: 'OUTPUT', spec: '-j DNAT --to-destination 10.244.1.11', first: false },
  ]);
  expect(out).toBe(
    [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      `:${REJECT_USER_CHAIN} - [0:0]`,
      `-A ${REJECT_USER_CHAIN} -j REJECT`,
      `-A INPUT -j ${REJECT_USER_CHAIN}`,
      '-A INPUT -j DROP',
      'COMMIT',
      '*nat',
      '-A OUTPUT -j DNAT --to-destination 10.244.1.11',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test("an interface's sysctls combine with the host's as the kernel's IN_DEV_* macros do", () => {
  const host = { ...DEFAULT_SYSCTLS, ip_forward: true, route_localnet: true, rp_filter: 2 as const };
  // forwarding: the interface's alone; rp_filter: max(conf.all = 0, the interface's); the others: all || own
  expect(ifaceConf(host, { forwarding: false, rp_filter: 1, route_localnet: false, accept_local: true })).toEqual({
    forwarding: false,
    rp_filter: 1,
    route_localnet: true,
    accept_local: true,
    arp_ignore: 0,
    arp_announce: 0,
    arp_filter: false,
  });
  expect(ifaceConf({ ...DEFAULT_SYSCTLS }, { forwarding: true, route_localnet: true })).toEqual({
    forwarding: true,
    rp_filter: 0,
    route_localnet: true,
    accept_local: false,
    arp_ignore: 0,
    arp_announce: 0,
    arp_filter: false,
  });
  // the ARP ones: max(conf.all, the interface's) and all || own (IN_DEV_ARP_IGNORE, _ARP_ANNOUNCE, IN_DEV_ARPFILTER)
  const arpHost = { ...DEFAULT_SYSCTLS, arp_ignore: 1 as const, arp_announce: 2 as const };
  expect(ifaceConf(arpHost, { arp_ignore: 2, arp_announce: 1, arp_filter: true })).toMatchObject({
    arp_ignore: 2,
    arp_announce: 2,
    arp_filter: true,
  });
  expect(ifaceConf({ ...arpHost, arp_filter: true }, { arp_ignore: 0, arp_filter: false })).toMatchObject({
    arp_ignore: 1,
    arp_announce: 2,
    arp_filter: true,
  });
  const spec = k8sNode();
  spec.hosts[0]!.ifaces.find((i) => i.name === 'cni0')!.sysctls = { forwarding: false };
  const node = compileTopology(spec).hosts.get('node')!;
  expect(node.ifaces.get('cni0')!.conf.forwarding).toBe(false);
  expect(node.ifaces.get('eth0')!.conf.forwarding).toBe(true);
});

test('the corner draws put ARP settings on one interface of a node, every value on every addressed interface', () => {
  const seen = new Set<string>();
  let drawn = 0;
  for (const d of fc.sample(caseDrawArb(), { seed: 1401, numRuns: 1500 })) {
    const ai = d.corners?.sysctls.arpIface;
    if (!ai) continue;
    drawn++;
    for (const [k, v] of Object.entries(ai.conf)) seen.add(`${ai.host} ${ai.iface} ${k}=${Number(v)}`);
    // the case file holds them as the interface's own, and the compiled topology combines them with conf.all
    const c = caseFromDraw(d);
    expect(c.hosts?.[ai.host]?.ifaceSysctls?.[ai.iface]).toMatchObject(ai.conf);
    const h = compileTopology(caseTopology(c)).hosts.get(ai.host)!;
    const conf = h.ifaces.get(ai.iface)!.conf;
    expect(conf.arp_ignore).toBe(Math.max(h.sysctls.arp_ignore, ai.conf.arp_ignore ?? 0));
    expect(conf.arp_announce).toBe(Math.max(h.sysctls.arp_announce, ai.conf.arp_announce ?? 0));
    expect(conf.arp_filter).toBe(h.sysctls.arp_filter || (ai.conf.arp_filter ?? false));
  }
  expect(drawn).toBeGreaterThan(100);
  for (const [host, ifaces] of Object.entries(ARP_IFACES))
    for (const i of ifaces)
      for (const kv of ['arp_ignore=1', 'arp_ignore=2', 'arp_ignore=8', 'arp_announce=2', 'arp_filter=1'])
        expect(seen).toContain(`${host} ${i} ${kv}`);
  expect(ARP_IFACES).toEqual({ node: ['cni0', 'eth0', 'eth1'], node2: ['cni0', 'eth1'] });
});

test('a case file names bad per-interface sysctls by their JSON path', () => {
  const base = { name: 'x', topology: 'k8s-node', steps: [{ from: 'pod1', proto: 'icmp', dst: '10.244.1.1' }] };
  const ok = checkCase({ ...base, hosts: { node: { ifaceSysctls: { cni0: { forwarding: false } } } } }, 'c.json');
  expect(caseTopology(ok).hosts[0]!.ifaces.find((i) => i.name === 'cni0')!.sysctls).toEqual({ forwarding: false });
  const bad = (hosts: unknown) => () => caseTopology(checkCase({ ...base, hosts }, 'c.json'));
  expect(bad({ node: { ifaceSysctls: { cni0: { ip_forward: true } } } })).toThrow(
    /hosts\.node\.ifaceSysctls\.cni0\.ip_forward: unknown field/,
  );
  expect(bad({ node: { ifaceSysctls: { cni0: { rp_filter: 3 } } } })).toThrow(/ifaceSysctls\.cni0\.rp_filter/);
  expect(bad({ node: { ifaceSysctls: { cni0: { arp_ignore: 4 } } } })).toThrow(
    /hosts\.node\.ifaceSysctls\.cni0\.arp_ignore: .*0, 1, 2, 8/,
  );
  expect(bad({ node: { ifaceSysctls: { eth0: { arp_announce: 3 } } } })).toThrow(/ifaceSysctls\.eth0\.arp_announce/);
  expect(bad({ node: { ifaceSysctls: { eth0: { arp_filter: 'yes' } } } })).toThrow(/ifaceSysctls\.eth0\.arp_filter/);
  const arp = checkCase({ ...base, hosts: { node: { ifaceSysctls: { eth0: { arp_ignore: 1 } } } } }, 'c.json');
  expect(compileTopology(caseTopology(arp)).hosts.get('node')!.ifaces.get('eth0')!.conf.arp_ignore).toBe(1);
  expect(bad({ node: { ifaceSysctls: { wlan9: { forwarding: true } } } })).toThrow(InputError);
  expect(bad({ node: { ifaceSysctls: { wlan9: { forwarding: true } } } })).toThrow(/no interface "wlan9" on "node"/);
});

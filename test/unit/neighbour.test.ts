// Neighbour resolution (spec/semantics.md §6.5, src/model/neighbour.ts): the ARP's sender, the owner's routing
// check that decides whether it is answered, and what later packets meet while a resolution nobody answers
// may be under way. Kernel-checked by suites/regressions/arp-from-loopback-source-*.json.
import { test, expect } from 'vitest';
import {
  k8sNode,
  makeLab,
  newWorld,
  runProbe,
  type Probe,
  type TopologySpec,
  type Sysctls,
  type IfaceSysctls,
} from '../../src/model/index.ts';
import { cloneWorld } from '../../src/model/lab-model.ts';
import { compileTopology } from '../../src/model/net/topology.ts';
import { martian, reversePath } from '../../src/model/net/martians.ts';
import {
  arpSender,
  arpIgnored,
  neighbourPlan,
  neighbourResolved,
  neighKey,
  validUse,
  NEIGH_GIVES_UP_S,
  REACHABLE_MIN_S,
} from '../../src/model/neighbour.ts';
import { newHostState } from '../../src/model/eval/packet.ts';
import { parseIp } from '../../src/model/ip.ts';

const ip = (s: string) => parseIp(s)!;

function net(edit: (spec: TopologySpec) => void = () => {}) {
  const spec = k8sNode();
  edit(spec);
  return compileTopology(spec);
}

test("arp_solicit asks with the waiting packet's source when it is local (127/8 too), else the device's", () => {
  const node = net().hosts.get('node')!;
  expect(arpSender(node, 'cni0', ip('10.244.1.12'), ip('127.0.0.1'))).toBe(ip('127.0.0.1'));
  expect(arpSender(node, 'cni0', ip('10.244.1.12'), ip('127.0.0.5'))).toBe(ip('127.0.0.5'));
  expect(arpSender(node, 'cni0', ip('10.244.1.12'), ip('192.168.50.10'))).toBe(ip('192.168.50.10'));
  // a forwarded packet's source is not the node's: inet_select_addr on cni0
  expect(arpSender(node, 'cni0', ip('10.244.1.12'), ip('192.168.50.20'))).toBe(ip('10.244.1.1'));
});

test('a 127/8 source needs route_localnet, then accept_local; rp_filter=1 refuses it, =2 does not', () => {
  const lo = ip('127.0.0.1');
  const tip = ip('10.244.1.12');
  const pod2 = (s: Record<string, unknown>) =>
    net((spec) => {
      const h = spec.hosts.find((x) => x.name === 'pod2')!;
      h.sysctls = { ...h.sysctls, ...s };
    }).hosts.get('pod2')!;
  expect(martian(pod2({}), 'eth0', lo, tip)).toMatch(/route_localnet=0/);
  expect(martian(pod2({ route_localnet: true }), 'eth0', lo, tip)).toMatch(/accept_local=0/);
  expect(martian(pod2({ accept_local: true }), 'eth0', lo, tip)).toMatch(/route_localnet=0/);
  const both = { route_localnet: true, accept_local: true };
  expect(martian(pod2(both), 'eth0', lo, tip)).toBeUndefined();
  expect(reversePath(pod2({ ...both, rp_filter: 1 }), 'eth0', lo)).toMatch(/rp_filter=1/);
  expect(reversePath(pod2({ ...both, rp_filter: 2 }), 'eth0', lo)).toBeUndefined();
  expect(reversePath(pod2({ route_localnet: true, rp_filter: 2 }), 'eth0', ip('127.0.0.5'))).toMatch(/rp_filter=2/);
  // an ordinary source: unchanged
  expect(martian(pod2({}), 'eth0', ip('192.168.50.10'), tip)).toBeUndefined();
  expect(reversePath(pod2({ rp_filter: 1 }), 'eth0', ip('192.168.50.10'))).toBeUndefined();
});

test('a resolution nobody answers: silent first, open within it, answered or failed after it', () => {
  const s = newHostState();
  const k = neighKey('cni0', ip('10.244.1.12'));
  expect(neighbourPlan(s, k, 0, false)).toEqual({ kind: 'silent' });
  // within it: a refused sender can only wait or hear the error; an answered one may also go out
  expect(neighbourPlan(s, k, 1, false)).toEqual({ kind: 'open', mayResolve: false });
  expect(neighbourPlan(s, k, 2, true)).toEqual({ kind: 'open', mayResolve: true });
  // once a packet with an answered sender waited in it, a refused one may still find the entry resolved
  expect(neighbourPlan(s, k, 2.5, false)).toEqual({ kind: 'open', mayResolve: true });
  // past it: resolved (or failed, and this one's probe is answered at once)
  expect(neighbourPlan(s, k, 2.5 + NEIGH_GIVES_UP_S, true)).toEqual({ kind: 'send' });
  // the caller makes it valid (path.ts arpAnswered); a valid entry sends
  neighbourResolved(s, k, { reachableAt: 2.5 + NEIGH_GIVES_UP_S, unconfirmable: false });
  expect(neighbourPlan(s, k, 100, false)).toEqual({ kind: 'send' });
  // past a resolution only refused senders waited in: a new one, silent again
  const t = newHostState();
  neighbourPlan(t, k, 0, false);
  expect(neighbourPlan(t, k, NEIGH_GIVES_UP_S, false)).toEqual({ kind: 'silent' });
  // past one an answered sender waited in: resolved or failed, which a refused sender cannot tell
  neighbourPlan(t, k, NEIGH_GIVES_UP_S + 1, true);
  expect(neighbourPlan(t, k, 3 * NEIGH_GIVES_UP_S, false)).toEqual({ kind: 'maybeValid' });
});

test('a valid entry whose owner refuses its reconfirmation may fail from its second stale use on', () => {
  // confirmable: always sent
  expect(validUse({ kind: 'valid' }, 1000, 9)).toEqual({ kind: 'valid' });
  // learned from the owner's request: STALE at once; its first use starts DELAY and goes, so does every packet of
  // that probe; a later probe's may find it FAILED (delay_first_probe_time + 3 unanswered probes)
  const learned = { kind: 'valid' as const, unconfirmable: true as const };
  const first = validUse(learned, 0, 1);
  expect(first).toEqual({ ...learned, staleUse: 1 });
  expect(validUse(first as typeof learned, 0, 1)).toEqual({ ...learned, staleUse: 1 });
  expect(validUse(first as typeof learned, 0, 2)).toBe('open');
  // answered: REACHABLE for at least REACHABLE_MIN_S of the model's clock, then as a learned one
  const answered = { ...learned, reachableAt: 10 };
  expect(validUse(answered, 10 + REACHABLE_MIN_S - 1, 5)).toEqual(answered);
  const stale = validUse(answered, 10 + REACHABLE_MIN_S, 6);
  expect(stale).toEqual({ ...answered, staleUse: 6 });
  expect(validUse(stale as typeof answered, 10 + REACHABLE_MIN_S, 7)).toBe('open');
});

/** `host` of k8s-node with host-wide (conf.all) ARP settings and an interface's own (conf.IF) */
function arpHost(host: string, all: Partial<Sysctls> = {}, own: Record<string, Partial<IfaceSysctls>> = {}) {
  return net((spec) => {
    const h = spec.hosts.find((x) => x.name === host)!;
    h.sysctls = { ...h.sysctls, ...all };
    for (const [name, conf] of Object.entries(own)) h.ifaces.find((x) => x.name === name)!.sysctls = conf;
  }).hosts.get(host)!;
}

const [eth0Addr, cni0Addr, pod1Addr, clientAddr] = ['192.168.50.10', '10.244.1.1', '10.244.1.11', '192.168.50.20'].map(
  ip,
) as [number, number, number, number];

test('arp_announce picks the ARP sender; arp_ignore and arp_filter decide whom the owner answers', () => {
  const node = arpHost('node');
  const pod1 = arpHost('pod1');
  // a SNATed packet from the node's eth0 address, queued for pod1 on cni0
  expect(arpSender(node, 'cni0', pod1Addr, eth0Addr)).toBe(eth0Addr);
  expect(arpSender(arpHost('node', { arp_announce: 1 }), 'cni0', pod1Addr, eth0Addr)).toBe(cni0Addr);
  expect(arpSender(arpHost('node', { arp_announce: 1 }), 'cni0', pod1Addr, cni0Addr)).toBe(cni0Addr);
  expect(arpSender(arpHost('node', { arp_announce: 2 }), 'cni0', pod1Addr, eth0Addr)).toBe(cni0Addr);
  expect(arpSender(node, 'cni0', pod1Addr, clientAddr)).toBe(cni0Addr);
  expect(arpIgnored(pod1, 'eth0', eth0Addr, pod1Addr)).toBeUndefined();
  expect(arpIgnored(arpHost('pod1', { arp_ignore: 2 }), 'eth0', eth0Addr, pod1Addr)).toMatch(/arp_ignore=2/);
  expect(arpIgnored(arpHost('pod1', { arp_ignore: 2 }), 'eth0', cni0Addr, pod1Addr)).toBeUndefined();
  expect(arpIgnored(arpHost('pod1', { arp_ignore: 1 }), 'eth0', eth0Addr, pod1Addr)).toBeUndefined();
  expect(arpIgnored(arpHost('pod1', { arp_ignore: 8 }), 'eth0', cni0Addr, pod1Addr)).toMatch(/arp_ignore=8/);
  // the node's eth0 address asked on cni0: with arp_ignore=1 only cni0's own addresses are answered there
  expect(arpIgnored(arpHost('node', { arp_ignore: 1 }), 'cni0', pod1Addr, eth0Addr)).toMatch(/arp_ignore=1/);
  // arp_filter: the route back to the client leaves by eth0, not cni0
  expect(arpIgnored(arpHost('node', { arp_filter: true }), 'cni0', clientAddr, cni0Addr)).toMatch(/arp_filter/);
  expect(arpIgnored(arpHost('node', { arp_filter: true }), 'eth0', clientAddr, eth0Addr)).toBeUndefined();
});

test('per interface: arp_ignore and arp_announce are max(all, IF), arp_filter all || IF (inetdevice.h)', () => {
  // all=0, cni0=1: cni0 answers only its own addresses; eth0 (0) still answers for any local address
  const ignoring = arpHost('node', {}, { cni0: { arp_ignore: 1 } });
  expect(ignoring.ifaces.get('cni0')!.conf.arp_ignore).toBe(1);
  expect(ignoring.ifaces.get('eth0')!.conf.arp_ignore).toBe(0);
  expect(arpIgnored(ignoring, 'cni0', pod1Addr, eth0Addr)).toMatch(/arp_ignore=1: 192\.168\.50\.10 .* cni0/);
  expect(arpIgnored(ignoring, 'cni0', pod1Addr, cni0Addr)).toBeUndefined();
  expect(arpIgnored(ignoring, 'eth0', clientAddr, cni0Addr)).toBeUndefined();
  // an interface's own value never lowers conf.all's: all=2, eth0=0 is still 2 on eth0
  const high = arpHost('node', { arp_ignore: 2 }, { eth0: { arp_ignore: 0 } });
  expect(high.ifaces.get('eth0')!.conf.arp_ignore).toBe(2);
  expect(arpIgnored(high, 'eth0', clientAddr, cni0Addr)).toMatch(/arp_ignore=2/);
  // all=1, cni0=8: the larger, 8
  expect(arpIgnored(arpHost('node', { arp_ignore: 1 }, { cni0: { arp_ignore: 8 } }), 'cni0', pod1Addr, cni0Addr)).toBe(
    'arp_ignore=8',
  );
  // arp_announce of the sending device: 2 on cni0 alone asks from cni0's address there, eth0 keeps the source
  const announcing = arpHost('node', {}, { cni0: { arp_announce: 2 } });
  expect(arpSender(announcing, 'cni0', pod1Addr, eth0Addr)).toBe(cni0Addr);
  expect(arpSender(announcing, 'eth0', clientAddr, cni0Addr)).toBe(cni0Addr);
  // ...and 2 on eth0 alone leaves what cni0 sends as arp_announce=0 does
  const other = arpHost('node', {}, { eth0: { arp_announce: 2 } });
  expect(arpSender(other, 'cni0', pod1Addr, eth0Addr)).toBe(eth0Addr);
  expect(arpSender(other, 'eth0', clientAddr, cni0Addr)).toBe(eth0Addr);
  expect(
    arpSender(arpHost('node', { arp_announce: 1 }, { cni0: { arp_announce: 0 } }), 'cni0', pod1Addr, eth0Addr),
  ).toBe(cni0Addr);
  // arp_filter on one device: cni0 refuses the client (whose route back leaves by eth0); eth0 does not filter
  const filtering = arpHost('node', {}, { cni0: { arp_filter: true } });
  expect(arpIgnored(filtering, 'cni0', clientAddr, cni0Addr)).toMatch(/arp_filter/);
  expect(arpIgnored(arpHost('node', {}, { eth0: { arp_filter: true } }), 'cni0', clientAddr, cni0Addr)).toBeUndefined();
  expect(
    arpIgnored(arpHost('node', { arp_filter: true }, { cni0: { arp_filter: false } }), 'cni0', clientAddr, cni0Addr),
  ).toMatch(/arp_filter/);
});

test('per-interface ARP sysctls are checked with their JSON path', () => {
  const bad = (conf: unknown) => () =>
    net((spec) => {
      (spec.hosts[0]!.ifaces[0] as { sysctls?: unknown }).sysctls = conf;
    });
  expect(bad({ arp_ignore: 3 })).toThrow(/hosts\[0\]\.ifaces\[0\]\.sysctls\.arp_ignore/);
  expect(bad({ arp_announce: 4 })).toThrow(/hosts\[0\]\.ifaces\[0\]\.sysctls\.arp_announce/);
  expect(bad({ arp_filter: 1 })).toThrow(/hosts\[0\]\.ifaces\[0\]\.sysctls\.arp_filter/);
  expect(bad({ arp_notify: 1 })).toThrow(/hosts\[0\]\.ifaces\[0\]\.sysctls\.arp_notify: unknown field/);
  expect(bad({ arp_ignore: 8, arp_announce: 2, arp_filter: true })).not.toThrow();
});

test('an answered request sends on what an earlier probe left waiting, not followed: later results are open', () => {
  const spec = k8sNode();
  const client = spec.hosts.find((h) => h.name === 'client')!;
  client.sysctls = { ...client.sysctls, arp_ignore: 8 };
  const lab = makeLab(compileTopology(spec), new Map());
  const start = newWorld(lab);
  let world = start;
  const play = (probe: Probe) => {
    const [r] = runProbe(lab, world, probe);
    world = r!.value.world;
    return r!.value.observation;
  };
  // node's SYN waits in its entry for the client, who answers no ARP
  const toClient: Probe = { from: 'node', proto: 'tcp', dst: '192.168.50.20', dport: 8080 };
  const toNode: Probe = { from: 'client', proto: 'tcp', dst: '192.168.50.10', dport: 8080 };
  expect(play(toClient).outcome).toBe('dropped');
  // the client asks for node, node answers and makes its entry STALE (neigh_event_ns): the SYN goes out now
  const asked = play(toNode);
  expect(asked.outcome).toBe('indeterminate');
  expect(asked.indeterminate?.open).toBe(true);
  expect(world.unfollowed?.chain).toBe('eth0 192.168.50.20');
  expect(play({ from: 'pod1', proto: 'udp', dst: '10.244.1.12', dport: 9090 }).indeterminate?.open).toBe(true);
  // once the resolution has surely given up, its queue was answered (neigh_invalidate): nothing waits, exact
  world = start;
  expect(play(toClient).outcome).toBe('dropped');
  world = { ...cloneWorld(world), now: world.now + NEIGH_GIVES_UP_S };
  expect(play(toNode)).toMatchObject({ outcome: 'delivered', responder: 'node' });
  expect(world.unfollowed).toBeUndefined();
});

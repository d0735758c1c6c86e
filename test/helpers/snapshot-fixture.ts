// A hand-made snapshot of a Kubernetes node, in the shape `nfconform snapshot` writes (spec/snapshot.md).
import type { Snapshot } from '../../src/model/index.ts';

const conf = (ifs: string[], k: string, v: (i: string) => string) =>
  Object.fromEntries(ifs.map((i) => [`net/ipv4/conf/${i}/${k}`, v(i)]));

export function nodeSnapshot(nft = ''): Snapshot {
  const ifs = ['all', 'default', 'lo', 'eth0', 'cni0', 'vethA', 'vethB', 'cali1'];
  return {
    format: 'nfconform-snapshot',
    version: 1,
    taken: '2026-12-01T13:00:00.000Z',
    netns: null,
    kernel: '6.18.0',
    iptablesVersion: 'iptables v1.8.9 (nf_tables)',
    iptables: { nft, legacy: '' },
    ipset: null,
    ip: {
      link: [
        { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'] },
        { ifindex: 2, ifname: 'eth0', flags: ['UP'], linkinfo: { info_kind: 'veth' }, link_index: 2 },
        { ifindex: 3, ifname: 'cni0', flags: ['UP'], linkinfo: { info_kind: 'bridge' } },
        {
          ifindex: 4,
          ifname: 'vethA',
          flags: ['UP'],
          master: 'cni0',
          link_index: 2,
          linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge', info_slave_data: { hairpin: true } },
        },
        {
          ifindex: 5,
          ifname: 'vethB',
          flags: ['UP'],
          master: 'cni0',
          link_index: 2,
          linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge', info_slave_data: { hairpin: false } },
        },
        { ifindex: 6, ifname: 'cali1', flags: ['UP'], linkinfo: { info_kind: 'veth' }, link_index: 3 },
        { ifindex: 7, ifname: 'down0', flags: ['BROADCAST'], linkinfo: { info_kind: 'dummy' } },
      ],
      addr: [
        { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
        { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.50.10', prefixlen: 24 }] },
        {
          ifname: 'cni0',
          addr_info: [
            { family: 'inet', local: '10.244.1.1', prefixlen: 24 },
            { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
          ],
        },
      ],
      route: [
        { dst: 'default', gateway: '192.168.50.1', dev: 'eth0' },
        { dst: '10.244.1.0/24', dev: 'cni0', protocol: 'kernel', scope: 'link', prefsrc: '10.244.1.1' },
        { dst: '10.244.9.7', dev: 'cali1', scope: 'link' },
        { dst: '10.9.9.0/24', type: 'blackhole' },
      ],
      rule: [
        { priority: 0, src: 'all', table: 'local' },
        { priority: 100, src: 'all', fwmark: '0x1', table: '7' },
        { priority: 32766, src: 'all', table: 'main' },
        { priority: 32767, src: 'all', table: 'default' },
      ],
    },
    sysctls: {
      'net/ipv4/ip_forward': '1',
      'net/bridge/bridge-nf-call-iptables': '1',
      ...conf(ifs, 'rp_filter', (i) => (i === 'all' ? '0' : '1')),
      ...conf(ifs, 'route_localnet', () => '0'),
      ...conf(ifs, 'accept_local', () => '0'),
      ...conf(ifs, 'send_redirects', () => '1'),
      ...conf(ifs, 'accept_redirects', () => '0'),
    },
    commands: [{ argv: ['ipset', 'save'], status: 'absent' }],
  };
}

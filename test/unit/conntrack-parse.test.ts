// /proc/net/nf_conntrack lines -> observation records: tuples, the TCP state and the status flags.
import { test, expect } from 'vitest';
import { parseConntrack } from '../../src/lab/conntrack-parse.ts';

test('TCP state and [ASSURED]/[UNREPLIED] flags are read; UDP and ICMP have no state', () => {
  const text = [
    'ipv4     2 tcp      6 119 TIME_WAIT src=192.168.50.20 dst=10.96.0.1 sport=41000 dport=80' +
      ' src=10.244.1.11 dst=192.168.50.20 sport=8080 dport=41000 [ASSURED] mark=0 zone=0 use=2',
    'ipv4     2 tcp      6 118 SYN_SENT src=10.244.1.11 dst=10.244.2.13 sport=41001 dport=80' +
      ' [UNREPLIED] src=10.244.2.13 dst=10.244.1.11 sport=80 dport=41001 mark=0 zone=0 use=2',
    'ipv4     2 udp      17 28 src=192.168.50.20 dst=10.96.0.1 sport=41002 dport=53' +
      ' [UNREPLIED] src=10.244.1.11 dst=192.168.50.20 sport=8080 dport=41002 mark=0 zone=0 use=2',
    'ipv4     2 icmp     1 29 src=192.168.50.20 dst=10.96.0.1 type=8 code=0 id=41003' +
      ' src=10.244.1.11 dst=192.168.50.20 type=0 code=0 id=41003 mark=0 zone=0 use=2',
  ].join('\n');
  expect(parseConntrack(text)).toEqual([
    {
      proto: 'tcp',
      orig: '10.244.1.11:41001>10.244.2.13:80',
      reply: '10.244.2.13:80>10.244.1.11:41001',
      state: 'SYN_SENT',
      flags: ['UNREPLIED'],
    },
    {
      proto: 'tcp',
      orig: '192.168.50.20:41000>10.96.0.1:80',
      reply: '10.244.1.11:8080>192.168.50.20:41000',
      state: 'TIME_WAIT',
      flags: ['ASSURED'],
    },
    {
      proto: 'udp',
      orig: '192.168.50.20:41002>10.96.0.1:53',
      reply: '10.244.1.11:8080>192.168.50.20:41002',
      state: null,
      flags: ['UNREPLIED'],
    },
    {
      proto: 'icmp',
      orig: '192.168.50.20>10.96.0.1 id=41003',
      reply: '10.244.1.11>192.168.50.20 id=41003',
      state: null,
      flags: [],
    },
  ]);
});

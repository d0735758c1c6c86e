// The kernel's nft trace lines (as `nft -a monitor` printed them on the lab machine) as segments, and the
// comparison with the model's trace (src/lab/nftrace.ts, src/conform/nftrace-compare.ts).
import { describe, test, expect } from 'vitest';
import { parseTrace, segmentText } from '../../src/lab/nftrace.ts';
import { compareNftrace, modelSegments } from '../../src/conform/nftrace-compare.ts';
import type { TraceEvent } from '../../src/model/index.ts';

const LINES = [
  'trace id e5e8d490 inet nfc_trace pre packet: iif "lo" @ll,0,112 0x800 ip saddr 127.0.0.1 ip daddr 127.0.0.1',
  'trace id e5e8d490 inet nfc_trace pre rule meta nftrace set 1 # handle 3 (verdict continue)',
  'trace id e5e8d490 inet nfc_trace pre policy accept ',
  'trace id 6fd20349 inet t input packet: iif "lo" @ll,0,112 0x800 ip saddr 127.0.0.1 ip daddr 127.0.0.1',
  'trace id 6fd20349 inet t input rule ip protocol icmp counter packets 0 bytes 0 # handle 7 (verdict continue)',
  'trace id 6fd20349 inet t input rule ip protocol icmp jump foo # handle 8 (verdict jump foo)',
  'trace id 6fd20349 inet t foo rule ip protocol icmp meta mark set 0x00000003 # handle 12 (verdict continue)',
  'trace id 6fd20349 inet t input policy accept meta mark 0x00000003 ',
  'trace id 11dc3064 inet t input packet: iif "lo" ip saddr 127.0.0.1 ip daddr 127.0.0.1',
  'trace id 11dc3064 inet t input rule tcp dport 1 drop # handle 10 (verdict drop)',
];

const rule = (chain: string, handle: number | 'policy', action = 'accept'): TraceEvent => ({
  kind: 'rule',
  host: 'node',
  hook: 'INPUT',
  table: 'inet t',
  chain,
  rule: handle === 'policy' ? 'policy' : 1,
  ...(handle === 'policy' ? {} : { handle }),
  base: 'input',
  matched: true,
  action,
  spec: '',
});
const hook: TraceEvent = { kind: 'hook', host: 'node', hook: 'INPUT', in: 'lo', out: '', packet: '' };

describe('nftrace', () => {
  test('monitor lines become one segment per base chain, the trace table left out', () => {
    expect(parseTrace(LINES).map(segmentText)).toEqual([
      'inet t input: input#7 input#8 foo#12 | policy accept',
      'inet t input: input#10',
    ]);
  });

  test("the model's trace gives the same segments, and a difference is reported", () => {
    const model = [
      hook,
      rule('input', 7),
      rule('input', 8),
      rule('foo', 12),
      rule('input', 'policy'),
      hook,
      rule('input', 10, 'drop'),
    ];
    expect([...modelSegments(model).get('node')!].map(segmentText)).toEqual(parseTrace(LINES).map(segmentText));
    const all = () => new Set(['inet t']);
    expect(compareNftrace(model, { node: parseTrace(LINES) }, all)).toEqual({ compared: 2, diffs: [] });
    const other = [hook, rule('input', 7), rule('input', 'policy')];
    expect(compareNftrace(other, { node: parseTrace(LINES) }, all).diffs).toEqual([
      {
        host: 'node',
        modelOnly: ['inet t input: input#7 | policy accept'],
        kernelOnly: ['inet t input: input#7 input#8 foo#12 | policy accept', 'inet t input: input#10'],
      },
    ]);
  });
});

test("a probe's trace keeps its own flow's packets: a late packet of an earlier connection is not its", async () => {
  const { parseTrace, flowSegments } = await import('../../src/lab/nftrace.ts');
  const lines = [
    'trace id a1 ip kp pre packet: iif "eth0" ip saddr 192.168.50.20 ip daddr 10.96.0.100 tcp sport 41001 tcp dport 80',
    'trace id a1 ip kp pre rule ip daddr 10.96.0.100 tcp dport 80 jump svc (verdict jump svc)' +
      ' # handle 4 (verdict jump svc)',
    'trace id b2 ip kp pre packet: iif "eth0" ip saddr 192.168.50.20 ip daddr 10.96.0.100 tcp sport 41000 tcp dport 80',
    'trace id b2 ip kp pre policy accept',
  ];
  const segs = parseTrace(lines);
  expect(segs.map((s) => s.ports)).toEqual([
    [41001, 80],
    [41000, 80],
  ]);
  expect(flowSegments(segs, new Set([41001])).map((s) => s.rules.length)).toEqual([1]);
});

test("an interface's own IGMP report in the window is nobody's probe", async () => {
  const { parseTrace, flowSegments } = await import('../../src/lab/nftrace.ts');
  const segs = parseTrace([
    'trace id c3 inet f out packet: oif "eth0" ip saddr 10.244.1.1 ip daddr 224.0.0.22 ip protocol igmp',
    'trace id c3 inet f out policy accept',
    'trace id d4 inet f out packet: oif "eth0" ip saddr 10.244.1.1 ip daddr 10.244.1.11 icmp type echo-request',
    'trace id d4 inet f out policy accept',
  ]);
  expect(flowSegments(segs, 'any').map((s) => s.table)).toEqual(['inet f']);
  expect(flowSegments(segs, new Set([41000])).length).toBe(1);
});

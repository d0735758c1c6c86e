// The variants validate-power scores: each rule deleted, the systematic edits, and the equivalent ones named.
import { test, expect } from 'vitest';
import { dumpVariants } from '../../src/kube/dump-variants.ts';

const LOCALHOST_NP =
  '-A KUBE-NODEPORTS -d 127.0.0.0/8 -p tcp -m tcp --dport 30000' +
  ' -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-SVC-A';
const FIRST_SEP =
  '-A KUBE-SVC-A -m comment --comment "ns/a -> 10.0.0.1:80" -m statistic --mode random' +
  ' --probability 0.50000000000 -p tcp -j DNAT --to-destination 10.0.0.1:80';
const dump = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EMPTY - [0:0]
-A INPUT -j KUBE-EMPTY
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SVC-A - [0:0]
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
${LOCALHOST_NP}
-A KUBE-NODEPORTS -p tcp -m tcp --dport 30000 -j KUBE-SVC-A
${FIRST_SEP}
-A KUBE-SVC-A -p tcp -j DNAT --to-destination 10.0.0.2:80
-A KUBE-SVC-A -m comment --comment "nothing but a comment"
COMMIT
`;

test('every rule deleted, DNAT ports, probabilities and the masquerade mark edited; equivalents named', () => {
  const v = dumpVariants(dump);
  expect(v.filter((x) => x.kind === 'delete')).toHaveLength(7);
  expect(v.filter((x) => x.kind === 'dnat-port').map((x) => x.after)).toEqual([
    expect.stringContaining('--to-destination 10.0.0.1:81'),
    expect.stringContaining('--to-destination 10.0.0.2:81'),
  ]);
  expect(v.find((x) => x.kind === 'probability')!.after).toContain('--probability 0.25000000000');
  expect(v.find((x) => x.kind === 'masq-mark')!.after).toContain('--or-mark 0x8000');
  const eq = Object.fromEntries(v.filter((x) => x.equivalent).map((x) => [x.before, x.equivalent]));
  expect(eq).toEqual({
    '-A INPUT -j KUBE-EMPTY': 'it jumps to KUBE-EMPTY, which is empty',
    [LOCALHOST_NP]: 'the next rule has the same target and matches every packet this one does (only counters differ)',
    '-A KUBE-SVC-A -m comment --comment "nothing but a comment"': 'a rule without a target only counts packets',
  });
  // each variant's text is the dump with exactly that line changed
  for (const x of v) expect(x.text.split('\n').length).toBe(dump.split('\n').length - (x.kind === 'delete' ? 1 : 0));
});

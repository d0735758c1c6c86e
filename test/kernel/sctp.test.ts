// SCTP support, measured (issue #13): lab/sctp.ts's answer agrees with what the kernel lists as registered
// protocols (/proc/net/protocols has an SCTP line once the sctp protocol is registered, net/sctp/protocol.c),
// and with a try from a throwaway network namespace (protocols register for the whole kernel). And the route
// to SCTP probes without SCTP sockets: a raw SCTP INIT through kube-proxy's SCTP rules is DNATed to an
// endpoint (conntrack and NAT know SCTP without the sctp protocol: nf_conntrack_proto_sctp, nf_nat_proto).
import { describe, test, expect, afterAll } from 'vitest';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { sctpSupport } from '../../src/lab/sctp.ts';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNode } from '../../src/kube/compile.ts';
import { skipReason, kernelDescribe } from './env.ts';

const TRY =
  'import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close(); print("ok")\n' +
  'except OSError as e:\n    print(e.errno)';

// an SCTP INIT (RFC 9260 §3.3.2) with its CRC32c, sent on a raw socket from source port 40000
// (after every listener has marked itself ready: argv[3:] are their marker files)
const SEND_INIT = `
import os, socket, struct, sys, time
deadline = time.time() + 60
while not all(os.path.exists(m) for m in sys.argv[3:]) and time.time() < deadline: time.sleep(0.05)
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8): c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xffffffff
pkt = struct.pack('!HHII', 40000, int(sys.argv[2]), 0, 0) + struct.pack('!BBHIIHHI', 1, 0, 20, 0x1234, 65535, 1, 1, 7)
pkt = pkt[:8] + struct.pack('<I', crc32c(pkt)) + pkt[12:]
socket.socket(socket.AF_INET, socket.SOCK_RAW, 132).sendto(pkt, (sys.argv[1], 0))
`;
// prints "SRC:SPORT>DST:DPORT" of the first SCTP packet that arrives within the timeout, or "none";
// argv[1] is the marker file written once the socket is open
const RECEIVE = `
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132); s.settimeout(20)
open(sys.argv[1], 'w').close()
try:
    d, _ = s.recvfrom(2000); h = (d[0] & 15) * 4; sp, dp = struct.unpack('!HH', d[h:h + 4])
    print('%s:%d>%s:%d' % (socket.inet_ntoa(d[12:16]), sp, socket.inet_ntoa(d[16:20]), dp))
except socket.timeout:
    print('none')
`;

describe.skipIf(skipReason)(kernelDescribe('kernel: SCTP sockets, measured'), () => {
  let lab: KernelLab | undefined;
  afterAll(async () => {
    await lab?.down();
  });

  test('the measurement agrees with /proc/net/protocols and with a try inside `unshare -n`', async () => {
    const s = await sctpSupport();
    const listed = /^SCTP\s/m.test(readFileSync('/proc/net/protocols', 'utf8'));
    expect(s.ok).toBe(listed);
    const inNs = execFileSync('unshare', ['-n', 'python3', '-c', TRY], { encoding: 'utf8' }).trim();
    expect(inNs === 'ok').toBe(s.ok);
    if (!s.ok) expect(s.why).toMatch(/EPROTONOSUPPORT|ESOCKTNOSUPPORT/);
  });

  test('a raw SCTP INIT to an SCTP ClusterIP reaches one endpoint, DNATed to its port', async () => {
    lab = await KernelLab.up(k8sNode());
    const file = new URL('../../suites/kube-proxy/fixtures/cluster-ip-general.services.json', import.meta.url);
    const cluster = readCluster(readFileSync(file, 'utf8'));
    for (const node of ['node', 'node2'])
      expect(
        await lab.apply(node, compileNode(cluster, { nodeName: node, clusterCIDR: '10.244.0.0/16' })),
      ).toMatchObject({ ok: true });
    const dir = mkdtempSync(join(tmpdir(), 'nfc-sctp-'));
    const marks = ['pod1', 'pod3'].map((h) => join(dir, h));
    const listeners = ['pod1', 'pod3'].map((h, i) => lab!.exec(h, ['python3', '-c', RECEIVE, marks[i]!]));
    const sent = await lab.exec('pod2', ['python3', '-c', SEND_INIT, '172.30.0.42', '53', ...marks]);
    expect(sent.code).toBe(0);
    const seen = (await Promise.all(listeners)).map((r) => r.stdout.trim());
    // svc2's dns-sctp port 53 goes to endpoint port 8080 on pod1 or pod3, the pod's address kept
    const got = seen.filter((x) => x !== 'none');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^10\.244\.1\.12:40000>10\.244\.(1\.11|2\.13):8080$/);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});

// SCTP support, measured (issue #13): lab/sctp.ts's answer agrees with what the kernel lists as registered
// protocols (/proc/net/protocols has an SCTP line once the sctp protocol is registered, net/sctp/protocol.c),
// and with a try from a throwaway network namespace (protocols register for the whole kernel).
import { describe, test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { sctpSupport } from '../../src/lab/sctp.ts';
import { skipReason, kernelDescribe } from './env.ts';

const TRY =
  'import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close(); print("ok")\n' +
  'except OSError as e:\n    print(e.errno)';

describe.skipIf(skipReason)(kernelDescribe('kernel: SCTP sockets, measured'), () => {
  test('the measurement agrees with /proc/net/protocols and with a try inside `unshare -n`', async () => {
    const s = await sctpSupport();
    const listed = /^SCTP\s/m.test(readFileSync('/proc/net/protocols', 'utf8'));
    expect(s.ok).toBe(listed);
    const inNs = execFileSync('unshare', ['-n', 'python3', '-c', TRY], { encoding: 'utf8' }).trim();
    expect(inNs === 'ok').toBe(s.ok);
    if (!s.ok) expect(s.why).toMatch(/EPROTONOSUPPORT|ESOCKTNOSUPPORT/);
  });
});

// Whether this kernel opens SCTP sockets: measured, never assumed (issue #13). Without CONFIG_IP_SCTP
// (no sctp module, no modprobe here: LAB-FACTS), socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) fails with
// EPROTONOSUPPORT (net/socket.c __sock_create -> inet_create finds no protosw for the protocol). Protocols
// register for the whole kernel, so one try tells for every namespace of the lab (and for a Docker lab,
// which shares the kernel). Node.js has no SCTP sockets: the try runs in the agent (python3).
import { execFile } from 'node:child_process';

export type SctpSupport = { ok: true } | { ok: false; why: string };

const PROBE = [
  'import errno, os, socket',
  'try:',
  '    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close()',
  '    print("ok")',
  'except OSError as e:',
  '    print(errno.errorcode.get(e.errno, str(e.errno)) + ": " + os.strerror(e.errno))',
].join('\n');

let measured: Promise<SctpSupport> | undefined;

/** Tries once per process to open an SCTP socket; the answer says what failed, as the kernel said it. */
export function sctpSupport(): Promise<SctpSupport> {
  measured ??= new Promise((done) => {
    execFile('python3', ['-c', PROBE], { timeout: 30_000 }, (err, stdout) => {
      const out = stdout.trim();
      if (out === 'ok') done({ ok: true });
      else if (out) done({ ok: false, why: `socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) fails with ${out}` });
      else done({ ok: false, why: `SCTP support could not be measured (python3: ${err?.message ?? 'no answer'})` });
    });
  });
  return measured;
}

/** Why an SCTP Service port is not probed, from the measurement. */
export function sctpUnprobedWhy(s: SctpSupport): string {
  return s.ok
    ? 'not probed: this kernel opens SCTP sockets, but the model and the lab agent send TCP, UDP and ICMP only'
    : `not probed: this kernel has no SCTP sockets (${s.why}; measured), so no endpoint could answer an SCTP` +
        ' association';
}

// The lab agent: one long-lived process per network namespace, started with
// `ip netns exec NS node agent.mjs HOST`. It speaks JSON lines on stdio:
// {"id":1,"op":"probe",...} -> {"id":1,"ok":true,"result":{...}}.
// Plain JavaScript so that it starts in ~40 ms without a TypeScript loader.
// @ts-check
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

const HOST = process.argv[2] ?? 'unknown';
/** @type {Array<{close: () => void}>} */
const servers = [];

/** @param {unknown} msg */
function send(msg) {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

/** Runs a command in this namespace; argv array, never a shell. @param {string[]} argv @param {string | undefined} stdin */
function run(argv, stdin) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: String(e.message) }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // a command that does not read its input closes the pipe early: not an error
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });
}

/** @param {{tcp: number[], udp: number[], addrs: string[]}} req */
async function serve(req) {
  for (const port of req.tcp) {
    const srv = net.createServer((sock) => {
      const seen = {
        host: HOST,
        src: `${sock.remoteAddress}:${sock.remotePort}`,
        dst: `${sock.localAddress}:${sock.localPort}`,
      };
      sock.on('error', () => {});
      sock.end(JSON.stringify(seen) + '\n');
    });
    await new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ port, host: '0.0.0.0', backlog: 1024 }, () => resolve(undefined));
    });
    servers.push(srv);
  }
  // one UDP socket per local address, so that the answer leaves from the address the request was sent to
  for (const port of req.udp) {
    for (const addr of req.addrs) {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      sock.on('message', (_m, rinfo) => {
        const seen = { host: HOST, src: `${rinfo.address}:${rinfo.port}`, dst: `${addr}:${port}` };
        sock.send(JSON.stringify(seen), rinfo.port, rinfo.address);
      });
      sock.on('error', () => {});
      await new Promise((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, addr, () => resolve(undefined));
      });
      servers.push(sock);
    }
  }
  return { listening: servers.length };
}

/** errno of a failed socket -> observation outcome and ICMP class (icmp_err_convert in the kernel) */
function fromErrno(code) {
  switch (code) {
    case 'ECONNREFUSED':
      return { outcome: 'refused', icmp: null };
    case 'ENETUNREACH':
      return { outcome: 'icmp-error', icmp: 'net-unreachable' };
    case 'EHOSTUNREACH':
      return { outcome: 'icmp-error', icmp: 'host-unreachable' };
    case 'ENOPROTOOPT':
      return { outcome: 'icmp-error', icmp: 'proto-unreachable' };
    default:
      return { outcome: 'dropped', icmp: null, errno: code };
  }
}

/** @param {{dst: string, dport: number, src?: string, sport?: number, timeoutMs: number}} p */
function probeTcp(p) {
  return new Promise((resolve) => {
    /** @type {import('node:net').TcpSocketConnectOpts} */
    const opts = { host: p.dst, port: p.dport };
    if (p.src) opts.localAddress = p.src;
    if (p.sport) opts.localPort = p.sport;
    const sock = net.connect(opts);
    let data = '';
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'dropped', icmp: null }), p.timeoutMs);
    sock.on('data', (d) => {
      data += d;
      const nl = data.indexOf('\n');
      if (nl >= 0) {
        try {
          const seen = JSON.parse(data.slice(0, nl));
          // close after the server's FIN (TIME_WAIT stays on the server side), and answer only once the
          // connection is fully closed: no packet of it is still in flight when the lab is reset
          const result = {
            outcome: 'delivered',
            responder: seen.host,
            seen: { src: seen.src, dst: seen.dst },
            icmp: null,
          };
          clearTimeout(timer);
          const safety = setTimeout(() => finish(result), p.timeoutMs);
          sock.once('close', () => {
            clearTimeout(safety);
            finish(result);
          });
          sock.end();
        } catch {
          finish({ outcome: 'dropped', icmp: null, note: 'garbled answer' });
        }
      }
    });
    sock.on('error', (e) => finish({ ...fromErrno(/** @type {any} */ (e).code), note: e.message }));
  });
}

/** @param {{dst: string, dport: number, src?: string, sport?: number, timeoutMs: number}} p */
function probeUdp(p) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {}
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'dropped', icmp: null }), p.timeoutMs);
    sock.on('message', (m) => {
      try {
        const seen = JSON.parse(String(m));
        finish({ outcome: 'delivered', responder: seen.host, seen: { src: seen.src, dst: seen.dst }, icmp: null });
      } catch {
        finish({ outcome: 'dropped', icmp: null, note: 'garbled answer' });
      }
    });
    sock.on('error', (e) => {
      const r = fromErrno(/** @type {any} */ (e).code);
      finish(r.outcome === 'refused' ? { outcome: 'refused', icmp: 'port-unreachable' } : { ...r, note: e.message });
    });
    sock.bind({ port: p.sport ?? 0, address: p.src ?? '0.0.0.0' }, () => {
      sock.connect(p.dport, p.dst, (err) => {
        if (err) return finish({ ...fromErrno(/** @type {any} */ (err).code), note: err.message });
        sock.send('probe');
      });
    });
  });
}

/** ICMP echo: Node.js has no ICMP sockets, so a long-lived Python helper (raw socket) does it,
 *  started on the first ICMP probe: no process per probe, and the echo id is the probe's sport. */
let icmpHelper;
let icmpNext = 1;
const icmpPending = new Map();
function icmp() {
  if (icmpHelper) return icmpHelper;
  icmpHelper = spawn('python3', [new URL('./icmp-helper.py', import.meta.url).pathname], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  createInterface({ input: icmpHelper.stdout }).on('line', (line) => {
    const msg = JSON.parse(line);
    const done = icmpPending.get(msg.id);
    icmpPending.delete(msg.id);
    delete msg.id;
    done?.(msg);
  });
  icmpHelper.on('exit', () => {
    icmpHelper = undefined;
    for (const done of icmpPending.values()) done({ outcome: 'dropped', icmp: null, note: 'icmp helper exited' });
    icmpPending.clear();
  });
  return icmpHelper;
}
/** @param {{dst: string, src?: string, sport?: number, timeoutMs: number}} p */
function probeIcmp(p) {
  return new Promise((resolve) => {
    const id = icmpNext++;
    icmpPending.set(id, resolve);
    icmp().stdin.write(
      JSON.stringify({ id, dst: p.dst, src: p.src ?? null, ident: p.sport ?? 1, timeoutMs: p.timeoutMs }) + '\n',
    );
  });
}

/** @param {any} req */
async function handle(req) {
  switch (req.op) {
    case 'hello':
      return { host: HOST, pid: process.pid };
    case 'sysctl': {
      // segments, not a dotted key: an interface name may hold dots (eth0.100); none may climb out of /proc/sys
      const path = req.path;
      if (!Array.isArray(path) || !path.every((p) => typeof p === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(p)))
        throw new Error(`bad sysctl path ${JSON.stringify(path)}`);
      writeFileSync(`/proc/sys/${path.join('/')}`, String(Number(req.value)));
      return null;
    }
    case 'serve':
      return serve(req);
    case 'probe':
      if (req.proto === 'tcp') return probeTcp(req);
      if (req.proto === 'udp') return probeUdp(req);
      return probeIcmp(req);
    case 'conntrack':
      try {
        return readFileSync('/proc/net/nf_conntrack', 'utf8');
      } catch {
        return '';
      }
    case 'recent-flush': {
      let names = [];
      try {
        names = readdirSync('/proc/net/xt_recent');
      } catch {}
      for (const n of names) writeFileSync(`/proc/net/xt_recent/${n}`, '/\n');
      return names.length;
    }
    case 'run':
      return run(req.argv, req.stdin);
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return send({ id: null, ok: false, error: 'bad json' });
  }
  handle(req).then(
    (result) => send({ id: req.id, ok: true, result }),
    (e) => send({ id: req.id, ok: false, error: String(e && e.message ? e.message : e) }),
  );
});
// the parent is gone: exit (stdin closes when the lab ends or its owner dies)
rl.on('close', () => {
  for (const s of servers)
    try {
      s.close();
    } catch {}
  icmpHelper?.kill();
  process.exit(0);
});
send({ id: 0, ok: true, result: { ready: HOST } });

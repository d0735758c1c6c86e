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

/** Runs a command in this namespace; argv array, never a shell. @param {string[]} argv @param {string | undefined}
 * stdin */
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

/** Probes run in a long-lived Python helper (probe-helper.py), started on the first probe: Node.js has
 *  neither ICMP sockets nor IP_RECVERR, and the helper reads what the stack received (RSTs, ICMP errors
 *  with their quoted headers) from raw sockets (spec/observation.md). */
let prober;
let proberNext = 1;
/** @type {Map<number, (msg: any) => void>} id 0: the helper's "ready" line */
const proberPending = new Map();
function helper() {
  if (prober) return prober;
  // NFCONFORM_PYTHON: the interpreter's path, resolved once by the lab (site.ts pythonPath), not a shim per start
  prober = spawn(process.env.NFCONFORM_PYTHON || 'python3', [new URL('./probe-helper.py', import.meta.url).pathname], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  createInterface({ input: prober.stdout }).on('line', (line) => {
    const msg = JSON.parse(line);
    const done = proberPending.get(msg.id);
    proberPending.delete(msg.id);
    delete msg.id;
    done?.(msg);
  });
  prober.on('exit', () => {
    prober = undefined;
    for (const done of proberPending.values()) done({ outcome: 'dropped', icmp: null, note: 'probe helper exited' });
    proberPending.clear();
  });
  return prober;
}
/** One request to the helper, answered in order. @param {Record<string, unknown>} req @returns {Promise<any>} */
function toHelper(req) {
  return new Promise((resolve) => {
    const id = proberNext++;
    proberPending.set(id, resolve);
    helper().stdin.write(JSON.stringify({ ...req, id }) + '\n');
  });
}
/**
 * @param {{proto: string, dst: string, dport?: number, src?: string, sport?: number, connected?: boolean,
 *   timeoutMs: number, confirmMs?: number}} p
 */
function probe(p) {
  return toHelper({
    proto: p.proto,
    dst: p.dst,
    dport: p.dport ?? null,
    src: p.src ?? null,
    sport: p.sport ?? null,
    connected: p.connected !== false,
    timeoutMs: p.timeoutMs,
    confirmMs: p.confirmMs ?? 0,
  });
}

/**
 * The kernel's rule trace (`meta nftrace set 1` + `nft monitor`, spec/nft.md §7): one monitor at a time. A
 * marker table added and deleted in this namespace shows when the monitor listens, and, since netlink keeps
 * the order of events, that every trace of the packets before it has been read.
 * @type {{child: import('node:child_process').ChildProcess, lines: string[], from: number,
 *   waiters: Array<{line: string, resolve: (at: number) => void}>} | null}
 */
let monitor = null;
let markers = 0;

/**
 * Adds and deletes a marker table and waits until the monitor reports it. A monitor that is not yet
 * subscribed misses the marker (a fresh `nft monitor` on a busy machine): with `retryMs`, a new marker is
 * sent every `retryMs` until one is seen, which also proves the monitor listens.
 * @param {NonNullable<typeof monitor>} m @param {number} [retryMs]
 */
async function monitorSync(m, retryMs) {
  const deadline = Date.now() + 60000;
  for (;;) {
    const name = `nfc_sync_${process.pid}_${++markers}`;
    /** @type {{line: string, resolve: (at: number) => void}} */
    let waiter = { line: `delete table inet ${name}`, resolve: () => {} };
    /** @type {Promise<number>} */
    const seen = new Promise((resolve) => {
      waiter = { line: waiter.line, resolve };
      m.waiters.push(waiter);
    });
    for (const verb of ['add', 'delete']) {
      const r = await run(['nft', verb, 'table', 'inet', name]);
      if (r.code !== 0) throw new Error(`nft ${verb} table: ${r.stderr}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error('nft monitor did not report its marker within 60 s');
    const wait = retryMs === undefined ? left : Math.min(retryMs, left);
    /** @type {number | undefined} */
    const at = await Promise.race([
      seen,
      new Promise((resolve) => setTimeout(resolve, wait).unref()).then(() => undefined),
    ]);
    if (at !== undefined) return at;
    m.waiters.splice(m.waiters.indexOf(waiter), 1);
    if (retryMs === undefined) throw new Error('nft monitor did not report its marker within 60 s');
  }
}

async function traceStart() {
  monitor?.child.kill();
  const child = spawn('nft', ['-a', 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  /** @type {NonNullable<typeof monitor>} */
  const m = { child, lines: [], from: 0, waiters: [] };
  monitor = m;
  createInterface({ input: child.stdout }).on('line', (line) => {
    m.lines.push(line);
    const w = m.waiters.findIndex((x) => line.startsWith(x.line));
    if (w >= 0) m.waiters.splice(w, 1)[0].resolve(m.lines.length);
  });
  // the monitor subscribes some time after it starts: send markers until it reports one
  m.from = await monitorSync(m, 300);
  return null;
}

async function traceStop() {
  const m = monitor;
  if (!m) throw new Error('no nft monitor running');
  const to = await monitorSync(m);
  m.child.kill();
  monitor = null;
  return m.lines.slice(m.from, to).filter((l) => l.startsWith('trace id '));
}

/** One write under /proc/sys. Segments, not a dotted key: an interface name may hold dots (eth0.100); none may
 * climb out of /proc/sys. @param {unknown} path @param {unknown} value */
function writeSysctl(path, value) {
  if (!Array.isArray(path) || !path.every((p) => typeof p === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(p)))
    throw new Error(`bad sysctl path ${JSON.stringify(path)}`);
  writeFileSync(`/proc/sys/${path.join('/')}`, String(Number(value)));
}

/** One counter of a /proc/net/{snmp,netstat} pair of lines (names, then values); 0 when absent.
 * @param {string} file @param {string} prefix @param {string} name */
function counter(file, prefix, name) {
  try {
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith(prefix));
    const at = lines[i].split(/\s+/).indexOf(name);
    return at < 0 ? 0 : Number(lines[i + 1].split(/\s+/)[at] ?? 0);
  } catch {
    return 0;
  }
}

/** Does /proc/net/tcp list a socket in state SYN_RECV (its 4th column, "03")? */
function synRecv() {
  try {
    return readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .some((l) => l.trim().split(/\s+/)[3] === '03');
  } catch {
    return true; // unknown: the reset runs ss -K
  }
}

/** @param {any} req */
async function handle(req) {
  switch (req.op) {
    case 'hello':
      return { host: HOST, pid: process.pid };
    case 'sysctl':
      writeSysctl(req.path, req.value);
      return null;
    case 'sysctls': {
      // many writes in one message, in their order; an optional one may fail (IPv6 absent)
      if (!Array.isArray(req.writes)) throw new Error('sysctls: no writes');
      for (const w of req.writes)
        try {
          writeSysctl(w.path, w.value);
        } catch (e) {
          if (w.optional !== true) throw e;
        }
      return null;
    }
    case 'serve':
      return serve(req);
    case 'probe':
      return probe(req);
    case 'ct-flow': {
      // the entries of one flow, looked up by tuple in the kernel (the helper speaks ctnetlink)
      const r = await toHelper({ op: 'ct-flow', tuples: req.tuples });
      if (!Array.isArray(r.entries)) throw new Error(r.error ?? r.note ?? 'no answer from the probe helper');
      return r.entries;
    }
    case 'ct-flush': {
      // conntrack -F without spawning it (one process less per host and reset)
      const r = await toHelper({ op: 'ct-flush' });
      if (!Array.isArray(r.entries)) throw new Error(r.error ?? r.note ?? 'no answer from the probe helper');
      return null;
    }
    case 'neigh-flush': {
      // ip -4 neigh flush all without spawning it (probe-helper.py neigh_flush)
      const r = await toHelper({ op: 'neigh-flush' });
      if (!Array.isArray(r.entries)) throw new Error(r.error ?? r.note ?? 'no answer from the probe helper');
      return null;
    }
    case 'ct-active': {
      // is conntrack hooked in this namespace: a reset lab must be as a fresh one, where it is not
      const r = await toHelper({ op: 'ct-active' });
      if (typeof r.active !== 'boolean') throw new Error(r.error ?? r.note ?? 'no answer from the probe helper');
      return r.active;
    }
    case 'conntrack':
      try {
        return readFileSync('/proc/net/nf_conntrack', 'utf8');
      } catch {
        return '';
      }
    case 'lab-state': {
      // what a reset must undo or wait out: registered iptables-legacy tables (a failed restore has
      // committed the tables before the failing one), and forwarded packets that met no route (each costs a
      // token of ip_error's per-source bucket: net/ipv4/route.c, error_cost/error_burst, not per namespace)
      let legacyTables = [];
      try {
        legacyTables = readFileSync('/proc/net/ip_tables_names', 'utf8').split('\n').filter(Boolean);
      } catch {}
      // ICMP redirects this namespace sent (Icmp OutRedirects, counted in __ip_make_skb before OUTPUT): only a
      // host that sent one holds ip_rt_send_redirect's per-source state, or made a receiver's nexthop exception
      return {
        legacyTables,
        inNoRoutes: counter('/proc/net/netstat', 'IpExt:', 'InNoRoutes'),
        outRedirects: counter('/proc/net/snmp', 'Icmp:', 'OutRedirects'),
        // a listener's request socket (TCP_NEW_SYN_RECV) is listed as SYN_RECV (03) by get_openreq4
        synRecv: synRecv(),
      };
    }
    case 'recent-write': {
      // one line to /proc/net/xt_recent/LIST: "+addr", "-addr" or "/" (the list name checked again here)
      if (!/^[A-Za-z0-9_.-]{1,200}$/.test(req.list) || !/^([+-][0-9.]{7,15}|\/)$/.test(req.line))
        throw new Error('bad recent list or line');
      writeFileSync(`/proc/net/xt_recent/${req.list}`, `${req.line}\n`);
      return null;
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
    case 'trace-start':
      return traceStart();
    case 'trace-stop':
      return traceStop();
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
  prober?.kill();
  monitor?.child.kill();
  process.exit(0);
});
// the prober starts now, beside the lab's build, and the agent is ready once it is: no probe waits for a
// Python interpreter to start (measured: 1.6 s on a loaded machine)
const proberReady = new Promise((resolve) => proberPending.set(0, resolve));
helper();
void proberReady.then(() => send({ id: 0, ok: true, result: { ready: HOST } }));

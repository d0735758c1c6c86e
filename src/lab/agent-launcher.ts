// The campaign process's one agent launcher (agent/launcher.py): a python3 that forks an agent into each lab
// namespace, so that no agent pays an interpreter's start and this process forks nothing per agent (issue 14 §4:
// measured, agent starts were about half of a 64-lab campaign's first minute). Each agent connects back to an
// abstract unix socket of this process, says the token of its request and its pid, then speaks the agent's JSON
// lines on that connection (agent-client.ts). Abstract: no file to remove after a crash.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { LineChannel } from './site.ts';
import { AGENT_DIR, PYTHON_FLAGS, pythonPath } from './agent-python.ts';

/** An agent whose connection has not come yet */
interface PendingAgent {
  attach(sock: Socket, pid: number, rest: string): void;
  fail(why: string): void;
}

/** how long an agent may take to connect, and a stranger to say its token */
const CONNECT_MS = 30_000;

class Launcher {
  private readonly waiting = new Map<string, PendingAgent>();
  private readonly server: Server;
  private readonly proc: ChildProcess;
  private readonly listening: Promise<void>;
  private stderr = '';
  dead: string | undefined;

  constructor() {
    const address = `nfconform-agents-${process.pid}-${randomBytes(6).toString('hex')}`;
    this.server = createServer((s) => this.accept(s));
    this.listening = new Promise((res, rej) => {
      this.server.once('listening', res);
      this.server.once('error', rej);
    });
    this.listening.catch((e: Error) => this.die(`agent socket: ${e.message}`));
    this.server.listen(`\0${address}`);
    this.server.unref(); // held only while an agent is awaited (held): a connected agent's socket holds itself
    this.proc = spawn(pythonPath(), [...PYTHON_FLAGS, `${AGENT_DIR}launcher.py`, address], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.on('error', (e) => this.die(`agent launcher: ${e.message}`));
    this.proc.on('exit', (code, signal) =>
      this.die(`agent launcher exited (${code ?? signal}): ${this.stderr.trim()}`),
    );
    this.proc.stdin!.on('error', () => {}); // its exit says why
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    // a stdout line is a fork that failed
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        const m = JSON.parse(line) as { token?: string; error?: string };
        const w = m.token === undefined ? undefined : this.waiting.get(m.token);
        if (w) {
          this.waiting.delete(m.token!);
          this.held();
          w.fail(`agent launcher: ${m.error}`);
        }
      } catch {
        // not a line of the protocol: ignored
      }
    });
    // neither the launcher nor its pipes keep this process alive; the launcher ends with its stdin
    this.proc.unref();
    for (const s of [this.proc.stdin, this.proc.stdout, this.proc.stderr]) (s as unknown as Socket).unref();
  }

  private die(why: string): void {
    if (this.dead !== undefined) return;
    this.dead = why;
    this.server.close();
    for (const w of this.waiting.values()) w.fail(why);
    this.waiting.clear();
  }

  /** this process stays alive while an agent is awaited, as it did while it waited for a child's output */
  private held(): void {
    if (this.waiting.size) this.server.ref();
    else this.server.unref();
  }

  /** asks for an agent in namespace `ns`; `w` hears of its connection or of its failure */
  launch(ns: string, host: string, w: PendingAgent): string {
    const token = randomBytes(12).toString('hex');
    this.waiting.set(token, w);
    this.held();
    void this.listening.then(() => {
      if (this.dead === undefined) this.proc.stdin!.write(JSON.stringify({ ns, host, token }) + '\n');
    });
    const t = setTimeout(() => {
      if (this.waiting.delete(token)) {
        this.held();
        w.fail(`agent in ${ns} did not connect within ${CONNECT_MS / 1000} s`);
      }
    }, CONNECT_MS);
    t.unref();
    return token;
  }

  /** an agent no longer wanted before it connected: its connection, when it comes, is closed */
  forget(token: string): void {
    this.waiting.delete(token);
    this.held();
  }

  /** a connection's first line names the request it answers; anything else is closed */
  private accept(sock: Socket): void {
    let buf = '';
    const t = setTimeout(() => sock.destroy(), CONNECT_MS);
    t.unref();
    sock.on('error', () => {});
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 1000) sock.destroy();
        return;
      }
      sock.off('data', onData);
      clearTimeout(t);
      let hello: { token?: unknown; pid?: unknown } = {};
      try {
        hello = JSON.parse(buf.slice(0, nl)) as typeof hello;
      } catch {
        // refused below
      }
      const w = typeof hello.token === 'string' ? this.waiting.get(hello.token) : undefined;
      if (!w || typeof hello.pid !== 'number') return void sock.destroy();
      this.waiting.delete(hello.token as string);
      this.held();
      w.attach(sock, hello.pid, buf.slice(nl + 1));
    };
    sock.on('data', onData);
  }
}

let launcher: Launcher | undefined;

/** The agent of namespace `ns` (a checked name), forked by this process's launcher (started at the first call). */
export function launchAgent(ns: string, host: string): LineChannel {
  if (!launcher || launcher.dead !== undefined) launcher = new Launcher();
  const l = launcher;
  let sock: Socket | undefined;
  let pid: number | undefined;
  let closing = false;
  let exited: string | undefined;
  let fatal = '';
  const queued: string[] = [];
  const lineCbs: ((line: string) => void)[] = [];
  const exitCbs: ((why: string) => void)[] = [];
  let onExited!: () => void;
  const exitedP = new Promise<void>((res) => (onExited = res));
  const exit = (why: string) => {
    if (exited !== undefined) return;
    exited = why;
    onExited();
    for (const cb of exitCbs) cb(why);
  };
  let partial = '';
  const feed = (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      // an agent that failed says why before it goes (launcher.py child): {"id": null, ..., "fatal": TRACEBACK}
      if (line.includes('"fatal"')) {
        try {
          const m = JSON.parse(line) as { id?: unknown; fatal?: unknown };
          if (m.id === null && typeof m.fatal === 'string') {
            fatal = m.fatal.trim();
            continue;
          }
        } catch {
          // an ordinary line
        }
      }
      for (const cb of lineCbs) cb(line);
    }
  };
  const token = l.launch(ns, host, {
    attach: (s, p, rest) => {
      pid = p;
      if (closing) return void s.destroy();
      sock = s;
      s.on('data', (d: Buffer) => feed(d.toString('utf8')));
      s.on('close', () => exit(fatal || 'its connection closed'));
      feed(rest);
      for (const q of queued) s.write(q);
      queued.length = 0;
    },
    fail: exit,
  });
  return {
    get pid() {
      return pid;
    },
    write: (line) => {
      if (sock) sock.write(line + '\n');
      else queued.push(line + '\n');
    },
    onLine: (cb) => {
      lineCbs.push(cb);
    },
    onExit: (cb) => {
      if (exited !== undefined) cb(exited);
      else exitCbs.push(cb);
    },
    close: async () => {
      closing = true;
      if (exited !== undefined) return;
      if (!sock) {
        l.forget(token);
        return exit('closed before it connected');
      }
      sock.end(); // the agent's input ends: it stops its servers and exits
      const t = setTimeout(() => {
        try {
          if (pid !== undefined) process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
        sock!.destroy();
      }, 1000);
      await exitedP;
      clearTimeout(t);
    },
  };
}

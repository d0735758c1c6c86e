// Talks to one namespace's agent over its stdio (JSON lines). One process per
// namespace for the lab's whole life: a probe is a message, not a spawn.
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const AGENT = fileURLToPath(new URL('./agent/agent.mjs', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface AgentProbeResult {
  outcome: 'delivered' | 'refused' | 'icmp-error' | 'echo-reply' | 'dropped';
  responder?: string;
  seen?: { src: string; dst: string };
  icmp: string | null;
  replyFrom?: string;
  note?: string;
  errno?: string;
}

function spawnAgent(ns: string, host: string) {
  return execa('ip', ['netns', 'exec', ns, process.execPath, AGENT, host], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false });
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly proc: ReturnType<typeof spawnAgent>;
  readonly ready: Promise<void>;
  private closed = false;

  constructor(readonly ns: string, readonly host: string) {
    this.proc = spawnAgent(ns, host);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      let msg: { id: number | null; ok: boolean; result?: unknown; error?: string };
      try { msg = JSON.parse(line); } catch { return; }
      if (msg.id === 0) return readyResolve();
      const p = msg.id === null ? undefined : this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`agent ${host}: ${msg.error}`));
    });
    let stderr = '';
    this.proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    void this.proc.then((r) => {
      this.closed = true;
      const err = new Error(`agent ${host} exited (code ${r.exitCode ?? r.signal}): ${stderr.trim()}`);
      readyReject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  request<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`agent ${this.host} is closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  run(argv: readonly string[], stdin?: string): Promise<RunResult> {
    return this.request<RunResult>('run', { argv, stdin });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 1000);
    await this.proc;
    clearTimeout(t);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }
}

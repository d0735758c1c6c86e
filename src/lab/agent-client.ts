// Talks to one namespace's agent over a line channel (JSON lines). One process per
// namespace for the lab's whole life: a probe is a message, not a spawn.
import type { LabSite, LineChannel, RunResult } from './site.ts';
import type { ErrorReport } from '../model/index.ts';

export type { RunResult };

export interface AgentProbeResult {
  outcome: 'delivered' | 'refused' | 'icmp-error' | 'echo-reply' | 'dropped';
  responder?: string;
  seen?: { src: string; dst: string };
  icmp: string | null;
  replyFrom?: string;
  /** as the helper reports it: absent fields are null */
  error?: Partial<ErrorReport> & Pick<ErrorReport, 'kind'>;
  note?: string;
  /** the tuple the probe's first packet left with (null: it had no source address) */
  tuple?: [number, string, number, string, number] | null;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly chan: LineChannel;
  readonly ready: Promise<void>;
  private closed = false;

  constructor(
    site: LabSite,
    readonly ns: string,
    readonly host: string,
  ) {
    this.chan = site.spawnAgent(ns, host);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.chan.onLine((line) => {
      let msg: { id: number | null; ok: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      // the ready line, or why the agent could not start (it exits next: onExit fails what is pending)
      if (msg.id === 0) return msg.ok ? readyResolve() : readyReject(new Error(`agent ${host}: ${msg.error}`));
      const p = msg.id === null ? undefined : this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`agent ${host}: ${msg.error}`));
    });
    this.ready.catch(() => {}); // awaited by the lab: a failure is its, not unhandled
    this.chan.onExit((why) => {
      this.closed = true;
      const err = new Error(`agent ${host} exited (${why})`);
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
      this.chan.write(JSON.stringify({ id, op, ...args }));
    });
  }

  run(argv: readonly string[], stdin?: string): Promise<RunResult> {
    return this.request<RunResult>('run', { argv, stdin });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chan.close();
  }

  get pid(): number | undefined {
    return this.chan.pid;
  }
}

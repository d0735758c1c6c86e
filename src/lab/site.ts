// Where a lab's namespaces live. "netns": on this machine, beside the host's own
// (never linked to it). "docker": inside one container (src/lab/docker-site.ts).
// The lab itself (kernel-lab.ts) is the same on both: it only runs commands and
// talks to agents through a site.
import { execa } from 'execa';
import { LabCommandError, batchLine, checkArgs, destroyNamespaces, destroyNamespacesSync } from './ip.ts';
import { newRunId, nsName } from './names.ts';
import { launchAgent } from './agent-launcher.ts';

export type LabRuntime = 'netns' | 'docker';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A line-oriented channel to one long-lived process (an agent). */
export interface LineChannel {
  write(line: string): void;
  onLine(cb: (line: string) => void): void;
  /** called once, when the process has exited */
  onExit(cb: (why: string) => void): void;
  /** closes stdin; kills the process if it has not exited within a second */
  close(): Promise<void>;
  readonly pid?: number | undefined;
}

export interface LabSite {
  /** runs argv where the lab's namespaces are managed (an argument array, never a shell) */
  run(argv: readonly string[], stdin?: string): Promise<RunResult>;
  /** makes these network namespaces (checked names) */
  addNamespaces(names: readonly string[]): Promise<void>;
  /** starts the lab agent inside namespace `ns` */
  spawnAgent(ns: string, host: string): LineChannel;
  /** removes the namespaces and everything in them, synchronously (exit and signal handlers) */
  destroySync(namespaces: readonly string[]): void;
  /** removes the namespaces and ends the site (the container, for docker) */
  close(namespaces: readonly string[]): Promise<void>;
}

/**
 * Buckets of each lab namespace's own TCP established hash. A namespace takes the table its creator's namespace
 * asks for in `net.ipv4.tcp_child_ehash_entries` (tcp_set_hashinfo, net/ipv4/tcp_ipv4.c), else it shares the
 * machine's (262,144 buckets here), whose every walk (/proc/net/tcp, read by a reset) costs ~3 ms: measured ~10% of
 * a 64-lab campaign's CPU. A private table changes no probe's outcome; with it a namespace's tcp_max_syn_backlog is
 * 128 (tcp_sk_init: max(128, buckets / 128)), far above the few requests a case makes.
 */
export const CHILD_EHASH_ENTRIES = 512;

/** Namespaces on this machine, commands through execa. */
export class NetnsSite implements LabSite {
  async run(argv: readonly string[], stdin?: string): Promise<RunResult> {
    const r = await execa(argv[0]!, argv.slice(1), { input: stdin ?? '', reject: false });
    return { code: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /**
   * Made from inside a namespace of their own (nsenter --net), whose tcp_child_ehash_entries gives each a private
   * established hash (CHILD_EHASH_ENTRIES): the root namespace's sysctls stay untouched. That parent goes once they
   * exist (a namespace outlives its creator's); a crash in between leaves it to the next start's reaping.
   */
  async addNamespaces(names: readonly string[]): Promise<void> {
    const parent = nsName(process.pid, newRunId(), 'parent');
    const ok = async (argv: readonly string[], stdin?: string) => {
      checkArgs(argv);
      const r = await this.run(argv, stdin);
      if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
    };
    await ok(['ip', 'netns', 'add', parent]);
    try {
      const inParent = ['nsenter', `--net=/run/netns/${parent}`];
      // a kernel before 6.1 has no such sysctl: its namespaces share the machine's table, slower but the same
      await this.run([...inParent, 'sysctl', '-q', '-w', `net.ipv4.tcp_child_ehash_entries=${CHILD_EHASH_ENTRIES}`]);
      await ok([...inParent, 'ip', '-batch', '-'], names.map((n) => batchLine('netns', 'add', n)).join('\n') + '\n');
    } finally {
      await this.run(['ip', 'netns', 'del', parent]);
    }
  }

  /** forked by the campaign process's launcher (agent-launcher.ts), not started as a python3 of its own */
  spawnAgent(ns: string, host: string): LineChannel {
    return launchAgent(ns, host);
  }

  destroySync(namespaces: readonly string[]): void {
    destroyNamespacesSync(namespaces);
  }

  async close(namespaces: readonly string[]): Promise<void> {
    await destroyNamespaces(namespaces);
  }
}

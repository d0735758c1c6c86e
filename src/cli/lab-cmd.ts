// `nfconform lab up|down|status|exec`: a lab to explore by hand. `up` leaves a
// small holder process that owns the lab (its pid and start time are in the namespace
// names), so the lab survives the command and is still reaped if the holder dies.
// `down` and `exec` address only labs made by `up` (run id "m..."): the labs of other
// runs (check, fuzz, CI jobs) are listed by `status` and removed only by their owner, or
// by `doctor --cleanup` once that owner is gone.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { printRuleset } from '../model/index.ts';
import { KernelLab } from '../lab/kernel-lab.ts';
import { ownNamespacesSync } from '../lab/cleanup.ts';
import { parseNsName, ownerAlive, type NsOwner } from '../lab/names.ts';
import { destroyNamespacesSync } from '../lab/ip.ts';
import { quote } from '../model/index.ts';
import { loadTopology, loadTopologySpec, loadRulesets } from './load.ts';
import { cmdline, readFlags } from './args.ts';
import { LAB_USAGE } from './usage.ts';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));

export interface LabInfo {
  owner: NsOwner;
  runId: string;
  hosts: Map<string, string>;
  alive: boolean;
  handMade: boolean;
}

function labs(): LabInfo[] {
  const by = new Map<string, LabInfo>();
  for (const ns of ownNamespacesSync()) {
    const p = parseNsName(ns);
    if (!p) continue;
    let l = by.get(p.runId);
    if (!l)
      by.set(p.runId, (l = { owner: p, runId: p.runId, hosts: new Map(), alive: ownerAlive(p), handMade: p.handMade }));
    l.hosts.set(p.host, ns);
  }
  return [...by.values()];
}

/** The labs `lab down [RUNID]` takes down: only labs made by `lab up`; anything else is refused, with why. */
export function downTargets(all: readonly LabInfo[], id: string | undefined): LabInfo[] {
  const mine = all.filter((l) => l.handMade && (!id || l.runId === id));
  if (mine.length) return mine;
  const other = id ? all.find((l) => l.runId === id) : undefined;
  if (other)
    throw cmdline(
      `lab ${quote(id)} belongs to a run (pid ${other.owner.pid}), not to "lab up": it goes when` +
        ` that run ends${other.alive ? '' : ' (its owner is gone: nfconform doctor --cleanup)'}`,
    );
  throw cmdline(id ? `no lab ${quote(id)}` : 'no labs made by "nfconform lab up" to take down');
}

export async function labCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'up': {
      const { values } = readFlags(rest, {
        topology: { type: 'string', default: 'k8s-node' },
        ruleset: { type: 'string', multiple: true, default: [] },
      });
      loadRulesets(values.ruleset, loadTopology(values.topology)); // bad input is reported here, not in the holder
      const child = spawn(process.execPath, [BIN, 'lab', '__hold', ...rest], {
        detached: true,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        child.on('exit', (code) => reject(new Error(`lab holder exited (${code})`)));
      });
      child.unref();
      child.stdout!.destroy();
      const info = JSON.parse(line) as { runId: string; pid: number; hosts: Record<string, string> };
      write(`lab ${info.runId} is up (held by pid ${info.pid}); reach each host with:`);
      for (const [h, ns] of Object.entries(info.hosts))
        write(`  ${h.padEnd(8)} ip netns exec ${ns} bash     (or: nfconform lab exec ${h} -- CMD)`);
      write(`take it down with: nfconform lab down ${info.runId}`);
      return 0;
    }
    case '__hold': {
      const { values } = readFlags(rest, {
        topology: { type: 'string', default: 'k8s-node' },
        ruleset: { type: 'string', multiple: true, default: [] },
      });
      const spec = loadTopologySpec(values.topology);
      const rulesets = loadRulesets(values.ruleset, loadTopology(values.topology));
      const lab = await KernelLab.up(spec, { handMade: true });
      for (const [h, rs] of rulesets) await lab.apply(h, printRuleset(rs));
      write(JSON.stringify({ runId: lab.runId, pid: process.pid, hosts: Object.fromEntries(lab.ns) }));
      await new Promise(() => undefined); // until SIGTERM: the lab's signal handler tears it down
      return 0;
    }
    case 'status': {
      const all = labs();
      if (!all.length) write('no labs');
      for (const l of all)
        write(
          `${l.runId}  ${l.handMade ? 'lab up' : 'a run '}  pid` +
            ` ${l.owner.pid} ${l.alive ? 'alive' : 'DEAD (stale: nfconform doctor --cleanup)'}  hosts:` +
            ` ${[...l.hosts.keys()].join(' ')}`,
        );
      return 0;
    }
    case 'down': {
      for (const l of downTargets(labs(), rest[0])) {
        // the holder, if it is still the process that made the lab (ownerAlive: a reused pid is left alone)
        if (l.alive) {
          process.kill(l.owner.pid, 'SIGTERM');
          write(`lab ${l.runId}: sent SIGTERM to its holder, pid ${l.owner.pid}`);
        } else {
          destroyNamespacesSync([...l.hosts.values()]);
          write(`lab ${l.runId}: its holder is gone; removed its namespaces`);
        }
      }
      return 0;
    }
    case 'exec': {
      const dash = rest.indexOf('--');
      if (dash < 0 || dash === rest.length - 1) throw cmdline(`lab exec needs "-- CMD"\n${LAB_USAGE}`);
      const { values, positionals } = readFlags(rest.slice(0, dash), { lab: { type: 'string' } }, true);
      const host = positionals[0];
      if (!host) throw cmdline(`lab exec needs a host\n${LAB_USAGE}`);
      // without --lab: the newest lab made by "lab up", never another run's
      const l = labs()
        .filter((x) => x.alive && (values.lab ? x.runId === values.lab : x.handMade))
        .at(-1);
      if (!l) throw cmdline(values.lab ? `no running lab ${quote(values.lab)}` : 'no running lab (nfconform lab up)');
      const ns = l.hosts.get(host);
      if (!ns) throw cmdline(`lab ${l.runId} has no host ${quote(host)} (hosts: ${[...l.hosts.keys()].join(', ')})`);
      const r = await execa('ip', ['netns', 'exec', ns, ...rest.slice(dash + 1)], { stdio: 'inherit', reject: false });
      return r.exitCode ?? 1;
    }
    default:
      throw cmdline(LAB_USAGE);
  }
}

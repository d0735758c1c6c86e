// `nfconform lab up|down|status|exec`: a lab to explore by hand. `up` leaves a
// small holder process that owns the lab (its pid is in the namespace names),
// so the lab survives the command and is still reaped if the holder dies.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { printRuleset } from '../model/index.ts';
import { KernelLab } from '../lab/kernel-lab.ts';
import { ownNamespacesSync } from '../lab/cleanup.ts';
import { parseNsName, pidAlive } from '../lab/names.ts';
import { loadTopology, loadTopologySpec, loadRulesets } from './load.ts';
import { cmdline, readFlags } from './args.ts';
import { LAB_USAGE } from './usage.ts';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));

interface LabInfo {
  pid: number;
  runId: string;
  hosts: Map<string, string>;
  alive: boolean;
}

function labs(): LabInfo[] {
  const by = new Map<string, LabInfo>();
  for (const ns of ownNamespacesSync()) {
    const p = parseNsName(ns);
    if (!p) continue;
    let l = by.get(p.runId);
    if (!l) by.set(p.runId, (l = { pid: p.pid, runId: p.runId, hosts: new Map(), alive: pidAlive(p.pid) }));
    l.hosts.set(p.host, ns);
  }
  return [...by.values()];
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
      const lab = await KernelLab.up(spec);
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
          `${l.runId}  pid ${l.pid} ${l.alive ? 'alive' : 'DEAD (stale: nfconform doctor --cleanup)'}  hosts: ${[...l.hosts.keys()].join(' ')}`,
        );
      return 0;
    }
    case 'down': {
      const all = labs().filter((l) => !rest[0] || l.runId === rest[0]);
      if (!all.length) throw cmdline(rest[0] ? `no lab ${rest[0]}` : 'no labs to take down');
      for (const l of all) {
        if (l.alive) process.kill(l.pid, 'SIGTERM');
        write(`lab ${l.runId}: sent SIGTERM to pid ${l.pid}`);
      }
      return 0;
    }
    case 'exec': {
      const dash = rest.indexOf('--');
      if (dash < 0 || dash === rest.length - 1) throw cmdline(`lab exec needs "-- CMD"\n${LAB_USAGE}`);
      const { values, positionals } = readFlags(rest.slice(0, dash), { lab: { type: 'string' } }, true);
      const host = positionals[0];
      if (!host) throw cmdline(`lab exec needs a host\n${LAB_USAGE}`);
      const l = labs()
        .filter((x) => x.alive && (!values.lab || x.runId === values.lab))
        .at(-1);
      if (!l) throw cmdline('no running lab (nfconform lab up)');
      const ns = l.hosts.get(host);
      if (!ns) throw cmdline(`lab ${l.runId} has no host "${host}" (hosts: ${[...l.hosts.keys()].join(', ')})`);
      const r = await execa('ip', ['netns', 'exec', ns, ...rest.slice(dash + 1)], { stdio: 'inherit', reject: false });
      return r.exitCode ?? 1;
    }
    default:
      throw cmdline(LAB_USAGE);
  }
}

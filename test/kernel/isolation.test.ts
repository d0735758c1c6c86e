// Labs are isolated from each other and from the host, and nothing outlives a run.
import { describe, test, expect } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { reapStale } from '../../src/lab/cleanup.ts';
import { parseNsName } from '../../src/lab/names.ts';
import { k8sNode } from '../../src/model/net/presets.ts';
import { CHILD_EHASH_ENTRIES } from '../../src/lab/site.ts';
import { skipReason, kernelDescribe } from './env.ts';

const dnatTo = (ip: string) =>
  `*nat\n-A PREROUTING -d 10.96.0.100/32 -p tcp -j DNAT --to-destination ${ip}:8080\nCOMMIT\n`;
const namespaces = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);

describe.skipIf(skipReason)(kernelDescribe('kernel: lab isolation and cleanup'), () => {
  test('two labs at once do not interfere', async () => {
    const [a, b] = await Promise.all([KernelLab.up(k8sNode()), KernelLab.up(k8sNode())]);
    try {
      await Promise.all([a.apply('node', dnatTo('10.244.1.11')), b.apply('node', dnatTo('10.244.1.12'))]);
      const rounds = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          Promise.all([
            a.probe({ from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80, sport: 42000 + i }),
            b.probe({ from: 'client', proto: 'tcp', dst: '10.96.0.100', dport: 80, sport: 42000 + i }),
          ]),
        ),
      );
      for (const [ra, rb] of rounds) {
        expect(ra.responder).toBe('pod1');
        expect(rb.responder).toBe('pod2');
        // each lab's conntrack holds only its own flows
        expect(ra.conntrack.node?.every((c) => c.reply.startsWith('10.244.1.11:'))).toBe(true);
        expect(rb.conntrack.node?.every((c) => c.reply.startsWith('10.244.1.12:'))).toBe(true);
      }
    } finally {
      await Promise.all([a.down(), b.down()]);
    }
    expect(namespaces().filter((n) => n.includes(`-${a.runId}-`) || n.includes(`-${b.runId}-`))).toEqual([]);
  });

  test("each lab namespace has a TCP hash of its own; the root namespace's sysctls are untouched", async () => {
    const rootChild = readFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', 'utf8');
    const lab = await KernelLab.up(k8sNode());
    try {
      // made from a parent namespace asking for CHILD_EHASH_ENTRIES buckets: a walk of /proc/net/tcp is a walk of
      // this table, not of the machine's (tcp_ehash_entries is negative for a namespace sharing the global table)
      for (const h of ['node', 'client']) {
        const r = await lab.exec(h, ['cat', '/proc/sys/net/ipv4/tcp_ehash_entries']);
        expect(r.stdout.trim()).toBe(String(CHILD_EHASH_ENTRIES));
      }
      expect(
        namespaces().filter((n) => parseNsName(n)?.host === 'parent' && parseNsName(n)?.pid === process.pid),
      ).toEqual([]);
    } finally {
      await lab.down();
    }
    expect(readFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', 'utf8')).toBe(rootChild);
  });

  test('labs built at once are handed out with every link up (a first probe met links not yet up)', async () => {
    // each lab's links read the moment it is handed out, while the others are still being built
    const linksOf = async (lab: KernelLab) => {
      const seen = await Promise.all(
        ['node', 'node2', 'client', 'pod1'].map(async (h) => {
          // `ip -o link`: "N: NAME@PEER: <FLAGS> ... state UP"; lo stays UNKNOWN
          const r = await lab.exec(h, ['ip', '-d', '-o', 'link', 'show']);
          return r.stdout
            .split('\n')
            .filter((l) => l && !/^\d+: lo:/.test(l))
            .map((l) => `${h}: ${l}`);
        }),
      );
      return { lab, links: seen.flat() };
    };
    // on a busy machine, as in a campaign whose cases run while its labs are built: linkwatch's work waits its turn
    const busy = Array.from({ length: 4 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    let labs: Awaited<ReturnType<typeof linksOf>>[];
    try {
      labs = await Promise.all(Array.from({ length: 24 }, () => KernelLab.up(k8sNode()).then(linksOf)));
    } finally {
      for (const b of busy) b.kill('SIGKILL');
    }
    try {
      for (const { links } of labs) {
        expect(links.length).toBe(10);
        for (const l of links) {
          expect(l).toMatch(/ state UP /);
          // activated (dev_activate): the noop qdisc a device has until linkwatch runs drops every packet
          expect(l).not.toMatch(/ qdisc noop /);
          // a bridge port forwards (br_port_carrier_check on the NETDEV_CHANGE linkwatch sends)
          if (/ bridge_slave /.test(l)) expect(l).toMatch(/ bridge_slave state forwarding /);
        }
      }
    } finally {
      await Promise.all(labs.map((l) => l.lab.down()));
    }
  });

  test('a run killed with SIGKILL leaves nothing once the next run has started', async () => {
    const script = fileURLToPath(new URL('./fixtures/hold-lab.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /UP (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`lab holder exited early (${code})`)));
    });
    const owned = () => namespaces().filter((n) => parseNsName(n)?.pid === pid);
    expect(owned().length).toBe(6);
    const agentPids = owned().flatMap((ns) =>
      execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number),
    );
    expect(agentPids.length).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(owned().length).toBe(6); // still there: nobody cleaned up after SIGKILL
    const reaped = await reapStale(); // what the next run does first
    expect(reaped.filter((n) => parseNsName(n)?.pid === pid).length).toBe(6);
    expect(owned()).toEqual([]);
    // gone, or a zombie waiting for init to collect it
    const running = (p: number) => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 20 && agentPids.some(running); i++) await new Promise((r) => setTimeout(r, 50));
    expect(agentPids.filter(running)).toEqual([]);
    // its agent launcher (agent-launcher.ts) ended with its stdin
    const launchers = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`nfconform-agents-${pid}-`) && running(+p);
          } catch {
            return false;
          }
        });
    for (let i = 0; i < 20 && launchers().length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(launchers()).toEqual([]);
  });

  test('SIGTERM tears the lab down', async () => {
    const script = fileURLToPath(new URL('./fixtures/hold-lab.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    const child = spawn(tsx, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /UP (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
    });
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(namespaces().filter((n) => parseNsName(n)?.pid === pid)).toEqual([]);
  });
});

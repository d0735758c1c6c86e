// The lab agent (src/lab/agent/agent.py), run here outside any namespace and without root: its line protocol,
// commands as argument arrays, and the requests it refuses. Probes, servers and resets are kernel tests.
import { test, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AGENT_DIR, PYTHON_FLAGS, pythonPath } from '../../src/lab/agent-python.ts';

type Reply = { id: number | null; ok: boolean; result?: unknown; error?: string };

test('ready line, run, refusals and a closed stdin', async () => {
  const p = spawn(pythonPath(), [...PYTHON_FLAGS, `${AGENT_DIR}agent.py`, 'h1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const replies: Reply[] = [];
  const waiters: [number | null, (r: Reply) => void][] = [];
  createInterface({ input: p.stdout }).on('line', (l) => {
    const r = JSON.parse(l) as Reply;
    const w = waiters.findIndex(([id]) => id === r.id);
    if (w >= 0) waiters.splice(w, 1)[0]![1](r);
    else replies.push(r);
  });
  const reply = (id: number | null) =>
    new Promise<Reply>((res) => {
      const seen = replies.findIndex((r) => r.id === id);
      if (seen >= 0) res(replies.splice(seen, 1)[0]!);
      else waiters.push([id, res]);
    });
  const ask = (m: object) => p.stdin.write(JSON.stringify(m) + '\n');

  expect(await reply(0)).toEqual({ id: 0, ok: true, result: { ready: 'h1' } });
  ask({ id: 1, op: 'hello' });
  expect((await reply(1)).result).toMatchObject({ host: 'h1' });
  // a command's stdin, stdout, stderr and exit code; one that cannot start is 127, not an agent error
  ask({ id: 2, op: 'run', argv: ['sh', '-c', 'cat; echo oops >&2; exit 3'], stdin: 'through stdin' });
  expect((await reply(2)).result).toEqual({ code: 3, stdout: 'through stdin', stderr: 'oops\n' });
  ask({ id: 3, op: 'run', argv: ['/nonexistent-command'] });
  expect((await reply(3)).result).toMatchObject({ code: 127 });
  // a sysctl path may not climb out of /proc/sys, a recent list line is checked, an unknown op is refused
  ask({ id: 4, op: 'sysctl', path: ['net', '..', 'x'], value: 1 });
  expect(await reply(4)).toMatchObject({ ok: false, error: expect.stringMatching(/bad sysctl path/) });
  ask({ id: 5, op: 'recent-write', list: '../x', line: '+10.0.0.1' });
  expect(await reply(5)).toMatchObject({ ok: false, error: 'bad recent list or line' });
  // a system call's failure names its errno (a recent list whose last rule went: ENOENT, run-case.ts)
  ask({ id: 11, op: 'recent-write', list: 'nfc-no-such-list', line: '/' });
  expect(await reply(11)).toMatchObject({ ok: false, error: expect.stringMatching(/^ENOENT: /) });
  ask({ id: 6, op: 'no-such-op' });
  expect(await reply(6)).toMatchObject({ ok: false, error: 'unknown op no-such-op' });
  p.stdin.write('not json\n');
  expect(await reply(null)).toMatchObject({ ok: false, error: 'bad json' });
  // an interface's state is read from /sys (lo is "unknown", never "up"); a name with a slash is refused
  ask({ id: 7, op: 'links-up', names: ['lo', 'nfc-absent0'] });
  expect((await reply(7)).result).toEqual(['lo unknown', 'nfc-absent0 absent']);
  ask({ id: 8, op: 'links-up', names: ['../lo'] });
  expect(await reply(8)).toMatchObject({ ok: false });

  // a long command answers from its own thread: the requests after it are not held up (a server a test runs)
  ask({ id: 9, op: 'run', argv: ['sleep', '1'] });
  ask({ id: 10, op: 'hello' });
  const slow = reply(9);
  const first = await Promise.race([slow.then(() => 9), reply(10).then(() => 10)]);
  expect(first).toBe(10);
  expect((await slow).result).toMatchObject({ code: 0 });

  const exited = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
  p.stdin.end();
  expect(await exited).toBe(0);
});

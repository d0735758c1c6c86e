// The Docker lab's helper (src/lab/agent/supervisor.mjs), run here without Docker: commands and
// long-lived children are messages over one stdin/stdout, and a closed stdin ends everything.
import { test, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SUPERVISOR = fileURLToPath(new URL('../../src/lab/agent/supervisor.mjs', import.meta.url));

test('run, spawn, send, end; exit when stdin closes', async () => {
  const p = spawn(process.execPath, [SUPERVISOR], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: [(m: Record<string, unknown>) => boolean, (m: Record<string, unknown>) => void][] = [];
  createInterface({ input: p.stdout }).on('line', (l) => {
    const m = JSON.parse(l) as Record<string, unknown>;
    lines.push(m);
    for (const [i, [ok, res]] of waiters.entries())
      if (ok(m)) {
        waiters.splice(i, 1);
        res(m);
        break;
      }
  });
  const next = (ok: (m: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((res) => {
      const seen = lines.find(ok);
      if (seen) res(seen);
      else waiters.push([ok, res]);
    });
  const send = (m: object) => p.stdin.write(JSON.stringify(m) + '\n');
  await next((m) => m.ready === true);

  send({ op: 'run', id: 1, argv: ['cat'], stdin: 'through stdin' });
  send({ op: 'run', id: 2, argv: ['/nonexistent-command'] });
  expect((await next((m) => m.id === 1)).result).toEqual({ code: 0, stdout: 'through stdin', stderr: '' });
  expect((await next((m) => m.id === 2)).result).toMatchObject({ code: 127 });

  // a long-lived child: its stdout lines come back tagged with its channel
  send({ op: 'spawn', ch: 7, argv: ['cat'] });
  send({ op: 'send', ch: 7, line: 'hello' });
  expect(await next((m) => m.ch === 7 && m.line !== undefined)).toEqual({ ch: 7, line: 'hello' });
  send({ op: 'end', ch: 7 });
  expect(await next((m) => m.ch === 7 && m.exit !== undefined)).toMatchObject({ ch: 7, exit: 0 });

  // the owner goes away: the helper kills its children and exits
  send({ op: 'spawn', ch: 8, argv: ['sleep', '30'] });
  p.stdin.end();
  const code = await new Promise((r) => p.once('exit', r));
  expect(code).toBe(0);
});

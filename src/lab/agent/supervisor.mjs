// The Docker lab's helper: the container's only long-lived process, started by
// dockerode and driven over the container's one attached stdin/stdout stream
// (one `docker exec` costs ~100 ms here; a message costs well under 1 ms).
// JSON lines in:  {"op":"run","id":1,"argv":[...],"stdin":"..."}
//                 {"op":"spawn","ch":2,"argv":[...]}   {"op":"send","ch":2,"line":"..."}   {"op":"end","ch":2}
// JSON lines out: {"ready":true}  {"id":1,"result":{"code":0,"stdout":"","stderr":""}}
//                 {"ch":2,"line":"..."}  {"ch":2,"exit":0,"stderr":"..."}
// When its stdin closes (the owner exited or died), it kills every child and exits,
// and the container (AutoRemove) goes with it. Commands are argv arrays, never a shell.
// @ts-check
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const children = new Map();

/** @param {unknown} msg */
function send(msg) {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

/** @param {number} id @param {string[]} argv @param {string | undefined} stdin */
function run(id, argv, stdin) {
  const child = spawn(argv[0] ?? 'false', argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let answered = false;
  /** @param {{code: number, stdout: string, stderr: string}} result */
  const answer = (result) => {
    if (!answered) {
      answered = true;
      send({ id, result });
    }
  };
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.on('error', (e) => answer({ code: 127, stdout, stderr: e.message }));
  child.on('close', (code) => answer({ code: code ?? 1, stdout, stderr }));
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin ?? '');
}

/** @param {number} ch @param {string[]} argv */
function start(ch, argv) {
  const child = spawn(argv[0] ?? 'false', argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  children.set(ch, child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (line) => send({ ch, line }));
  child.on('error', (e) => {
    stderr += e.message;
  });
  child.on('close', (code) => {
    children.delete(ch);
    send({ ch, exit: code ?? 1, stderr });
  });
  child.stdin.on('error', () => undefined);
}

function shutdown() {
  for (const c of children.values()) c.kill('SIGKILL');
  process.exit(0);
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg.op === 'run') run(msg.id, msg.argv, msg.stdin);
  else if (msg.op === 'spawn') start(msg.ch, msg.argv);
  else if (msg.op === 'send') children.get(msg.ch)?.stdin?.write(msg.line + '\n');
  else if (msg.op === 'end') children.get(msg.ch)?.stdin?.end();
});
rl.on('close', shutdown);
process.on('SIGTERM', shutdown);
send({ ready: true });

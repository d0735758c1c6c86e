// Where the lab agent's Python lives and how it is started (agent-launcher.ts, docker-site.ts, the unit test).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const AGENT_DIR = fileURLToPath(new URL('./agent/', import.meta.url));

/** The agent imports nothing outside the standard library: no `site` (a .pth file of this machine's Python imported
 *  certifi at every start), no PYTHON* variables, no user site folder. Measured: 80 ms of CPU per start, 44 with these
 *  flags and the modules' bytecode cached (__pycache__ beside them; bin/dist-current.js ignores it). */
export const PYTHON_FLAGS = ['-S', '-E', '-s'] as const;

let python: string | undefined;

/**
 * The python3 the agent launcher runs (and the unit test's agent), as an absolute path, asked once per process:
 * `python3` on PATH may be a version manager's shim (pyenv's runs about twenty bash processes per start, measured:
 * half of a fuzz campaign's process spawns when each agent was a python3 of its own). Plain `python3` if the
 * question fails.
 */
export function pythonPath(): string {
  if (python === undefined) {
    try {
      const out = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
        encoding: 'utf8',
        timeout: 30_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      python = out.startsWith('/') ? out : 'python3';
    } catch {
      python = 'python3';
    }
  }
  return python;
}

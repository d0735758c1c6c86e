// The Docker site: one container per lab (NET_ADMIN + SYS_ADMIN, network none,
// labelled with the run and its owner), the lab's namespaces inside it, and one
// long-lived helper (agent/supervisor.mjs) driven over the container's attached
// stdin/stdout. No `docker exec` per command: one costs ~100 ms here.
import type Docker from 'dockerode';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';
import type { LabSite, LineChannel, RunResult } from './site.ts';
import { AGENT_DIR, PYTHON_FLAGS } from './agent-python.ts';
import { LabCommandError, batchLine } from './ip.ts';
import { ownerAlive, startTimeOf } from './names.ts';

const IMAGE_REPO = 'nfconform-lab';
const LABEL = 'org.nfconform.lab';
const OWNER_PID = 'org.nfconform.owner-pid';
/** the owner's start time (/proc/PID/stat field 22): a reused pid does not keep a container alive */
const OWNER_START = 'org.nfconform.owner-start';
const OWNER_HOST = 'org.nfconform.owner-host';
const RUN = 'org.nfconform.run';
/** where the agent folder is mounted read-only in the container */
const AGENT_IN = '/opt/nfconform/agent/';

/** A Docker problem the user can fix; the message says how. */
export class DockerLabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerLabError';
  }
}

/** dockerode takes ~0.5 s to load: loaded on the first use of a Docker lab, not with this module. */
export function dockerClient(): Docker {
  const DockerClass = createRequire(import.meta.url)('dockerode') as typeof Docker;
  return new DockerClass();
}

/** Why a Docker lab cannot start here, or undefined. */
export async function dockerSkipReason(docker: Docker = dockerClient()): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch (e) {
    return noDaemon(e).message;
  }
  try {
    await findImage(docker);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

function noDaemon(e: unknown): DockerLabError {
  return new DockerLabError(
    `no Docker daemon answers (${(e as Error).message}). Start one: Docker Desktop on a` +
      ` laptop; on Linux as root \`dockerd --iptables=false --bridge=none &\` (see README, "Docker").`,
  );
}

/** The lab image: $NFCONFORM_DOCKER_IMAGE, or the newest nfconform-lab:iptables-<version>. */
export async function findImage(docker: Docker = dockerClient()): Promise<string> {
  const wanted = process.env.NFCONFORM_DOCKER_IMAGE;
  const images = await docker
    .listImages({ filters: JSON.stringify({ reference: [wanted ?? IMAGE_REPO] }) })
    .catch((e: unknown) => {
      throw noDaemon(e);
    });
  const tags = images.sort((a, b) => b.Created - a.Created).flatMap((i) => i.RepoTags ?? []);
  const tag = wanted
    ? tags.find((t) => t === wanted || t === `${wanted}:latest`)
    : tags.find((t) => t.startsWith(`${IMAGE_REPO}:iptables-`));
  if (!tag)
    throw new DockerLabError(
      `the lab image ${wanted ?? `${IMAGE_REPO}:iptables-*`} is missing. Build it: \`npm run` +
        ` docker:build\` (or \`npm run docker:build -- --offline\` without an image registry).`,
    );
  return tag;
}

/** Removes lab containers whose owner process (on this machine) is gone. Returns their ids. */
export async function sweepStaleContainers(docker: Docker = dockerClient()): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL] }) });
  const stale = list.filter(
    (c) =>
      c.Labels[OWNER_HOST] === hostname() &&
      Number(c.Labels[OWNER_PID]) !== process.pid &&
      !ownerAlive({
        pid: Number(c.Labels[OWNER_PID]),
        ...(c.Labels[OWNER_START] ? { start: Number(c.Labels[OWNER_START]) } : {}),
      }),
  );
  await Promise.all(
    stale.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  return stale.map((c) => c.Id);
}

/** Every nfconform lab container, whoever owns it (for `doctor` and hygiene checks). */
export async function ownContainers(docker: Docker = dockerClient()): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL] }) });
  return list.map((c) => c.Id);
}

type Reply = {
  id?: number;
  result?: RunResult;
  ch?: number;
  line?: string;
  exit?: number;
  stderr?: string;
  ready?: boolean;
};

export class DockerSite implements LabSite {
  private nextId = 1;
  private readonly pending = new Map<number, (r: RunResult) => void>();
  private readonly channels = new Map<number, { lines: ((l: string) => void)[]; exits: ((why: string) => void)[] }>();
  private closed = false;

  private constructor(
    readonly container: Docker.Container,
    private readonly stream: NodeJS.ReadWriteStream,
  ) {}

  static async open(runId: string): Promise<DockerSite> {
    const docker = dockerClient();
    await docker.ping().catch((e: unknown) => {
      throw noDaemon(e);
    });
    await sweepStaleContainers(docker);
    const image = await findImage(docker);
    const container = await docker.createContainer({
      Image: image,
      name: `nfc-${process.pid}-${runId}`,
      Cmd: ['node', `${AGENT_IN}supervisor.mjs`],
      Labels: {
        [LABEL]: '1',
        [RUN]: runId,
        [OWNER_PID]: String(process.pid),
        [OWNER_START]: String(startTimeOf(process.pid) ?? ''),
        [OWNER_HOST]: hostname(),
      },
      OpenStdin: true,
      StdinOnce: true, // stdin closes when this process goes away: the helper exits and the container is removed
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: {
        NetworkMode: 'none',
        CapAdd: ['NET_ADMIN', 'SYS_ADMIN'],
        AutoRemove: true,
        Binds: [`${AGENT_DIR}:${AGENT_IN}:ro`],
        // per-namespace sysctls are written under /proc/sys, which Docker mounts read-only by default
        ReadonlyPaths: [],
        MaskedPaths: [],
      },
    });
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as NodeJS.ReadWriteStream;
    const site = new DockerSite(container, stream);
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(stream, out, err);
    let stderr = '';
    err.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const readyP = new Promise<void>((res, rej) => {
      ready = res;
      failed = rej;
    });
    createInterface({ input: out }).on('line', (line) => {
      let msg: Reply;
      try {
        msg = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      if (msg.ready) return ready();
      site.dispatch(msg);
    });
    stream.on('end', () => {
      site.closed = true;
      failed(new DockerLabError(`the lab container exited: ${stderr.trim() || 'no output'}`));
      for (const p of site.pending.values()) p({ code: 125, stdout: '', stderr: 'the lab container exited' });
      for (const c of site.channels.values()) for (const f of c.exits) f('the lab container exited');
    });
    try {
      await container.start();
    } catch (e) {
      await container.remove({ force: true }).catch(() => undefined);
      const msg = (e as Error).message;
      if (/caps|capabilit|operation not permitted/i.test(msg))
        throw new DockerLabError(
          `Docker refused the lab container's capabilities NET_ADMIN and SYS_ADMIN (${msg}). The` +
            ` daemon must allow --cap-add NET_ADMIN --cap-add SYS_ADMIN (not --privileged); on rootless` +
            ` or restricted daemons use the netns backend as root instead.`,
        );
      throw new DockerLabError(`the lab container did not start: ${msg}`);
    }
    await readyP;
    return site;
  }

  private dispatch(msg: Reply): void {
    if (msg.id !== undefined && msg.result) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      p?.(msg.result);
    } else if (msg.ch !== undefined) {
      const c = this.channels.get(msg.ch);
      if (!c) return;
      if (msg.line !== undefined) for (const f of c.lines) f(msg.line);
      else if (msg.exit !== undefined) {
        this.channels.delete(msg.ch);
        for (const f of c.exits) f(`code ${msg.exit}: ${(msg.stderr ?? '').trim()}`);
      }
    }
  }

  private send(msg: object): void {
    this.stream.write(JSON.stringify(msg) + '\n');
  }

  /** `ip netns add` in the container's own namespace (which is no other's: its hash sizes are its own) */
  async addNamespaces(names: readonly string[]): Promise<void> {
    const argv = ['ip', '-batch', '-'];
    const r = await this.run(argv, names.map((n) => batchLine('netns', 'add', n)).join('\n') + '\n');
    if (r.code !== 0) throw new LabCommandError(argv, r.code, r.stderr);
  }

  run(argv: readonly string[], stdin?: string): Promise<RunResult> {
    if (this.closed) return Promise.resolve({ code: 125, stdout: '', stderr: 'the lab container is gone' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ op: 'run', id, argv, stdin });
    });
  }

  spawnAgent(ns: string, host: string): LineChannel {
    const ch = this.nextId++;
    const c = { lines: [] as ((l: string) => void)[], exits: [] as ((why: string) => void)[] };
    this.channels.set(ch, c);
    let exited = false;
    let onGone!: () => void;
    const gone = new Promise<void>((res) => {
      onGone = res;
    });
    c.exits.push(() => {
      exited = true;
      onGone();
    });
    this.send({
      op: 'spawn',
      ch,
      argv: ['ip', 'netns', 'exec', ns, 'python3', ...PYTHON_FLAGS, `${AGENT_IN}agent.py`, host],
    });
    return {
      write: (line) => this.send({ op: 'send', ch, line }),
      onLine: (cb) => {
        c.lines.push(cb);
      },
      onExit: (cb) => {
        c.exits.push(cb);
      },
      close: async () => {
        if (exited || this.closed) return;
        this.send({ op: 'end', ch });
        await Promise.race([gone, new Promise((r) => setTimeout(r, 1000))]);
      },
    };
  }

  /** The container takes its namespaces with it; nothing to do one by one. */
  destroySync(): void {
    if (this.closed) return;
    // exit handlers cannot wait for dockerode: the CLI, if present, removes the container at once;
    // otherwise the closing stream ends the helper and AutoRemove removes it
    try {
      execFileSync('docker', ['rm', '-f', this.container.id], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      /* see above */
    }
    this.closed = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
    await this.container.remove({ force: true }).catch(() => undefined);
  }
}

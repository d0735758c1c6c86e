// The HTML pages in a real browser (Debian's chromium, headless; scripts/setup.sh installs it): `trace --html`
// and `run --html` are written by the CLI, a trace page with a kernel that differs is rendered from the
// library, and each is opened: the diagram and the table must be in the DOM after the page's script ran,
// the filters must filter, and the browser must log no console error. Screenshots go to reports/.
import { beforeAll, test, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  compileTopology,
  k8sNode,
  makeLab,
  newWorld,
  parseRuleset,
  runProbe,
  type Probe,
} from '../../src/model/index.ts';
import { tracePage } from '../../src/conform/html.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPORTS = join(ROOT, 'reports');
const dir = mkdtempSync(join(tmpdir(), 'nfc-html-'));

function chromium(): string {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  throw new Error('no chromium on PATH: bash scripts/setup.sh installs it (apt-get install chromium)');
}

interface Opened {
  dom: string;
  /** the browser's log: console messages appear as "CONSOLE" lines */
  log: string;
}

/** Opens a page headless: the DOM after its scripts ran, the browser's log, and a screenshot. */
function open(url: string, screenshot?: string): Opened {
  const profile = mkdtempSync(join(dir, 'profile-'));
  const flags = [
    '--headless',
    '--no-sandbox', // root, in a container
    '--disable-gpu',
    '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`,
    '--enable-logging=stderr',
    '--v=0',
    '--virtual-time-budget=5000',
    '--window-size=1400,1000',
  ];
  const dump = spawnSync(chromium(), [...flags, '--dump-dom', url], { encoding: 'utf8', timeout: 120_000 });
  if (dump.status !== 0) throw new Error(`chromium --dump-dom ${url} exited ${dump.status}: ${dump.stderr}`);
  if (screenshot) {
    const shot = spawnSync(chromium(), [...flags, `--screenshot=${screenshot}`, url], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (shot.status !== 0 || !existsSync(screenshot)) throw new Error(`chromium --screenshot failed: ${shot.stderr}`);
  }
  return { dom: dump.stdout, log: dump.stderr };
}

const consoleErrors = (log: string) =>
  log.split('\n').filter((l) => /CONSOLE/.test(l) && /error|uncaught|exception/i.test(l));
const count = (dom: string, re: RegExp) => (dom.match(re) ?? []).length;

function cli(args: string[]): string {
  try {
    return execFileSync(process.execPath, [join(ROOT, 'bin/nfconform.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    if (x.status === 1) return x.stdout; // a run with a failing case exits 1: the page is still written
    throw new Error(`nfconform ${args.join(' ')} exited ${x.status}: ${x.stderr}`);
  }
}

beforeAll(() => {
  mkdirSync(REPORTS, { recursive: true });
  chromium();
});

test('the browser check sees a console error when there is one', () => {
  const f = join(dir, 'broken.html');
  writeFileSync(
    f,
    '<!DOCTYPE html><html><body><p id="x">x</p><script>console.error("planted error")</script></body></html>',
  );
  const page = open(pathToFileURL(f).href);
  expect(page.dom).toContain('id="x"');
  expect(consoleErrors(page.log).join('\n')).toContain('planted error');
});

test('trace --html: the path as a diagram, every possibility of a statistic rule with its probability', () => {
  const rules = join(dir, 'svc.rules');
  writeFileSync(
    rules,
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':KUBE-SVC - [0:0]',
      '-A PREROUTING -d 10.96.0.100/32 -p tcp -m tcp --dport 80 -j KUBE-SVC',
      '-A KUBE-SVC -p tcp -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.244.1.11:8080',
      '-A KUBE-SVC -p tcp -j DNAT --to-destination 10.244.2.13:8080',
      'COMMIT',
      '',
    ].join('\n'),
  );
  const html = join(dir, 'trace.html');
  const diagram = cli([
    'trace',
    '--ruleset',
    `node=${rules}`,
    '--from',
    'pod2',
    'tcp',
    '10.96.0.100:80',
    '--diagram',
    '--html',
    html,
  ]);
  // the terminal diagram draws the same path: host boxes, hooks, the deciding rule
  expect(diagram).toContain('┌─ node');
  expect(diagram).toContain('├─┬ PREROUTING in=cni0');
  expect(diagram).toMatch(/nat KUBE-SVC #1 .* ◀ decided/);
  expect(diagram).toMatch(/⑂ .*\(p=0\.5000\)/);
  const page = open(pathToFileURL(html).href, join(REPORTS, 'trace-html.png'));
  expect(consoleErrors(page.log)).toEqual([]);
  expect(page.dom).toContain('possibility 1 of 2, p=0.500000');
  expect(page.dom).toContain('possibility 2 of 2, p=0.500000');
  expect(count(page.dom, /<section class="stage">/g)).toBeGreaterThanOrEqual(8); // 4 packets per possibility
  for (const host of ['pod2', 'node', 'pod1', 'node2', 'pod3']) expect(page.dom).toContain(`data-host="${host}"`);
  for (const hook of ['OUTPUT', 'PREROUTING', 'FORWARD', 'POSTROUTING', 'INPUT'])
    expect(page.dom).toContain(`data-hook="${hook}"`);
  expect(count(page.dom, /class="e rule matched decided"/g)).toBeGreaterThan(0);
  expect(page.dom).toMatch(/class="e nat">NAT destination rewritten/);
  expect(page.dom).toMatch(/class="e ct">conntrack NEW/);
  expect(page.dom).toMatch(/class="e choice">⑂ [^<]*\(p=0\.5000\)/);
  expect(page.dom).toMatch(/class="e deliver"/);
});

test('a trace page with the kernel: model and kernel side by side, the differing fields highlighted', () => {
  const net = compileTopology(k8sNode());
  const lab = makeLab(
    net,
    new Map([['node', parseRuleset('*filter\n-A FORWARD -p tcp --dport 8080 -j DROP\nCOMMIT\n')]]),
  );
  const probe: Probe = { from: 'pod2', proto: 'tcp', dst: '10.244.2.13', dport: 8080 };
  const results = runProbe(lab, newWorld(lab), probe).map((r) => ({
    p: r.p,
    observation: r.value.observation,
    trace: r.value.trace,
  }));
  expect(results[0]!.observation.outcome).toBe('dropped');
  // a kernel that delivered: outcome, responder and what the server saw differ from the model (a drop point
  // is compared only when both sides name one: spec/equivalence.md)
  const kernel = {
    ...results[0]!.observation,
    outcome: 'delivered' as const,
    responder: 'pod3',
    droppedAt: null,
    seen: { src: '10.244.1.12:41000', dst: '10.244.2.13:8080' },
  };
  const html = join(dir, 'kernel.html');
  writeFileSync(html, tracePage({ title: 'model against kernel', probe, results, kernel }));
  const page = open(pathToFileURL(html).href, join(REPORTS, 'trace-kernel-html.png'));
  expect(consoleErrors(page.log)).toEqual([]);
  for (const f of ['outcome', 'responder', 'seen']) expect(page.dom).toContain(`<tr class="diff" data-field="${f}">`);
  expect(page.dom).toContain('<tr class="same" data-field="icmp">');
  expect(page.dom).toContain('model and kernel differ in outcome, responder, seen');
  expect(page.dom).toMatch(/class="e drop">✗ [^<]*FORWARD/);
});

test('run --html: the truth table with filters by tag, suite and status, failures explained', () => {
  const failing = join(dir, 'failing.json');
  writeFileSync(
    failing,
    JSON.stringify({
      name: 'planted failure',
      tags: ['planted'],
      topology: 'k8s-node',
      steps: [{ from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080, expect: { outcome: 'dropped' } }],
    }),
  );
  const out = join(dir, 'run');
  cli(['run', 'seed', '--sides', 'model', '--html', out]);
  const runHtml = pathToFileURL(join(out, 'index.html')).href;
  const page = open(runHtml, join(REPORTS, 'run-html.png'));
  expect(consoleErrors(page.log)).toEqual([]);
  expect(page.dom).toContain('data-ready="1"');
  const rows = count(page.dom, /<tr class="case"/g);
  expect(rows).toBeGreaterThanOrEqual(20);
  expect(page.dom).toContain(`${rows} of ${rows} cases shown`);
  for (const f of ['f-tag', 'f-suite', 'f-status']) expect(page.dom).toContain(`<select id="${f}">`);
  // a filter carried by the link hides every other row
  const none = open(`${runHtml}#suite=seed&status=skip`);
  expect(none.dom).toContain(`0 of ${rows} cases shown`);
  expect(count(none.dom, /<tr class="case"[^>]* hidden=""/g)).toBe(rows);
  expect(open(`${runHtml}#text=C14`).dom).toContain(`1 of ${rows} cases shown`);
  // check --html with a failing case: its row says fail, and the failure is explained with its path
  const failDir = join(dir, 'check');
  cli(['check', failing, join(ROOT, 'suites/seed/C06-input-drop-source.json'), '--sides', 'model', '--html', failDir]);
  const failed = open(pathToFileURL(join(failDir, 'index.html')).href, join(REPORTS, 'check-fail-html.png'));
  expect(consoleErrors(failed.log)).toEqual([]);
  expect(failed.dom).toContain('2 cases: 1 passed, 1 failed');
  expect(failed.dom).toMatch(/<tr class="case"[^>]*data-status="fail"[^>]*><td>planted failure<\/td>/);
  expect(failed.dom).toMatch(/<li class="miss">model: [^<]*dropped/);
  expect(failed.dom).toMatch(/<div class="diagram">.*data-host="pod1"/s);
  const onlyFail = open(`${pathToFileURL(join(failDir, 'index.html')).href}#status=fail`);
  expect(onlyFail.dom).toContain('1 of 2 cases shown');
});

test('fuzz artifacts: explain.html beside explain.md draws the path and lists the differences', async () => {
  const { writeArtifacts } = await import('../../src/conform/artifacts.ts');
  const out = await writeArtifacts(mkdtempSync(join(dir, 'fuzz-')), {
    c: {
      name: 'planted <divergence>',
      topology: 'k8s-node',
      steps: [{ from: 'pod1', proto: 'tcp', dst: '10.244.1.12', dport: 8080 }],
    },
    diffs: [{ step: 'pod1 tcp 10.244.1.12:8080', diff: { field: 'outcome', model: 'delivered', kernel: 'dropped' } }],
  });
  expect(existsSync(join(out, 'explain.md'))).toBe(true);
  const page = open(pathToFileURL(join(out, 'explain.html')).href);
  expect(consoleErrors(page.log)).toEqual([]);
  expect(page.dom).toContain('<h1>planted &lt;divergence&gt;: pod1 tcp 10.244.1.12:8080');
  expect(page.dom).toMatch(/<div class="diagram">.*data-host="pod1".*data-host="node".*data-host="pod2"/s);
  expect(page.dom).toMatch(
    '<li>pod1 tcp 10.244.1.12:8080: <b>outcome</b>: model <code>"delivered"</code>,' +
      ' kernel <code>"dropped"</code></li>',
  );
});

// `trace --kernel --html`: the page puts the real kernel's observation beside the model's (the browser test
// renders a page with a synthetic kernel; this one takes the kernel's from a fresh lab).
import { describe, test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipReason, kernelDescribe } from './env.ts';

const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));

describe.skipIf(skipReason)(kernelDescribe('kernel: trace --kernel --html'), () => {
  test('a DNAT through a ClusterIP: model and kernel side by side on the page, agreeing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfc-trace-html-'));
    const rules = join(dir, 'nat.rules');
    writeFileSync(
      rules,
      '*nat\n-A PREROUTING -d 10.96.0.100/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination' +
        ' 10.244.1.11:8080\nCOMMIT\n',
    );
    const html = join(dir, 'trace.html');
    const out = execFileSync(
      process.execPath,
      [
        BIN,
        'trace',
        '--ruleset',
        `node=${rules}`,
        '--from',
        'pod2',
        'tcp',
        '10.96.0.100:80',
        '--kernel',
        '--html',
        html,
      ],
      { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    );
    expect(out).toContain('model and kernel agree');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<h2>Model and kernel</h2>');
    expect(page).toContain('<th>kernel</th>');
    expect(page).toMatch(
      '<tr class="same" data-field="responder"><td class="mark">✓</td><th>responder</th>' +
        '<td class="mono">pod1</td><td class="mono">pod1</td>',
    );
    expect(page).not.toContain('<tr class="diff"');
    expect(page).toContain('<p class="pass">model and kernel agree</p>');
    expect(page).toMatch(/class="e nat">NAT destination rewritten/);
  });
});

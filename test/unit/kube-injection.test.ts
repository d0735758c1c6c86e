// No value of a Service, an EndpointSlice or a compile flag can add a rule to compile's
// output (issue 17): every attempt is an input error (exit 2), a skipped object with a
// warning, or rules without the injected text; the output is parsed and its rules counted.
import { describe, test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNode, type NodeConfig } from '../../src/kube/compile.ts';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { isInputError } from '../../src/model/errors.ts';

const MARK = 'NFCINJ';
const PAYLOADS = [
  `web" -j ACCEPT\n-A INPUT -j DROP -m comment --comment ${MARK}\n#`,
  `x\n-A INPUT -s 1.2.3.4 -j ACCEPT -m comment --comment ${MARK}`,
  `a" -m comment --comment "${MARK}`,
  `$(touch /tmp/${MARK})`,
  `\u001b[31m${MARK}`,
  `10.0.0.0/8 -j ACCEPT -m comment --comment ${MARK}`,
  `10.96.0.5\n-A INPUT -j ${MARK}`,
  `${MARK}`.toLowerCase() + '-'.repeat(300),
];

const service = (): Record<string, unknown> => ({
  kind: 'Service',
  metadata: { namespace: 'default', name: 'lb' },
  spec: {
    type: 'LoadBalancer',
    clusterIP: '10.96.0.10',
    externalTrafficPolicy: 'Local',
    healthCheckNodePort: 32000,
    sessionAffinity: 'ClientIP',
    sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    externalIPs: ['198.51.100.7'],
    loadBalancerSourceRanges: ['203.0.113.0/24'],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'web', nodePort: 30080 }],
  },
  status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } },
});
const slice = (): Record<string, unknown> => ({
  kind: 'EndpointSlice',
  metadata: { namespace: 'default', name: 'lb-1', labels: { 'kubernetes.io/service-name': 'lb' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  endpoints: [
    {
      addresses: ['10.244.1.11'],
      conditions: { ready: true },
      nodeName: 'node',
      hints: { forZones: [{ name: 'a' }] },
    },
  ],
});

/** Sets a value at a path like spec.ports[0].name */
function set(o: Record<string, unknown>, path: string, v: unknown): void {
  const keys = path.split('.').flatMap((k) => k.split(/\[(\d+)\]/).filter(Boolean));
  let cur: Record<string, unknown> = o;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys.at(-1)!] = v;
}

const SERVICE_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'spec.type',
  'spec.clusterIP',
  'spec.externalIPs[0]',
  'spec.loadBalancerSourceRanges[0]',
  'spec.ports[0].name',
  'spec.ports[0].protocol',
  'spec.ports[0].port',
  'spec.ports[0].targetPort',
  'spec.ports[0].nodePort',
  'spec.healthCheckNodePort',
  'spec.sessionAffinity',
  'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
  'spec.externalTrafficPolicy',
  'spec.internalTrafficPolicy',
  'status.loadBalancer.ingress[0].ip',
  'status.loadBalancer.ingress[0].ipMode',
];
const SLICE_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.labels.kubernetes\u0000io/service-name',
  'addressType',
  'ports[0].name',
  'ports[0].protocol',
  'ports[0].port',
  'endpoints[0].addresses[0]',
  'endpoints[0].nodeName',
  'endpoints[0].hints.forZones[0].name',
  'endpoints[0].conditions.ready',
];

const CONFIG: NodeConfig = { nodeName: 'node', nodeIPs: ['192.168.50.10'], clusterCIDR: '10.244.0.0/16', zone: 'a' };

function rulesOf(text: string): { count: number; input: number } {
  const rs = parseRuleset(text, { backend: 'nft' });
  let count = 0;
  let input = 0;
  for (const t of rs.tables.values())
    for (const c of t.chains.values()) {
      count += c.rules.length;
      if (c.name === 'INPUT') input += c.rules.length;
    }
  return { count, input };
}

const baseline = (objs: Record<string, unknown>[]) =>
  rulesOf(compileNode(readCluster(JSON.stringify({ kind: 'List', items: objs })), CONFIG));

describe('injection through every Service and EndpointSlice field', () => {
  const full = baseline([service(), slice()]);
  for (const [kind, fields] of [
    ['Service', SERVICE_FIELDS],
    ['EndpointSlice', SLICE_FIELDS],
  ] as const)
    for (const field of fields)
      test(`${kind} ${field}`, () => {
        for (const payload of PAYLOADS) {
          const svc = service();
          const sl = slice();
          const path = field.replace('\u0000', '.');
          if (field.includes('\u0000'))
            (sl.metadata as { labels: Record<string, string> }).labels['kubernetes.io/service-name'] = payload;
          else set(kind === 'Service' ? svc : sl, path, payload);
          const cluster = readCluster(JSON.stringify({ kind: 'List', items: [svc, sl] }), 'svc.json');
          const out = compileNode(cluster, CONFIG);
          expect(out).not.toContain(MARK);
          expect(out.toLowerCase()).not.toContain(MARK.toLowerCase());
          const got = rulesOf(out);
          expect(got.input).toBe(full.input);
          const skipped = cluster.warnings.filter((w) => w.skipped);
          expect(skipped.length, `${field} ${JSON.stringify(payload)}`).toBe(1);
          expect(skipped[0]!.object).toContain(
            kind === 'Service' && field !== 'metadata.name' && field !== 'metadata.namespace'
              ? 'Service default/lb'
              : 'items[',
          );
          expect(skipped[0]!.field.replace('kubernetes.io/service-name', 'kubernetes\u0000io/service-name')).toContain(
            field
              .split('[')[0]!
              .split('.')
              .at(-1)!
              .replace('\u0000', '.')
              .replace('kubernetes.io', 'kubernetes\u0000io')
              .split('\u0000')[0],
          );
          // the object is left out whole: the same rules as without it
          const without = kind === 'Service' ? baseline([sl]) : baseline([svc]);
          expect(got.count).toBe(without.count);
        }
      });
});

describe('injection through every compile setting', () => {
  const cluster = readCluster(JSON.stringify({ kind: 'List', items: [service(), slice()] }));
  const settings: [string, (p: string) => NodeConfig][] = [
    ['nodeName', (p) => ({ ...CONFIG, nodeName: p })],
    ['clusterCIDR', (p) => ({ ...CONFIG, clusterCIDR: p })],
    ['nodeIPs', (p) => ({ ...CONFIG, nodeIPs: [p] })],
    ['nodePortAddresses', (p) => ({ ...CONFIG, nodePortAddresses: [p] })],
    ['detectLocal NodeCIDR', (p) => ({ ...CONFIG, detectLocal: { mode: 'NodeCIDR', cidr: p } })],
    ['detectLocal BridgeInterface', (p) => ({ ...CONFIG, detectLocal: { mode: 'BridgeInterface', iface: p } })],
    [
      'detectLocal InterfaceNamePrefix',
      (p) => ({ ...CONFIG, detectLocal: { mode: 'InterfaceNamePrefix', prefix: p } }),
    ],
    ['zone', (p) => ({ ...CONFIG, zone: p })],
  ];
  for (const [name, make] of settings)
    test(name, () => {
      for (const payload of PAYLOADS) {
        let out: string | undefined;
        try {
          out = compileNode(cluster, make(payload));
        } catch (e) {
          expect(isInputError(e), String(e)).toBe(true);
          continue;
        }
        expect(out).not.toContain(MARK);
      }
    });
  test('CIDRs and addresses are parsed: 10.0.0.0/33, x and ::/0 are refused', () => {
    for (const c of ['10.0.0.0/33', 'x', '::/0', '10.0.0.0', '10.0.0.0/8 ', '010.0.0.0/8'])
      expect(() => compileNode(cluster, { ...CONFIG, clusterCIDR: c }), c).toThrow(/--cluster-cidr/);
    expect(() => compileNode(cluster, { ...CONFIG, clusterCIDR: '::/0' })).toThrow(/IPv6.*IPv4 only/);
  });
});

describe('the command line', () => {
  const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'nfc-inj-'));
  const run = (args: string[]) => {
    try {
      return {
        code: 0,
        out: execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
        err: '',
      };
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      return { code: x.status, out: x.stdout, err: x.stderr };
    }
  };
  test('a bad flag exits 2 naming it; a bad object is skipped with a warning, exit 1 under --strict', () => {
    const f = join(dir, 'svc.json');
    const bad = service();
    set(bad, 'metadata.name', PAYLOADS[0]);
    writeFileSync(f, JSON.stringify({ kind: 'List', items: [service(), slice(), { ...bad }] }));
    const r = run(['compile', '--services', f, '--node', 'node', '--cluster-cidr', PAYLOADS[5]!]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--cluster-cidr');
    expect(r.err).not.toContain('\n-A INPUT');
    const ok = run(['compile', '--services', f, '--node', 'node', '--cluster-cidr', '10.244.0.0/16']);
    expect(ok.code).toBe(0);
    expect(ok.out).not.toContain(MARK);
    const strict = run(['compile', '--services', f, '--node', 'node', '--cluster-cidr', '10.244.0.0/16', '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(
      /warning: .*svc\.json: items\[2\]: metadata\.name: ".*" must be a DNS-1035 label.*skipped/,
    );
  });
});

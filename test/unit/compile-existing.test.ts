// `compile --existing`: the node's `nft list ruleset` dump as the compiler's `existing`, so that the output is
// the resync kube-proxy would run there (spec/kube.md §2a): stale affinity sets deleted at once, stale
// per-Service chains emptied, then deleted at the next resync. The model applies each transaction.
import { describe, test, expect } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readCluster } from '../../src/kube/objects.ts';
import { compileNodeNft } from '../../src/kube/compile-nft.ts';
import { existingFromDump } from '../../src/conform/nft-existing.ts';
import { parseNft, printNft, isInputError } from '../../src/model/index.ts';

const fixture = (name: string) => readFileSync(new URL(`../../suites/fixtures/${name}`, import.meta.url), 'utf8');
const dump = fixture('node.nft'); // a real `nft list ruleset` of services.json compiled for node (README there)
const config = { nodeName: 'node', clusterCIDR: '10.244.0.0/16', nodeIPs: ['192.168.50.10'] };
const oneEndpoint = readCluster(fixture('affinity-one-endpoint.json'), 'affinity-one-endpoint.json');
const deletes = (text: string) => text.split('\n').filter((l) => l.startsWith('delete '));

describe('compile --existing', () => {
  test("the dump's kube-proxy table: its chains with their rule counts, its sets and maps", () => {
    const e = existingFromDump(dump, 'node.nft');
    expect(e.chains.find((c) => c.name === 'services')?.rules).toBe(2);
    expect(e.chains.find((c) => c.name === 'nat-prerouting')?.rules).toBe(1);
    expect(e.sets).toContain('service-ips');
    expect(e.sets.filter((s) => s.startsWith('affinity-')).length).toBeGreaterThan(1);
    // no kube-proxy table on the node: a first sync
    expect(existingFromDump('table ip filter {\n}\n', 'other.nft')).toEqual({ chains: [], sets: [] });
  });

  test('two resyncs from the dump: affinity sets of gone endpoints deleted at once, gone chains a sync later', () => {
    const before = existingFromDump(dump, 'node.nft');
    const first = compileNodeNft(oneEndpoint, config, before);
    const goneSets = before.sets.filter((s) => s.startsWith('affinity-') && !first.includes(`set ${s} {`));
    expect(goneSets.length).toBeGreaterThan(0);
    expect(deletes(first)).toEqual(goneSets.map((s) => `delete set ip kube-proxy ${s}`));
    // the node after it, as `nft list ruleset` would show it: the stale per-Service chains are there, empty
    const after1 = parseNft(first, { file: 'resync1.nft', base: parseNft(dump, { file: 'node.nft' }) });
    const listed = printNft(after1);
    const stale = existingFromDump(listed, 'after1.nft').chains.filter((c) => c.name.includes('/') && c.rules === 0);
    expect(stale.length).toBeGreaterThan(5);
    const second = compileNodeNft(oneEndpoint, config, existingFromDump(listed, 'after1.nft'));
    expect(deletes(second)).toEqual(stale.map((c) => `delete chain ip kube-proxy ${c.name}`));
    const after2 = parseNft(second, { file: 'resync2.nft', base: after1 });
    const t = after2.tables.get('ip kube-proxy')!;
    expect([...t.chains.keys()].filter((n) => n.includes('/') && !n.includes('default/sticky/'))).toEqual([]);
    // a third resync has nothing left to delete
    expect(deletes(compileNodeNft(oneEndpoint, config, existingFromDump(printNft(after2), 'after2.nft')))).toEqual([]);
  });

  test('a rule the model leaves out still counts: a chain holding one is never deleted', () => {
    const after1 = printNft(parseNft(compileNodeNft(oneEndpoint, config), { file: 'x.nft', base: parseNft(dump) }));
    const web = /chain (service-[A-Z2-7]{8}-default\/web\/tcp\/http) \{\n/.exec(after1)!;
    const withLimit = after1.replace(web[0], `${web[0]}\t\tlimit rate 10/second accept\n`);
    const e = existingFromDump(withLimit, 'limit.nft');
    expect(e.chains.find((c) => c.name === web[1])?.rules).toBe(1);
    expect(deletes(compileNodeNft(oneEndpoint, config, e))).not.toContain(`delete chain ip kube-proxy ${web[1]}`);
  });

  test('a bad dump: file:line:col and the cause', () => {
    const err = (text: string) => {
      try {
        existingFromDump(text, 'bad.nft');
      } catch (e) {
        expect(isInputError(e)).toBe(true);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err('# iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n')).toMatch(
      /^bad\.nft:2:1: is iptables-save text, not an nft dump/,
    );
    expect(err('table ip kube-proxy {\n\tchain services {\n\t\tip daddr frob 1 accept\n\t}\n}\n')).toMatch(
      /^bad\.nft:3:/,
    );
    expect(err('{"nftables": [{"table": 3}]}')).toMatch(/^bad\.nft/);
  });
});

describe('the CLI', () => {
  const BIN = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
  const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'nfc-existing-'));
  const services = fileURLToPath(new URL('../../suites/fixtures/affinity-one-endpoint.json', import.meta.url));
  const nodeNft = fileURLToPath(new URL('../../suites/fixtures/node.nft', import.meta.url));
  const base = ['compile', '--services', services, '--node', 'node', '--cluster-cidr', '10.244.0.0/16'];

  test('--existing NODE.nft writes the resync for that node; without it, a first sync', () => {
    const r = cli([...base, '--mode', 'nftables', '--existing', nodeNft]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(compileNodeNft(oneEndpoint, config, existingFromDump(dump, nodeNft)));
    expect(deletes(r.stdout).length).toBeGreaterThan(0);
    expect(deletes(cli([...base, '--mode', 'nftables']).stdout)).toEqual([]);
  });

  test('a bad dump exits 2 with file:line:col; --existing without --mode nftables exits 2', () => {
    const bad = join(dir, 'bad.nft');
    writeFileSync(bad, 'table ip kube-proxy {\n\tchain services {\n\t\tip daddr frob 1 accept\n\t}\n}\n');
    const r = cli([...base, '--mode', 'nftables', '--existing', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}:3:`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const m = cli([...base, '--existing', nodeNft]);
    expect(m.status).toBe(2);
    expect(m.stderr).toContain('--existing');
    expect(m.stderr).toContain('--mode nftables');
    const missing = cli([...base, '--mode', 'nftables', '--existing', join(dir, 'nosuch.nft')]);
    expect(missing.status).toBe(2);
    expect(cli(['compile', '--help']).stdout).toContain('--existing NODE.nft');
  });
});

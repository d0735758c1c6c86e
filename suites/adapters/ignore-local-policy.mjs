#!/usr/bin/env node
// An example implementation under test for `nfconform run --impl` (spec/impl-contract.md).
// It reads the contract's JSON on stdin and writes the node's iptables-save ruleset on stdout.
//
// It wraps nfconform's own compiler and differs from it in ONE documented way:
//   externalTrafficPolicy: Local is ignored; every Service is treated as "Cluster".
// (A common shortcut in simple data planes: external traffic is then masqueraded and
// may be sent to endpoints on other nodes, so the client's address is lost.)
//
//   nfconform run services --impl suites/adapters/ignore-local-policy.mjs
// reports the externalTrafficPolicy=Local suite as failing (oracle and expectations),
// and everything else as passing.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const input = JSON.parse(readFileSync(0, 'utf8'));
if (input.apiVersion !== 'nfconform/v1') {
  process.stderr.write(`unsupported contract version ${input.apiVersion}\n`);
  process.exit(1);
}
// the one difference: externalTrafficPolicy is dropped, so it defaults to Cluster
for (const item of input.cluster.items ?? []) {
  if (item.kind === 'Service' && item.spec) delete item.spec.externalTrafficPolicy;
}
const dir = mkdtempSync(join(tmpdir(), 'nfc-adapter-'));
try {
  const services = join(dir, 'services.json');
  writeFileSync(services, JSON.stringify(input.cluster));
  const cli = fileURLToPath(new URL('../../bin/nfconform.js', import.meta.url));
  const args = [cli, 'compile', '--services', services, '--node', input.node.name];
  // without a local-traffic detector kube-proxy gets no --cluster-cidr
  if (input.localTrafficDetector !== false) args.push('--cluster-cidr', input.clusterCIDR);
  if (input.masqueradeAll) args.push('--masquerade-all');
  if (input.localhostNodePorts) args.push('--localhost-nodeports');
  for (const a of input.nodePortAddresses ?? []) args.push('--nodeport-address', a);
  if (input.nodePortAddresses) for (const ip of input.node.addresses) args.push('--node-ip', ip);
  process.stdout.write(execFileSync(process.execPath, args, { encoding: 'utf8' }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

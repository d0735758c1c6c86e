// The model's load-time validation refuses exactly what the kernel refuses:
// every target in every built-in chain of every table, on both backends.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { KernelLab } from '../../src/lab/kernel-lab.ts';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { InputError } from '../../src/model/errors.ts';
import { TABLE_HOOKS, type TableName } from '../../src/model/rules/types.ts';
import { skipReason, kernelDescribe } from './env.ts';

const TARGETS = [
  'REJECT',
  'DNAT --to-destination 1.2.3.4',
  'SNAT --to-source 1.2.3.4',
  'MASQUERADE',
  'REDIRECT',
  'NOTRACK',
  'CT --notrack',
  'TRACE',
  'MARK --set-mark 1',
  'CONNMARK --set-mark 1',
  'LOG',
  'NFLOG',
  'ACCEPT',
  'REJECT --reject-with tcp-reset',
  'DNAT --to-destination 1.2.3.4:80',
];
const MATCHES = [
  '-m addrtype --dst-type LOCAL --limit-iface-in',
  '-m addrtype --dst-type LOCAL --limit-iface-out',
  '-p tcp -m multiport --dports 1,2',
  '-m multiport --dports 1,2',
];

describe.skipIf(skipReason)(kernelDescribe('kernel: load-time validation'), () => {
  let lab: KernelLab;
  beforeAll(async () => {
    lab = await KernelLab.up({ name: 'one', hosts: [{ name: 'h', ifaces: [] }] });
  });
  afterAll(async () => {
    await lab?.down();
  });

  for (const backend of ['nft', 'legacy'] as const) {
    test(`iptables-${backend}: the model accepts exactly what iptables-restore accepts`, async () => {
      const disagreements: string[] = [];
      for (const table of Object.keys(TABLE_HOOKS) as TableName[]) {
        for (const chain of TABLE_HOOKS[table]) {
          const specs = [...TARGETS.map((t) => `-j ${t}`), ...MATCHES.map((m) => `${m} -j ACCEPT`)];
          for (const spec of specs) {
            // the same rule directly and through a user chain reached from this hook
            for (const text of [
              `*${table}\n-A ${chain} ${spec}\nCOMMIT\n`,
              `*${table}\n:U - [0:0]\n-A U ${spec}\n-A ${chain} -j U\nCOMMIT\n`,
            ]) {
              let model = true;
              try {
                parseRuleset(text, { backend });
              } catch (e) {
                if (!(e instanceof InputError)) throw e;
                model = false;
              }
              const kernel = (await lab.apply('h', text, backend)).ok;
              if (model !== kernel) disagreements.push(`${text.replace(/\n/g, ' ')} model=${model} kernel=${kernel}`);
              await lab.reset();
            }
          }
        }
      }
      expect(disagreements).toEqual([]);
    }, 300_000);
  }
});

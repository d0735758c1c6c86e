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
  // spec/modules.md
  'NFQUEUE --queue-bypass',
  'TPROXY --on-port 1',
  'TCPMSS --clamp-mss-to-pmtu',
  'TCPMSS --set-mss 1400',
  'CHECKSUM --checksum-fill',
  'CT --helper ftp',
];
const MATCHES = [
  '-m addrtype --dst-type LOCAL --limit-iface-in',
  '-m addrtype --dst-type LOCAL --limit-iface-out',
  '-p tcp -m multiport --dports 1,2',
  '-m multiport --dports 1,2',
  '-m owner --uid-owner 0',
  '-m physdev --physdev-out eth0',
  '-m physdev --physdev-is-out --physdev-is-bridged',
  '-p tcp --syn',
  '-p tcp -m pkttype --pkt-type unicast',
];

describe.skipIf(skipReason)(kernelDescribe('kernel: load-time validation'), () => {
  let lab: KernelLab;
  beforeAll(async () => {
    lab = await KernelLab.up({ name: 'one', hosts: [{ name: 'h', ifaces: [] }] });
  });
  afterAll(async () => {
    await lab?.down();
  });

  /** user chains C1..Cn, each linking to the next; `from` links a built-in chain to C1 (or nothing) */
  const chainOfChains = (table: TableName, n: number, link: '-j' | '-g', from: string | undefined): string =>
    [
      `*${table}`,
      ...Array.from({ length: n }, (_, i) => `:C${i + 1} - [0:0]`),
      ...(from ? [`-A ${from} ${link} C1`] : []),
      ...Array.from({ length: n - 1 }, (_, i) => `-A C${i + 1} -p tcp ${link} C${i + 2}`),
      'COMMIT',
      '',
    ].join('\n');

  for (const backend of ['nft', 'legacy'] as const) {
    test(`iptables-${backend}: jump depth: the model refuses exactly the chains iptables-restore refuses`, async () => {
      const texts: string[] = [];
      for (const n of [14, 15, 16, 17]) {
        texts.push(chainOfChains('filter', n, '-j', 'INPUT'), chainOfChains('nat', n, '-g', 'PREROUTING'));
        texts.push(chainOfChains('filter', n, '-j', undefined)); // no built-in chain reaches them
      }
      texts.push(chainOfChains('mangle', 40, '-j', 'FORWARD'));
      // two paths to C1 (OUTPUT -> C1, INPUT -> D -> C1): the deeper one decides
      texts.push(
        chainOfChains('filter', 15, '-j', 'OUTPUT')
          .replace('*filter\n', '*filter\n:D - [0:0]\n')
          .replace('COMMIT', '-A INPUT -j D\n-A D -j C1\nCOMMIT'),
      );
      const disagreements: string[] = [];
      const refusedByKernel: boolean[] = [];
      for (const text of texts) {
        let model = true;
        try {
          parseRuleset(text, { backend });
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          model = false;
        }
        const kernel = (await lab.apply('h', text, backend)).ok;
        refusedByKernel.push(!kernel);
        if (model !== kernel) disagreements.push(`${text.split('\n').slice(0, 1)} ... model=${model} kernel=${kernel}`);
        await lab.reset();
      }
      expect(disagreements).toEqual([]);
      // nft refuses some of these (16 links and more), legacy none
      expect(refusedByKernel.some(Boolean)).toBe(backend === 'nft');
    }, 300_000);

    test(`iptables-${backend}: the model accepts exactly what iptables-restore accepts`, async () => {
      const disagreements: string[] = [];
      for (const table of Object.keys(TABLE_HOOKS) as TableName[]) {
        for (const chain of TABLE_HOOKS[table]) {
          const specs = [
            ...TARGETS.map((t) => `-j ${t}`),
            // targets that need a protocol, and TCPMSS with and without the SYN match x_tables asks for
            ...TARGETS.filter((t) => /^(TPROXY|TCPMSS|CT --helper)/.test(t)).flatMap((t) => [
              `-p tcp -j ${t}`,
              `-p tcp --tcp-flags SYN,RST SYN -j ${t}`,
            ]),
            ...MATCHES.map((m) => `${m} -j ACCEPT`),
          ];
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

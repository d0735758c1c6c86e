// validate of a node that runs both kinds of rules (validate-besides.ts): kube-proxy's nft table with iptables
// rules beside it (a CNI's, Docker's FORWARD policy), and kube-proxy's iptables rules with a native nft table
// beside them. The other kind is evaluated on the same hooks, so a rule there that breaks a Service fails it.
import { describe, test, expect } from 'vitest';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';

const failed = async (dump: string, besides: string, file: string) => {
  const r = await validateNode({ ...validateInput(dump), besides: { text: besides, file }, sides: 'model' });
  return { r, failed: r.services.filter((s) => s.status === 'fail').map((s) => s.service) };
};

describe('validate a node with iptables rules beside its nft table', () => {
  test('an iptables FORWARD drop of pod3 fails the Services whose endpoint it is (pod3 is on node2)', async () => {
    const xt = '*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -d 10.244.2.13/32 -j DROP\nCOMMIT\n';
    const { r, failed: f } = await failed('node.nft', xt, 'cni.save');
    expect(f).toEqual(['default/web', 'default/local']);
    expect(r.services.find((s) => s.service === 'default/web')!.failure!.modelMiss).toMatch(/dropped|no answer/);
    // the rule is no Service's: named, with where it is
    expect(r.warnings.map((w) => `${w.table} ${w.chain}: ${w.why}`)).toEqual([
      expect.stringMatching(/^filter FORWARD: .*\(iptables, beside kube-proxy's nft table\)$/),
    ]);
  });

  test("Docker's FORWARD policy drop breaks every forwarded Service connection", async () => {
    const xt = '*filter\n:FORWARD DROP [0:0]\nCOMMIT\n';
    const { failed: f } = await failed('node.nft', xt, 'docker.save');
    expect(f).toContain('default/web');
    expect(f.length).toBeGreaterThan(5);
  });

  test('accepting rules beside it change nothing: every Service passes', async () => {
    const xt = '*filter\n-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT\nCOMMIT\n';
    const { r, failed: f } = await failed('node.nft', xt, 'other.save');
    expect(f).toEqual([]);
    expect(r.sent).toBeGreaterThan(40);
  });

  test('a rule beside it the model cannot evaluate: the Services whose probes meet it are unsupported', async () => {
    const xt = '*filter\n-A FORWARD -m bpf --bytecode "1,6 0 0 0" -j DROP\nCOMMIT\n';
    const { r } = await failed('node.nft', xt, 'bpf.save');
    const web = r.services.find((s) => s.service === 'default/web')!;
    expect([web.status, web.reason]).toEqual(['unsupported', expect.stringMatching(/hinges on filter FORWARD rule 1/)]);
    expect(r.services.filter((s) => s.status === 'pass' && s.probes > 0).map((s) => s.service)).toEqual([
      'default/empty',
      'default/itl',
    ]);
  });
});

describe('validate a node with a native nft table beside its iptables rules', () => {
  test('a forward-hook drop of pod3 in a firewall table fails the Services whose endpoint it is', async () => {
    const nft =
      'table inet fw {\n\tchain fw_forward {\n\t\ttype filter hook forward priority 0; policy accept;\n' +
      '\t\tip daddr 10.244.2.13 drop\n\t}\n}\n';
    const { r, failed: f } = await failed('node.iptables-save', nft, 'fw.nft');
    expect(f).toEqual(['default/web', 'default/local']);
    expect(r.warnings.filter((w) => w.table === 'inet fw').map((w) => w.why)).toEqual([
      "a native nft table beside kube-proxy's iptables rules (evaluated with them)",
    ]);
  });

  test('a table that accepts changes nothing', async () => {
    const nft =
      'table inet fw {\n\tchain in {\n\t\ttype filter hook input priority 0; policy accept;\n' +
      '\t\ttcp dport 22 accept\n\t}\n}\n';
    const { failed: f } = await failed('node.iptables-save', nft, 'fw.nft');
    expect(f).toEqual([]);
  });

  test('a rule beside them the model cannot read: every Service unsupported, never a guessed pass', async () => {
    const nft =
      'table inet fw {\n\tchain fw_forward {\n\t\ttype filter hook forward priority 0; policy accept;\n' +
      '\t\tip daddr 10.244.2.13 limit rate 1/second drop\n\t}\n}\n';
    const { r } = await failed('node.iptables-save', nft, 'fw.nft');
    const judged = r.services.filter((s) => s.status === 'unsupported' && /beside kube-proxy's/.test(s.reason ?? ''));
    expect(judged.length).toBe(r.services.length);
    expect(judged[0]!.reason).toMatch(/fw\.nft line 4: .*limit/);
  });
});

// validate on a node whose dump also carries a host firewall with rules the model cannot evaluate, as real
// nodes do (spec/semantics.md §10): the dump still loads; a Service is unsupported only when one of its
// probes hinges on such a rule, and that probe names the rule; every other Service is judged exactly.
import { describe, test, expect } from 'vitest';
import { validateNode } from '../../src/conform/validate.ts';
import { validateInput } from '../helpers/validate-input.ts';

/** The fixture dump with a host firewall inserted in its filter table, and a mangle table added. */
function withFirewall(dump: string): string {
  const firewall = [
    '-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstatus CONFIRMED -j ACCEPT',
    '-A INPUT -m limit --limit 3/min -j LOG --log-prefix "in: "',
    '-A FORWARD -j NFLOG --nflog-group 5',
    // anti-traceroute for one endpoint: the model does not follow the TTL
    '-A FORWARD -d 10.244.2.13/32 -p tcp -m ttl --ttl-lt 2 -j DROP',
  ];
  const mangle = [
    '*mangle',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    '-A POSTROUTING -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
    'COMMIT',
  ];
  const lines = dump.split('\n');
  const at = lines.findIndex((l) => l.startsWith('-A INPUT'));
  lines.splice(at, 0, ...firewall);
  return `${mangle.join('\n')}\n${lines.join('\n')}`;
}

describe('validate: a dump with rules the model cannot evaluate', () => {
  test('loads; only the Services whose probes hinge on such a rule are unsupported, and say which rule', async () => {
    const input = validateInput('node.iptables-save');
    const r = await validateNode({ ...input, rulesetText: withFirewall(input.rulesetText), sides: 'model' });
    const status = Object.fromEntries(r.services.map((s) => [s.service, s.status]));
    // default/web balances over 10.244.1.11 and 10.244.2.13, default/local has only 10.244.2.13
    expect(Object.entries(status).filter(([, st]) => st !== 'pass')).toEqual([
      ['default/web', 'unsupported'],
      ['default/local', 'unsupported'],
    ]);
    for (const name of ['default/web', 'default/local'])
      expect(r.services.find((s) => s.service === name)!.reason).toMatch(
        // where the rule may drop the handshake's ACK alone, the server's resent SYN-ACK races the client's FIN
        new RegExp(
          '^probe ".*" hinges on filter FORWARD rule 2 \\(match module "ttl"\\)' +
            "(; tcp request .* \\(the time of the request's timer against the client's FIN .*\\))?$",
        ),
      );
    // the hinged probes are sent and say what is open; nothing was left out of the model's copy
    const hinged = r.probes.filter((p) => p.model === 'indeterminate');
    expect(hinged.length).toBeGreaterThan(0);
    for (const p of hinged)
      expect(p.indeterminate).toMatch(/^delivered or dropped.*, decided by filter FORWARD rule 2/);
    expect(r.unsupported.map((u) => u.reason)).toEqual(
      expect.arrayContaining([
        'option --ctstatus of conntrack (evaluated as unknown)',
        'match module "ttl" (evaluated as unknown)',
      ]),
    );
    expect(r.unsupported.every((u) => !u.reason.endsWith('(left out)'))).toBe(true);
    // the other Services were judged, exactly, with as many probes as on the plain dump
    const plain = await validateNode({ ...input, sides: 'model' });
    for (const s of r.services.filter((x) => x.status === 'pass'))
      expect(s.probes).toBe(plain.services.find((x) => x.service === s.service)!.probes);
  });
});

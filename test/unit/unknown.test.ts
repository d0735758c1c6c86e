// Three-valued evaluation of rules the model cannot evaluate (spec/semantics.md §10): kept by the parser,
// printed back as written, followed both ways by the evaluator; a probe is `indeterminate` only when its
// result hinges on such a rule.
import { describe, test, expect } from 'vitest';
import { parseRuleset } from '../../src/model/rules/restore.ts';
import { printRuleset } from '../../src/model/rules/print.ts';
import { opaqueRules } from '../../src/model/rules/opaque.ts';
import type { InputError } from '../../src/model/errors.ts';
import { labOf, probe } from '../helpers/model.ts';
import { judge } from '../../src/conform/compare.ts';
import { openObservation } from '../../src/model/indeterminate.ts';
import type { Observation } from '../../src/model/observation.ts';

const filter = (...rules: string[]) =>
  ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...rules, 'COMMIT', ''].join(
    '\n',
  );

/** client -> pod1:8080 through the node's FORWARD chain */
const toPod = { from: 'client', proto: 'tcp', dst: '10.244.1.11', dport: 8080 } as const;
const results = (rules: string) => probe(labOf({ node: filter(rules) }), toPod);
const outcomes = (rules: string) => results(rules).map((r) => r.value.observation.outcome);

describe('the parser keeps what the model cannot evaluate', () => {
  test('unknown modules, unmodelled options and unknown targets are kept and printed back as written', () => {
    const text = filter(
      '-A INPUT -m foo --bar 1 --baz -j LOG --log-prefix "x y"',
      '-A INPUT -p tcp -m tcp --dport 22 --tcp-option 5 -j DROP',
      '-A INPUT -m conntrack --ctstatus CONFIRMED -j ACCEPT',
      '-A INPUT -p tcp -m tcp --dport 80 -j QUEUE',
      '-A INPUT -j FOOBAR --x "a b"',
      '-A INPUT -m quota --quota 1000 -m dscp --dscp 1 -j ACCEPT',
      '-A INPUT -p tcp -j TOS --set-tos 0x10',
      '-A INPUT -m ttl ! --ttl-eq 64 -j DROP',
    );
    const problems: InputError[] = [];
    const rs = parseRuleset(text, { file: 'x.rules', problems });
    expect(printRuleset(rs)).toBe(text);
    // each one is listed as unsupported, where it was written; nothing else is a problem
    expect(problems.map((p) => [p.kind, p.pos?.line, p.reason.replace(/ \(kept.*/, '')])).toEqual([
      ['unsupported', 5, 'match module "foo" (not a module of iptables 1.8.9: the host needs it from elsewhere)'],
      ['unsupported', 6, 'option --tcp-option of tcp'],
      ['unsupported', 7, 'option --ctstatus of conntrack'],
      ['unsupported', 8, 'target QUEUE'],
      ['unsupported', 9, 'target FOOBAR (not a target of iptables 1.8.9, nor a chain defined here)'],
      ['unsupported', 10, 'match module "quota"'],
      ['unsupported', 10, 'match module "dscp"'],
      ['unsupported', 11, 'target TOS'],
      ['unsupported', 12, 'match module "ttl"'],
    ]);
    expect(opaqueRules(rs)).toHaveLength(9);
    // the options of an unmodelled option's module that the model knows are still read
    const tcp = rs.tables.get('filter')!.chains.get('INPUT')!.rules[1]!.matches[0]!;
    expect(tcp.opts).toEqual([{ name: '--dport', neg: false, value: [22, 22] }]);
  });

  test('real syntax errors stay errors; a lower-case unknown -j is a missing chain', () => {
    expect(() => parseRuleset(filter('-A INPUT -p tcp --nosuch 1 -j ACCEPT'))).toThrow(/unknown option "--nosuch"/);
    expect(() => parseRuleset(filter('-A INPUT -j nochain'))).toThrow(/Chain 'nochain' does not exist/);
  });
});

describe('three-valued evaluation', () => {
  test('a packet that never reaches an unknown rule gets an exact verdict', () => {
    // the unknown rule matches only port 22: port 8080 never depends on it
    const r = results('-A FORWARD -p tcp -m tcp --dport 22 -m foo -j DROP');
    expect(r).toHaveLength(1);
    expect(r[0]!.value.observation.outcome).toBe('delivered');
    expect(r[0]!.value.observation.indeterminate).toBeUndefined();
  });

  test('an unknown match with a terminal verdict forks: both outcomes, and the rule that decides', () => {
    // --syn: the unknown rule meets the SYN only (one it meets the ACK with as well may drop that alone, and the
    // server's resent SYN-ACK then races the client's FIN: synack-rtx.test.ts)
    const r = results('-A FORWARD -p tcp --syn -m foo --bar 1 -j DROP');
    expect(r).toHaveLength(1);
    const o = r[0]!.value.observation;
    expect(o.outcome).toBe('indeterminate');
    expect(o.indeterminate!.outcomes).toEqual(['delivered', 'dropped']);
    expect(o.indeterminate!.open).toBe(false);
    expect(o.indeterminate!.decidedBy).toEqual([
      {
        host: 'node',
        hook: 'FORWARD',
        table: 'filter',
        chain: 'FORWARD',
        rule: 1,
        spec: '-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m foo --bar 1 -j DROP',
        why: 'match module "foo" (not a module of iptables 1.8.9: the host needs it from elsewhere)',
      },
    ]);
    // each possible result is exact, with its own branch (world and trace)
    expect(o.indeterminate!.possible.map((x) => x.outcome)).toEqual(['dropped', 'delivered']);
    expect(r[0]!.value.branches).toHaveLength(2);
    const assumed = r[0]!.value.branches!.map((b) => b.trace.find((e) => e.kind === 'unknown'));
    expect(assumed.map((e) => e?.kind === 'unknown' && e.branch)).toEqual(['matches', 'does not match']);
  });

  test('a negated unknown is unknown', () => {
    expect(outcomes('-A FORWARD -p tcp -m foo ! --bar 1 -j DROP')).toEqual(['indeterminate']);
    expect(outcomes('-A FORWARD -p tcp -m conntrack ! --ctstatus CONFIRMED -j DROP')).toEqual(['indeterminate']);
  });

  test('when both answers lead to the same result the rule did not matter: exact', () => {
    // ACCEPT here or by the policy: the same observation
    expect(outcomes('-A FORWARD -m foo -j ACCEPT')).toEqual(['delivered']);
    // an unknown jump to a chain that does nothing
    expect(outcomes(':X - [0:0]\n-A FORWARD -m foo -j X')).toEqual(['delivered']);
    // dropped either way, but by another rule (the observation names it): indeterminate, one outcome
    const r = results('-A FORWARD -m foo -j DROP\n-A FORWARD -j DROP');
    expect(r).toHaveLength(1);
    expect(r[0]!.value.observation.indeterminate!.outcomes).toEqual(['dropped']);
    expect(r[0]!.value.observation.indeterminate!.possible.map((o) => o.droppedAt!.rule)).toEqual([1, 2]);
  });

  test('inert rules (LOG, NFLOG, no target, counting) are not followed both ways', () => {
    const r = results('-A FORWARD -m limit --limit 5/s -j LOG\n-A FORWARD -m foo\n-A FORWARD -m bar -j NFLOG');
    expect(r).toHaveLength(1);
    expect(r[0]!.value.observation.outcome).toBe('delivered');
    const notes = r[0]!.value.trace.filter((e) => e.kind === 'unknown');
    expect(notes.length).toBeGreaterThan(0);
    expect(notes.every((e) => e.kind === 'unknown' && e.branch === 'no effect')).toBe(true);
  });

  test('a rule with a stateful match after the unknown one is followed both ways (recent --set may run or not)', () => {
    const r = results(
      '-A FORWARD -p tcp --syn -m foo -m recent --set --name seen -j LOG\n' +
        '-A FORWARD -m recent --rcheck --name seen -j DROP',
    );
    expect(r[0]!.value.observation.outcome).toBe('indeterminate');
    expect(r[0]!.value.observation.indeterminate!.outcomes).toEqual(['delivered', 'dropped']);
  });

  test('the options of the module the model knows are still exact', () => {
    // --dport 22 is false for port 8080: the unmodelled --tcp-option is never asked
    expect(outcomes('-A FORWARD -p tcp -m tcp --dport 22 --tcp-option 5 -j DROP')).toEqual(['delivered']);
    expect(outcomes('-A FORWARD -p tcp -m tcp --dport 8080 --tcp-option 5 -j DROP')).toEqual(['indeterminate']);
  });

  test(
    'an unmodelled target that takes the packet leaves its fate open; one that only rewrites' +
      ' unread fields goes on',
    () => {
      const q = results('-A FORWARD -p tcp -j QUEUE')[0]!.value.observation;
      expect(q.outcome).toBe('indeterminate');
      expect(q.indeterminate!.open).toBe(true);
      expect(q.indeterminate!.outcomes).toEqual(['delivered', 'dropped', 'icmp-error', 'refused']);
      expect(q.indeterminate!.decidedBy[0]!.why).toBe('target QUEUE');
      // TCPMSS returns XT_CONTINUE and writes the MSS option only
      expect(outcomes('-A FORWARD -p tcp -j TCPMSS --clamp-mss-to-pmtu\n-A FORWARD -j DROP')).toEqual(['dropped']);
      expect(outcomes('-A FORWARD -p tcp -j DSCP --set-dscp 1')).toEqual(['delivered']);
    },
  );

  test('statistic branches keep their probabilities beside an unknown rule that does not matter', () => {
    // NEW: the SYN only (every packet of the exchange crosses FORWARD)
    const r = results(
      '-A FORWARD -m conntrack --ctstate NEW -m statistic --mode random --probability 0.25 -j' +
        ' DROP\n-A FORWARD -m foo -j LOG',
    );
    expect(r.map((x) => [x.value.observation.outcome, x.p])).toEqual([
      ['dropped', 0.25],
      ['delivered', 0.75],
    ]);
  });

  test('a probabilistic branch with an unknown rule in it is indeterminate with its own probability', () => {
    const rs = probe(
      labOf({
        node: filter(
          ':X - [0:0]',
          '-A FORWARD -m conntrack --ctstate NEW -m statistic --mode random --probability 0.25 -j X',
          '-A X -m foo -j DROP',
        ),
      }),
      toPod,
    );
    const byOutcome = Object.fromEntries(rs.map((x) => [x.value.observation.outcome, x.p]));
    expect(byOutcome).toEqual({ indeterminate: 0.25, delivered: 0.75 });
  });

  test('nfacct always matches; LOG, NFLOG and TRACE never change the verdict (they are exact, not unknown)', () => {
    const r = results(
      '-A FORWARD -m nfacct --nfacct-name c -j LOG --log-prefix "p " --log-level 7' +
        ' --log-tcp-options\n-A FORWARD -m nfacct --nfacct-name c -j NFLOG --nflog-group 3\n-A' +
        ' FORWARD -m nfacct --nfacct-name c -j DROP',
    );
    expect(r).toHaveLength(1);
    expect(r[0]!.value.observation.outcome).toBe('dropped');
    expect(r[0]!.value.trace.some((e) => e.kind === 'unknown')).toBe(false);
  });
});

describe('the kernel comparison', () => {
  const indeterminate = () =>
    results('-A FORWARD -p tcp --syn -m foo -j DROP').map((r) => ({ p: r.p, value: r.value.observation }));
  const exact = (rules: string) => results(rules)[0]!.value.observation;

  test('a kernel outcome in the possible set agrees, typed as indeterminate, naming the branch it took', () => {
    const model = indeterminate();
    const dropped = exact('-A FORWARD -j DROP');
    const delivered = exact('');
    for (const [k, branch] of [
      [dropped, 0],
      [delivered, 1],
    ] as [Observation, number][]) {
      const v = judge(model, k);
      expect(v.diffs).toEqual([]);
      expect(v.matched).toBe(model[0]);
      expect(v.indeterminate).toEqual({ branch });
    }
  });

  test('a kernel outcome outside the possible set is a divergence', () => {
    const v = judge(indeterminate(), { ...exact(''), outcome: 'refused' });
    expect(v.matched).toBeUndefined();
    expect(v.diffs.length).toBeGreaterThan(0);
  });

  test('an open result agrees with any observation whose outcome is in its set', () => {
    const model = results('-A FORWARD -p tcp -j QUEUE').map((r) => ({
      p: r.p,
      value: r.value.observation,
    }));
    expect(judge(model, exact('')).indeterminate).toEqual({ branch: 0 });
    expect(judge(model, { ...exact(''), outcome: 'echo-reply' }).matched).toBeUndefined();
  });

  test('an open result with no branch behind it agrees with an outcome in its set, and with nothing else', () => {
    const rule = {
      host: 'node',
      hook: 'OUTPUT',
      table: 'route',
      chain: '',
      rule: 0,
      spec: '',
      why: 'a route exception',
    };
    const model = [{ p: 1, value: openObservation(6, rule) }];
    const v = judge(model, exact(''));
    expect(v.matched).toBe(model[0]);
    expect(v.diffs).toEqual([]);
    expect(judge(model, { ...exact(''), outcome: 'echo-reply' }).matched).toBeUndefined();
    expect(judge(model, { ...exact(''), outcome: 'echo-reply' }).diffs[0]!.field).toBe('outcome');
  });
});

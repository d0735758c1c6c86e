// Properties a user of nfconform writes in their own project, through the package's public API only
// (README "Library"). `npm test` runs them (the "examples" vitest project) against the sources; the
// pack test imports the same names from the installed package.
import { test, expect } from 'vitest';
import fc from 'fast-check';
import {
  parseRuleset,
  printRuleset,
  compileTopology,
  makeLab,
  newWorld,
  runProbe,
  renderPlain,
  InputError,
  type Probe,
  type Ruleset,
} from 'nfconform';
import { rulesetText, topologyArb, serviceCaseArb, serviceCase } from 'nfconform/arbitraries';
import { runCases } from 'nfconform/conform';

/** A time match iptables-save does not print back readably (spec/iptables.md §4): an empty day list (every day
 *  negated) is saved as nothing, which iptables-restore refuses; a --datestop of 0 is not saved at all. */
const savedUnreadably = (rs: Ruleset): boolean =>
  [...rs.tables.values()].some((t) =>
    [...t.chains.values()].some((c) =>
      c.rules.some((r) =>
        r.matches.some(
          (m) =>
            m.name === 'time' &&
            m.opts.some((o) => ['--weekdays', '--monthdays', '--datestop'].includes(o.name) && o.value === 0),
        ),
      ),
    ),
  );

test('printing a ruleset and reading it back gives the same ruleset (iptables-save is canonical)', () => {
  fc.assert(
    fc.property(rulesetText(), (text) => {
      let parsed: Ruleset;
      try {
        parsed = parseRuleset(text);
      } catch (e) {
        if (e instanceof InputError) return; // drawn text iptables-restore would refuse too
        throw e;
      }
      fc.pre(!savedUnreadably(parsed));
      const once = printRuleset(parsed);
      expect(printRuleset(parseRuleset(once))).toBe(once);
    }),
    { numRuns: 200 },
  );
});

// With br_netfilter on, frames bridged between two pods on one node pass the node's iptables FORWARD
// chain (net/bridge/br_netfilter_hooks.c), so a DROP policy there stops them; with it off, they never
// see iptables. Whatever else the node's settings are.
const FORWARD_DROP = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';

test('a FORWARD DROP policy stops pod-to-pod traffic on one bridge exactly when br_netfilter is on', () => {
  fc.assert(
    fc.property(topologyArb(), fc.constantFrom<Probe['proto']>('tcp', 'udp'), (spec, proto) => {
      const net = compileTopology(spec);
      const lab = makeLab(net, new Map([['node', parseRuleset(FORWARD_DROP)]]));
      const probe: Probe = { from: 'pod1', proto, dst: '10.244.1.12', dport: 8080 };
      const results = runProbe(lab, newWorld(lab), probe);
      const brNf = spec.hosts.find((h) => h.name === 'node')!.sysctls!.bridge_nf_call_iptables;
      for (const r of results) {
        const why = `${renderPlain.trace(r.value.trace)}\n(bridge_nf_call_iptables=${brNf})`;
        expect(r.value.observation.outcome, why).toBe(brNf ? 'dropped' : 'delivered');
      }
    }),
    { numRuns: 60 },
  );
});

test('for random Services, the Service oracle and the model over the compiled rules agree', async () => {
  await fc.assert(
    fc.asyncProperty(serviceCaseArb(6), async (draw) => {
      const [report] = await runCases([serviceCase(draw)], { sides: 'model' });
      expect(report!.error ?? null).toBeNull();
      expect(report!.steps.flatMap((s) => s.oracleMisses)).toEqual([]);
    }),
    { numRuns: 30 },
  );
});

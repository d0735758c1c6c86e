// Targets beside matchers (eval/targets.ts): every target of the descriptor table has an action,
// the actions do what the kernel's targets do, and option values are read as their descriptor's kind.
import { describe, test, expect } from 'vitest';
import { parseSave } from '../../src/model/rules/restore.ts';
import { EXTENSIONS } from '../../src/model/rules/descriptors.ts';
import { TARGETS, targetAction } from '../../src/model/eval/targets.ts';
import { valueAs, optValue } from '../../src/model/eval/options.ts';
import { type Pkt } from '../../src/model/eval/packet.ts';
import type { MatchEnv } from '../../src/model/eval/matchers.ts';
import type { ExtInstance } from '../../src/model/rules/types.ts';
import { unconfirmed, newCtTable } from '../../src/model/conntrack.ts';
import { synPkt, matchEnvOn } from '../helpers/packet.ts';

function ext(table: string, chain: string, spec: string): ExtInstance {
  const rs = parseSave(`*${table}\n-A ${chain} ${spec}\nCOMMIT\n`);
  const t = rs.tables.get(table as 'filter')!.chains.get(chain)!.rules[0]!.target!;
  if (t.kind !== 'ext') throw new Error('not an extension target');
  return t.ext;
}

const pkt = (): Pkt => synPkt({ src: 1, dst: 2 });
const env = (over: Partial<MatchEnv> = {}): MatchEnv => matchEnvOn({ inIf: 'eth0', now: 0, ...over });

describe('targets', () => {
  test('every target in the descriptor table has an action', () => {
    const targets = EXTENSIONS.filter((d) => d.type === 'target').map((d) => d.name);
    expect(targets.length).toBeGreaterThan(5);
    for (const name of targets) expect(TARGETS[name], name).toBeTypeOf('function');
  });

  test('REJECT and the NAT targets end the traversal with their decision', () => {
    expect(targetAction(ext('filter', 'INPUT', '-p tcp -j REJECT --reject-with tcp-reset'))).toEqual({
      kind: 'reject',
      with: 'tcp-reset',
    });
    expect(targetAction(ext('filter', 'INPUT', '-j REJECT'))).toEqual({
      kind: 'reject',
      with: 'icmp-port-unreachable',
    });
    const dnat = targetAction(ext('nat', 'PREROUTING', '-p tcp -j DNAT --to-destination 10.0.0.1:8080 --random'));
    expect(dnat).toEqual({
      kind: 'nat',
      nat: {
        target: 'DNAT',
        range: { minIp: 0x0a000001, maxIp: 0x0a000001, minPort: 8080, maxPort: 8080 },
        random: true,
        randomFully: false,
        persistent: false,
      },
    });
    const masq = targetAction(ext('nat', 'POSTROUTING', '-p udp -j MASQUERADE --to-ports 1000-2000 --random-fully'));
    expect(masq).toMatchObject({ kind: 'nat', nat: { target: 'MASQUERADE', range: { minPort: 1000, maxPort: 2000 } } });
  });

  test('MARK and CONNMARK act as xt_MARK and xt_connmark do; NOTRACK untracks', () => {
    const p = pkt();
    p.mark = 0xff00;
    const mark = targetAction(ext('mangle', 'PREROUTING', '-j MARK --set-xmark 0x5/0xf'));
    if (mark.kind !== 'continue') throw new Error('MARK must not end the traversal');
    expect(mark.act(p, env())).toBe('MARK -> 0xff05');
    const entry = unconfirmed(newCtTable(), { proto: 6, src: 1, dst: 2, sport: 1, dport: 2 });
    const ct = { entry, dir: 'orig' as const, state: 'NEW' as const };
    const save = targetAction(ext('mangle', 'PREROUTING', '-j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff'));
    if (save.kind !== 'continue') throw new Error('CONNMARK must not end the traversal');
    save.act(p, env({ ct }));
    expect(entry.mark).toBe(0x05);
    const restore = targetAction(ext('mangle', 'PREROUTING', '-j CONNMARK --restore-mark'));
    const q = pkt();
    if (restore.kind === 'continue') expect(restore.act(q, env({ ct }))).toBe('CONNMARK ctmark=0x5 mark=0x5');
    expect(q.mark).toBe(5);
    const untrack = targetAction(ext('raw', 'PREROUTING', '-j NOTRACK'));
    if (untrack.kind === 'continue') untrack.act(q, env());
    expect(q.notrack).toBe(true);
  });

  test('option values are read as the kind their descriptor names, and a wrong kind fails loudly', () => {
    const e = ext('nat', 'PREROUTING', '-p tcp -j DNAT --to-destination 10.0.0.1:80');
    expect(optValue(e, '--to-destination', 'natDst')).toEqual({
      minIp: 0x0a000001,
      maxIp: 0x0a000001,
      minPort: 80,
      maxPort: 80,
    });
    expect(optValue(e, '--random', 'flag')).toBeUndefined();
    expect(() => valueAs('DNAT', e.opts[0]!, 'portRange')).toThrow(
      /internal: DNAT --to-destination holds a natDst value, not portRange/,
    );
  });
});

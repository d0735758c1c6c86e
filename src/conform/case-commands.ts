// The commands a case runs between probes (spec/case-file.md), on the model's side: conntrack -F/-D
// empty the model's tables as the kernel's, a write to /proc/net/xt_recent/LIST changes the model's list,
// iptables commands change the host's current rules one command at a time.
import {
  applyCommandLines,
  parseRuleset,
  parseIp,
  isInputError,
  conntrackDelete,
  recentWrite,
  carryRuleState,
  recentListsOf,
  pruneRecentLists,
  nftTransaction,
  followedNftOutcome,
  type NftRuleset,
  type ConntrackFilter,
  type Ruleset,
  type World,
} from '../model/index.ts';
import type { ConntrackMatch } from './case-file.ts';
import type { CaseCommand } from './plan.ts';

const PROTO_NUM = { tcp: 6, udp: 17, icmp: 1 } as const;

export function filterOf(m: ConntrackMatch): ConntrackFilter {
  const f: ConntrackFilter = {};
  if (m.proto) f.proto = PROTO_NUM[m.proto];
  for (const k of ['origSrc', 'origDst', 'replySrc', 'replyDst'] as const) if (m[k]) f[k] = parseIp(m[k])!;
  for (const k of ['origSport', 'origDport', 'replySport', 'replyDport'] as const) if (m[k] !== undefined) f[k] = m[k];
  return f;
}

/** What one side did with an iptables command step: the first command it refused, per host. */
export type CommandOutcome = Record<string, string | null>;

/**
 * Runs a command on the model: `world` changes in place; iptables commands replace hosts' entries in
 * `rulesets` (the caller rebuilds the lab). Commands run one at a time, and a host stops at its first
 * refused command, as with one `iptables` process per command: what came before it stays.
 */
export function modelCommand(
  cmd: CaseCommand,
  rulesets: Map<string, Ruleset>,
  world: World,
  file: string,
  nft: Map<string, NftRuleset> = new Map(),
  kernel?: CommandOutcome,
): CommandOutcome {
  if (cmd.type === 'conntrack') {
    conntrackDelete(world, cmd.host, cmd.match ? filterOf(cmd.match) : undefined);
    return {};
  }
  if (cmd.type === 'recent') {
    // the list's /proc file exists while a rule names it (xt_recent.c): else the write fails (ENOENT)
    if (!recentListsOf(rulesets.get(cmd.host)).has(cmd.list))
      return { [cmd.host]: `command 1 refused: no recent list "${cmd.list}" (no rule of ${cmd.host} names it)` };
    const addr = cmd.addr === undefined ? 0 : parseIp(cmd.addr)!;
    recentWrite(
      world,
      cmd.host,
      cmd.list,
      cmd.op === 'add' ? { add: addr } : cmd.op === 'remove' ? { remove: addr } : { flush: true },
    );
    return { [cmd.host]: null };
  }
  if (cmd.type === 'nft') return nftCommand(cmd, nft, world, file, kernel);
  const out: CommandOutcome = {};
  for (const h of cmd.hosts) {
    let rs = rulesets.get(h.host) ?? parseRuleset('', { backend: h.flavor });
    out[h.host] = null;
    for (const [i, line] of h.lines.entries()) {
      try {
        const before = rs;
        rs = applyCommandLines(rs, line, {
          file: `${file}#${h.host} command ${i + 1}`,
          backend: h.flavor,
          refuseForeign: true,
        });
        carryRuleState(world, h.host, before, rs, h.flavor, line);
      } catch (e) {
        if (!isInputError(e)) throw e;
        out[h.host] = `command ${i + 1} refused: ${e.message}`;
        break;
      }
    }
    rulesets.set(h.host, rs);
    pruneRecentLists(world, h.host, rs);
  }
  return out;
}

/**
 * An nft step on the model: each host's text is one `nft -f` transaction on its nft state and the elements rules
 * put in its sets (spec/nft.md §8.2); `nft` and the host's set state change when it commits. Where an element
 * near its timeout decides whether it is refused, the model follows what the kernel answered (`kernel`).
 */
function nftCommand(
  cmd: Extract<CaseCommand, { type: 'nft' }>,
  nft: Map<string, NftRuleset>,
  world: World,
  file: string,
  kernel: CommandOutcome | undefined,
): CommandOutcome {
  const out: CommandOutcome = {};
  for (const h of cmd.hosts) {
    const st = world.hosts.get(h.host);
    const at = { file: `${file}#${h.host} nft`, now: world.now, probes: world.probes ?? 0 };
    const outcomes = nftTransaction(nft.get(h.host), st?.nftSets, h.text, at, st?.nftInc);
    const k = kernel?.[h.host];
    const o = followedNftOutcome(outcomes, k === undefined ? undefined : k !== null);
    nft.set(h.host, o.ruleset);
    if (st) world.hosts.set(h.host, { ...st, nftSets: o.sets, nftInc: o.inc });
    out[h.host] = o.refusal === undefined ? null : `nft -f refused: ${o.refusal}`;
  }
  return out;
}

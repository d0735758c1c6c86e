// The trace every evaluation returns: what happened, in order, on which host,
// hook, table, chain and rule (spec/semantics.md §9).
import type { Hook, TableName } from './rules/types.ts';
import type { UnknownRule } from './observation.ts';

export type UnknownBranch = 'matches' | 'does not match' | 'no effect' | 'fate unknown';

export type TraceEvent =
  | { kind: 'stage'; name: string; packet: string }
  | { kind: 'hook'; host: string; hook: Hook; in: string; out: string; packet: string }
  | {
      kind: 'rule';
      host: string;
      hook: Hook;
      /** an iptables table, or an nft table as "family name" */
      table: TableName | string;
      chain: string;
      rule: number | 'policy';
      /** nft rules: the rule's handle, and the base chain whose evaluation reached it */
      handle?: number;
      base?: string;
      matched: boolean;
      action: string;
      spec: string;
    }
  | { kind: 'ct'; host: string; what: string }
  | { kind: 'nat'; host: string; hook: Hook; what: string; before: string; after: string }
  | { kind: 'route'; host: string; dst: string; result: string }
  | { kind: 'hop'; from: string; to: string }
  | { kind: 'bridge'; host: string; bridge: string; what: string }
  /** another host's neighbour entry changed by an ARP request it heard (the packet itself is elsewhere) */
  | { kind: 'neigh'; host: string; dev: string; what: string }
  | { kind: 'choice'; label: string; p: number; taken: boolean }
  /** a rule the model cannot evaluate (spec/semantics.md §10): which answer this branch follows, or that
   *  the answer cannot matter (the rule is inert), or that its target took the packet somewhere unknown */
  | ({ kind: 'unknown'; branch: UnknownBranch } & UnknownRule)
  | {
      kind: 'drop';
      host: string;
      reason: string;
      hook?: Hook;
      table?: TableName | string;
      chain?: string;
      rule?: number | 'policy';
    }
  | { kind: 'deliver'; host: string; what: string };

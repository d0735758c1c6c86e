// The iptables ruleset as data (spec/iptables.md).
import type { Cidr } from '../ip.ts';
import type { SourcePos } from '../errors.ts';
import type { OptValue } from './kinds.ts';

export const HOOKS = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
export type Hook = (typeof HOOKS)[number];

export const TABLES = ['raw', 'mangle', 'nat', 'filter', 'security'] as const;
export type TableName = (typeof TABLES)[number];

/** Built-in chains of each table, which are also the hooks it is registered at. */
export const TABLE_HOOKS: Record<TableName, readonly Hook[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** Which iptables a ruleset is loaded with: iptables-nft or iptables-legacy (spec/semantics.md §2.3).
 *  Not the sides of a run (model/kernel: conform's `Sides`) nor where a lab runs (lab's `LabRuntime`). */
export type IptablesFlavor = 'nft' | 'legacy';

export interface Negatable<T> {
  neg: boolean;
  value: T;
}

export interface OptInstance {
  /** canonical option name, e.g. "--dport" */
  name: string;
  neg: boolean;
  value: OptValue;
}

/** A module or target instance the model cannot evaluate (spec/semantics.md §10): kept so that the ruleset
 *  loads, printed back as written, evaluated as unknown. */
export interface Opaque {
  /** the arguments after `-m NAME` / `-j NAME` as written, word by word (printed back as they are) */
  args: readonly string[];
  /** what the model does not know: "match module \"foo\"", "option --ctstatus of conntrack", "target TTL" */
  why: string;
  /** where it was written */
  pos?: SourcePos;
  /** the extension is not one iptables 1.8.9 ships: a stock iptables refuses the rule */
  foreign?: boolean;
}

export interface ExtInstance {
  /** module or target name as in the descriptor table (or, when opaque, as written) */
  name: string;
  /** options in canonical (print) order; for an opaque instance, those of its options the model knows */
  opts: OptInstance[];
  /** set when the model cannot evaluate the instance: an unknown module or target, or an unmodelled option */
  opaque?: Opaque;
}

export type Target =
  | { kind: 'verdict'; verdict: 'ACCEPT' | 'DROP' | 'RETURN' }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string }
  | { kind: 'ext'; ext: ExtInstance };

export interface Rule {
  src?: Negatable<Cidr>;
  dst?: Negatable<Cidr>;
  inIface?: Negatable<string>;
  outIface?: Negatable<string>;
  /** IP protocol number; 0 ("all") is represented by absence */
  proto?: Negatable<number>;
  /** -f: a second or later fragment */
  frag?: Negatable<true>;
  matches: ExtInstance[];
  target?: Target;
  counters?: readonly [number, number];
  /** where the rule was read from; not part of rule identity */
  pos?: SourcePos;
}

export type Policy = 'ACCEPT' | 'DROP';

export interface Chain {
  name: string;
  /** set for built-in chains only */
  policy?: Policy;
  policyCounters?: readonly [number, number];
  rules: Rule[];
}

export interface Table {
  name: TableName;
  /** insertion order kept; built-in chains always present */
  chains: Map<string, Chain>;
}

export interface Ruleset {
  tables: Map<TableName, Table>;
}

export function isBuiltinChain(table: TableName, chain: string): chain is Hook {
  return (TABLE_HOOKS[table] as readonly string[]).includes(chain);
}

export function emptyTable(name: TableName): Table {
  const chains = new Map<string, Chain>();
  for (const h of TABLE_HOOKS[name]) chains.set(h, { name: h, policy: 'ACCEPT', rules: [] });
  return { name, chains };
}

export function emptyRuleset(): Ruleset {
  return { tables: new Map() };
}

/** The table, created with its built-in chains on first use (as the kernel does). */
export function tableOf(rs: Ruleset, name: TableName): Table {
  let t = rs.tables.get(name);
  if (!t) {
    t = emptyTable(name);
    rs.tables.set(name, t);
  }
  return t;
}

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, SCTP: 132, DCCP: 33, UDPLITE: 136 } as const;

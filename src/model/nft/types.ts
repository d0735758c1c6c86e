// The nft ruleset as data (spec/nft.md §3). Values are numbers (addresses as uint32, ports, marks,
// protocol numbers, flag bitmasks) or strings (interface names); the datatype says how to read them.
import type { SourcePos } from '../errors.ts';

export const FAMILIES = ['ip', 'inet'] as const;
export type Family = (typeof FAMILIES)[number];

export const NFT_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting'] as const;
export type NftHook = (typeof NFT_HOOKS)[number];

export const CHAIN_TYPES = ['filter', 'nat', 'route'] as const;
export type ChainType = (typeof CHAIN_TYPES)[number];

export type DtypeName =
  | 'ipv4_addr'
  | 'inet_service'
  | 'inet_proto'
  | 'mark'
  | 'ifname'
  | 'iface_index'
  | 'ct_state'
  | 'ct_status'
  | 'fib_addrtype'
  | 'integer'
  | 'nfproto'
  | 'ipv6_addr'
  | 'icmpv6_type';

export type Atom = number | string;

/** A value as written, read against a datatype once the set it belongs to is known. */
export interface RawValue {
  text: string;
  quoted: boolean;
  pos: SourcePos;
}

/** One side of a comparison or one set element component. */
export type Value =
  | { kind: 'value'; v: Atom }
  | { kind: 'prefix'; v: number; len: number }
  | { kind: 'range'; lo: number; hi: number }
  /** a comma list of flags ("ct state established,new"): one bitmask */
  | { kind: 'flags'; v: number };

export type SelectorName = string;

export type NumgenMode = 'random' | 'inc';

/** The left side of a match, the key of a lookup. */
export type Expr =
  | { kind: 'sel'; name: SelectorName }
  | { kind: 'concat'; parts: SelectorName[] }
  /** nft_numgen.c: random (each of mod values equally likely) or inc (a counter per expression, 0 first) */
  | { kind: 'numgen'; mode: NumgenMode; mod: number; offset: number }
  /** "meta mark & 0x4000" */
  | { kind: 'and'; name: SelectorName; mask: number };

export type Verdict = { kind: 'accept' | 'drop' | 'return' | 'continue' } | { kind: 'jump' | 'goto'; chain: string };

export interface Element {
  /** one Value per concatenated component */
  key: Value[];
  verdict?: Verdict;
  /** a data map's value, one atom per component of the map's data type ("10.0.0.2 . 8080"); in a map of interval
   *  data ("10.0.0.1-10.0.0.3 . 80-90", a nat range) the low end of each component */
  data?: Atom[];
  /** in a map of interval data: the high end of each component */
  dataHi?: Atom[];
  /** an element's own timeout, in ms (sets with "flags timeout"; nft_set_ext NFT_SET_EXT_TIMEOUT) */
  timeout?: number;
  /** the time left, in ms, as `nft list` shows it ("expires 29s992ms"); a loaded file may give it too */
  expires?: number;
  /** the element's comment (kernel userdata NFTNL_UDATA_SET_ELEM_COMMENT): kube-proxy names the Service port of
   *  each no-endpoint element so */
  comment?: string;
}

export type Rhs =
  { kind: 'values'; value: Value } | { kind: 'set'; elements: Element[] } | { kind: 'ref'; name: string };

/** "KEY map @m" or "KEY map { k : v, ... }": the value a data map holds for the packet's key (nft_lookup.c with a
 *  data register; a miss ends the rule, NFT_BREAK) */
export interface MapLookup {
  key: Expr;
  map: { kind: 'ref'; name: string } | { kind: 'set'; elements: Element[] };
}

export type MarkSource =
  | { kind: 'const'; v: number }
  | { kind: 'from'; from: 'meta' | 'ct'; op?: '|' | '&' | '^'; v?: number }
  | { kind: 'map'; lookup: MapLookup };

export type Stmt =
  /** explicit: "==" was written (for flag types it means equality, not "any of these bits") */
  | { k: 'match'; left: Expr; op: 'eq' | 'ne'; right: Rhs; explicit?: true }
  | { k: 'vmap'; key: Expr; map: { kind: 'ref'; name: string } | { kind: 'set'; elements: Element[] } }
  | { k: 'counter'; packets: number; bytes: number }
  | { k: 'mark'; target: 'meta' | 'ct'; value: MarkSource }
  /** addr: an address, or a data map giving one (ipv4_addr) or an address and a port (ipv4_addr . inet_service) */
  | { k: 'nat'; type: 'dnat' | 'snat'; ipFamily: boolean; addr: number | MapLookup; port?: number }
  | { k: 'masquerade'; flags: string[]; port?: number }
  | { k: 'notrack' }
  | { k: 'log'; prefix?: string; level?: string; flags?: string }
  | { k: 'reject'; with?: { type: 'icmp' | 'icmpx'; code: string } | { type: 'tcp-reset' } }
  | { k: 'verdict'; v: Verdict }
  | OpaqueStmt
  /** "update @set { key [timeout T] }", "add @set { ... }" (nft_dynset.c): the packet's key into a named set;
   *  "delete @set { key }" (NFT_DYNSET_OP_DELETE): out of it */
  | {
      k: 'dynset';
      op: DynsetOp;
      set: string;
      key: Expr;
      timeout?: number;
      /** a data map's value for the element (`update @m { ip saddr : 0x1 }`): constants only, read against the
       *  map's data type when the rule is added (rawData, as written) */
      data?: Atom[];
      rawData?: RawValue[];
    };

export type DynsetOp = 'add' | 'update' | 'delete';

/** The rest of a rule outside the subset, read around (spec/nft.md §3a): its words as written and why. The model
 *  cannot tell what it does: a packet that reaches it has an unknown fate (three-valued, never guessed). */
export type OpaqueStmt = { k: 'opaque'; text: string; why: string };

export type MapData = 'verdict' | DtypeName[];

/** The datatypes a data map may hold in the subset (nft's set_data_type): one of these, or an address and a port. */
export const DATA_TYPES: readonly DtypeName[] = ['ipv4_addr', 'inet_service', 'mark', 'inet_proto'];

export const isDataMap = (s: { map: boolean; data?: MapData }): boolean => s.map && Array.isArray(s.data);

export interface NftRule {
  stmts: Stmt[];
  comment?: string;
  handle: number;
  pos?: SourcePos;
}

export interface BaseSpec {
  type: ChainType;
  hook: NftHook;
  priority: number;
  policy: 'accept' | 'drop';
}

export interface NftChain {
  name: string;
  base?: BaseSpec;
  comment?: string;
  rules: NftRule[];
  handle: number;
  pos?: SourcePos;
}

export interface NftSet {
  name: string;
  map: boolean;
  key: DtypeName[];
  /** a map's data: verdicts, or values of these types (one type, or ipv4_addr . inet_service for nat) */
  data?: MapData;
  /** "type K : interval D": its values are ranges or prefixes (a nat range; NFT_SET_MAP data twice as long) */
  dataInterval?: true;
  interval: boolean;
  /** "flags dynamic" (NFT_SET_EVAL): rules may add to it; nft sets it for a set an add/update names */
  dynamic?: true;
  /** "flags timeout" (NFT_SET_TIMEOUT): elements may expire */
  timeoutFlag?: true;
  /** the default timeout of its elements, in ms ("timeout 3h") */
  timeout?: number;
  /** "size N": the most elements it holds */
  size?: number;
  /** declared with a size and no "flags dynamic", timeout or interval: the kernel picks its fixed-size hash, which
   *  rules cannot update (nft_set_hash.c nft_hash_type has no .update) */
  fixedSize?: true;
  comment?: string;
  elements: Element[];
  handle: number;
}

export interface NftTable {
  family: Family;
  name: string;
  comment?: string;
  /** sets and maps, in creation order */
  sets: Map<string, NftSet>;
  /** chains in creation order (nft lists them so) */
  chains: Map<string, NftChain>;
  nextHandle: number;
}

export interface NftRuleset {
  /** tables in creation order; key "family name" */
  tables: Map<string, NftTable>;
}

export const tableKey = (family: Family, name: string) => `${family} ${name}`;

export function emptyNftRuleset(): NftRuleset {
  return { tables: new Map() };
}

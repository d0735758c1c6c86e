// Reads `nft -f` input and `nft list ruleset` output into commands (spec/nft.md §2). A table block
// becomes, as nft makes it: the table, then its chains and sets, then their elements, then the rules
// (so rules may name chains and sets declared later in the same block, not in a later block).
import { InputError, type SourcePos } from '../errors.ts';
import { lex, type Tok } from './lex.ts';
import { parseNftTime } from './time.ts';
import { valueBounds } from './sets.ts';
import { nameProblem } from './names.ts';
import { DTYPES, DTYPE_BY_SET_TYPE, type DtypeDesc } from './datatypes.ts';
import {
  matchSelector,
  selector,
  KNOWN_UNMODELLED,
  NAMED_PRIORITIES,
  LOG_LEVELS,
  REJECT_ICMP,
  REJECT_ICMPX,
} from './descriptors.ts';
import {
  FAMILIES,
  NFT_HOOKS,
  CHAIN_TYPES,
  type Family,
  type NftHook,
  type ChainType,
  type DtypeName,
  type Value,
  type Expr,
  type Rhs,
  type Stmt,
  type Verdict,
  type DynsetOp,
  type Element,
  type MarkSource,
  type MapData,
  type MapLookup,
  type Atom,
  type RawValue,
  DATA_TYPES,
  type BaseSpec,
} from './types.ts';

export interface TableRef {
  family: Family;
  table: string;
}

export interface SetDecl {
  name: string;
  map: boolean;
  key: DtypeName[];
  data?: MapData;
  /** "type K : interval D" */
  dataInterval?: true;
  interval: boolean;
  dynamic?: true;
  timeoutFlag?: true;
  /** ms */
  timeout?: number;
  size?: number;
  comment?: string;
  elements?: RawElement[];
}

export type Command = { pos: SourcePos } & (
  | ({ op: 'add-table' | 'create-table'; comment?: string } & TableRef)
  | ({ op: 'delete-table' | 'flush-table' } & TableRef)
  | { op: 'flush-ruleset' }
  | ({ op: 'add-chain' | 'create-chain'; chain: string; base?: BaseSpec; comment?: string } & TableRef)
  | ({ op: 'delete-chain' | 'flush-chain'; chain: string } & TableRef)
  | ({ op: 'add-set' | 'create-set'; set: SetDecl } & TableRef)
  | ({ op: 'delete-set' | 'flush-set'; set: string; map: boolean } & TableRef)
  | ({ op: 'add-element' | 'create-element' | 'delete-element'; set: string; elements: RawElement[] } & TableRef)
  | ({
      op: 'add-rule' | 'insert-rule';
      chain: string;
      stmts: Stmt[];
      comment?: string;
      /** the rule's words as written (read with `problems` only: an unsupported rule is kept so) */
      src?: string;
      /** add: after this handle; insert: before it */
      handle?: number;
      index?: number;
      spos: SourcePos[];
    } & TableRef)
  | ({ op: 'delete-rule'; chain: string; handle: number } & TableRef)
);

const VERDICT_WORDS = ['accept', 'drop', 'return', 'continue', 'jump', 'goto', 'queue'];

const isEnd = (t: Tok) =>
  t.kind === 'nl' || t.kind === 'eof' || (t.kind === 'punct' && (t.text === ';' || t.text === '}'));

export class NftParser {
  private i = 0;
  private readonly toks: Tok[];
  readonly commands: Command[] = [];

  constructor(
    text: string,
    private readonly file: string,
    /** when given, what is outside the subset is kept here and read around (spec/nft.md §3a), not thrown */
    private readonly problems?: InputError[],
  ) {
    this.toks = lex(text, file);
  }

  /** Runs `f`; outside the subset with `problems` given, records why, skips to the end of the item (a newline or
   *  ";" outside braces, or the enclosing block's "}") from token `from` and returns the skipped words. */
  private tolerant<T>(
    from: number,
    f: () => T,
    skippable: (e: InputError) => boolean = () => true,
  ): T | { skipped: string; why: InputError } {
    try {
      return f();
    } catch (e) {
      if (!this.problems || !(e instanceof InputError) || e.kind !== 'unsupported' || !skippable(e)) throw e;
      this.problems.push(e);
      this.i = from;
      const words: string[] = [];
      let depth = 0;
      while (this.t.kind !== 'eof') {
        if (depth === 0 && isEnd(this.t)) break;
        if (this.is('{')) depth++;
        if (this.is('}')) depth--;
        const t = this.next();
        if (t.kind === 'nl') continue;
        words.push(t.kind === 'string' ? `"${t.text}"` : t.text);
      }
      return { skipped: words.join(' '), why: e };
    }
  }

  private get t(): Tok {
    return this.toks[this.i]!;
  }
  private peek(n = 1): Tok {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!;
  }
  pos(t: Tok = this.t): SourcePos {
    return { file: this.file, line: t.line, col: t.col };
  }
  private err(msg: string, t: Tok = this.t): InputError {
    return new InputError('syntax', msg, this.pos(t));
  }
  private unsupported(what: string, t: Tok = this.t): InputError {
    return new InputError('unsupported', what, this.pos(t));
  }
  private is(text: string, t: Tok = this.t): boolean {
    return (t.kind === 'word' || t.kind === 'punct') && t.text === text;
  }
  private next(): Tok {
    const t = this.t;
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private expect(text: string): Tok {
    if (!this.is(text)) throw this.err(`expected "${text}", got ${this.describe(this.t)}`);
    return this.next();
  }
  private describe(t: Tok): string {
    return t.kind === 'eof' ? 'end of file' : t.kind === 'nl' ? 'end of line' : `"${t.text}"`;
  }
  private word(what: string): Tok {
    const t = this.t;
    if (t.kind !== 'word' && t.kind !== 'string') throw this.err(`expected ${what}, got ${this.describe(t)}`);
    return this.next();
  }
  private skipNl(): void {
    while (this.t.kind === 'nl') this.next();
  }
  private skipSeps(): void {
    while (this.t.kind === 'nl' || this.is(';')) this.next();
  }
  /** end of a command: newline, ";", end of file, or a closing brace (left in place) */
  private endCommand(): void {
    if (this.t.kind === 'nl' || this.is(';')) this.next();
    else if (this.t.kind !== 'eof' && !this.is('}')) throw this.err(`unexpected ${this.describe(this.t)}`);
  }

  /** The end of an item inside a block: nft's grammar wants a newline or ";" before the block's "}" (measured:
   *  `chain c { counter }` and `table t { chain c { } }` are syntax errors), except after `elements = { }`. */
  private endItem(closeOk = false): void {
    if (this.t.kind === 'nl' || this.is(';')) this.next();
    else if (this.is('}') && !closeOk) throw this.err(`unexpected "}", expecting newline or semicolon`);
    else if (this.t.kind !== 'eof' && !this.is('}')) throw this.err(`unexpected ${this.describe(this.t)}`);
  }

  parseFile(): Command[] {
    this.skipSeps();
    while (this.t.kind !== 'eof') {
      const n = this.commands.length;
      // left out whole: an ip6 table (no IPv4 packet reaches its hooks) and stateful objects (they act only through
      // the rules that name them, which are opaque); a table of another family (arp, bridge, netdev: their hooks
      // see IPv4 packets and ARP) or an include refuses the file
      const got = this.tolerant(
        this.i,
        () => this.command(),
        (e) => e.reason === 'family ip6' || e.reason.endsWith(' objects'),
      );
      if (got && 'skipped' in got) this.commands.length = n;
      this.skipSeps();
    }
    return this.commands;
  }

  private family(): Family {
    const t = this.t;
    const named = this.peek().kind === 'word' || this.peek().kind === 'string';
    if ((FAMILIES as readonly string[]).includes(t.text) && t.kind === 'word' && named) {
      this.next();
      return t.text as Family;
    }
    if (['ip6', 'arp', 'bridge', 'netdev'].includes(t.text) && named) throw this.unsupported(`family ${t.text}`);
    return 'ip';
  }
  private tableRef(): TableRef {
    const family = this.family();
    return { family, table: this.name('table name') };
  }
  /** a table, chain, set or map name: nft's scanner STRING, never a keyword or a quoted string (names.ts) */
  private name(what: string, afterAt = false): string {
    const t = this.word(what);
    if (t.text.length === 0 || t.text.length > 255) throw this.err(`bad ${what} "${t.text}"`, t);
    const why = nameProblem(t.text, t.kind === 'string', afterAt);
    if (why) throw this.err(`bad ${what}: ${why}`, t);
    return t.text;
  }

  private command(): void {
    const t = this.t;
    const pos = this.pos();
    const verb = t.text;
    if (verb === 'table') {
      this.next();
      const ref = this.tableRef();
      this.commands.push({ op: 'add-table', ...ref, pos });
      if (this.is('{')) this.tableBlock(ref);
      return this.endCommand();
    }
    if (verb === 'flush' && this.peek().text === 'ruleset') {
      this.next();
      this.next();
      this.commands.push({ op: 'flush-ruleset', pos });
      return this.endCommand();
    }
    if (!['add', 'create', 'insert', 'delete', 'flush'].includes(verb) || t.kind !== 'word') {
      if (['list', 'replace', 'reset', 'rename', 'monitor', 'describe', 'destroy', 'define', 'include'].includes(verb))
        throw this.unsupported(`command "${verb}"`);
      throw this.err(`unexpected ${this.describe(t)} (expected a command such as "add rule" or "table")`);
    }
    this.next();
    const objTok = this.word('an object (table, chain, rule, set, map, element)');
    const obj = objTok.text;
    if (verb === 'insert' && obj !== 'rule') throw this.err(`"insert" works on rules only`, objTok);
    switch (obj) {
      case 'table': {
        const ref = this.tableRef();
        if (verb === 'delete' || verb === 'flush') this.commands.push({ op: `${verb}-table`, ...ref, pos });
        else {
          this.commands.push({ op: `${verb as 'add' | 'create'}-table`, ...ref, pos });
          if (this.is('{')) this.tableBlock(ref, true);
        }
        return this.endCommand();
      }
      case 'chain': {
        const ref = this.tableRef();
        const chain = this.name('chain name');
        if (verb === 'delete' || verb === 'flush') this.commands.push({ op: `${verb}-chain`, ...ref, chain, pos });
        else {
          const body = this.is('{') ? this.chainBlock(ref, chain, true) : undefined;
          this.commands.push({ op: `${verb as 'add' | 'create'}-chain`, ...ref, chain, ...body?.decl, pos });
          for (const r of body?.rules ?? []) this.commands.push(r);
        }
        return this.endCommand();
      }
      case 'set':
      case 'map': {
        const ref = this.tableRef();
        const nameTok = this.t;
        const name = this.name(`${obj} name`);
        if (verb === 'delete' || verb === 'flush') {
          this.commands.push({ op: `${verb}-set`, ...ref, set: name, map: obj === 'map', pos });
          return this.endCommand();
        }
        if (!this.is('{')) throw this.err(`${obj} ${name} needs a body { type ... }`);
        const decl = this.setBlock(name, obj === 'map', nameTok);
        this.commands.push({
          op: `${verb as 'add' | 'create'}-set`,
          ...ref,
          set: withoutElements(decl),
          pos,
        });
        if (decl.elements) this.commands.push({ op: 'add-element', ...ref, set: name, elements: decl.elements, pos });
        return this.endCommand();
      }
      case 'element': {
        const ref = this.tableRef();
        const set = this.name('set name');
        const elements = this.rawElementList();
        const op = verb === 'delete' ? 'delete-element' : verb === 'create' ? 'create-element' : 'add-element';
        if (verb === 'flush' || verb === 'insert') throw this.err(`"${verb} element" is not a command`, t);
        this.commands.push({ op, ...ref, set, elements, pos });
        return this.endCommand();
      }
      case 'rule': {
        const ref = this.tableRef();
        const chain = this.name('chain name');
        if (verb === 'delete') {
          this.expect('handle');
          const h = this.uint('a rule handle');
          this.commands.push({ op: 'delete-rule', ...ref, chain, handle: h, pos });
          return this.endCommand();
        }
        if (verb !== 'add' && verb !== 'insert') throw this.err(`"${verb} rule" is not a command`, t);
        let handle: number | undefined;
        let index: number | undefined;
        if (this.is('position') || this.is('handle')) {
          this.next();
          handle = this.uint('a rule handle');
        } else if (this.is('index')) {
          this.next();
          index = this.uint('a rule index');
        }
        const r = this.rule();
        this.commands.push({
          op: `${verb}-rule`,
          ...ref,
          chain,
          ...r,
          ...(handle !== undefined ? { handle } : {}),
          ...(index !== undefined ? { index } : {}),
          pos,
        });
        return this.endCommand();
      }
      default:
        if (['counter', 'quota', 'limit', 'flowtable', 'ct', 'secmark', 'synproxy'].includes(obj))
          throw this.unsupported(`${obj} objects`, objTok);
        throw this.err(`unknown object "${obj}"`, objTok);
    }
  }

  private uint(what: string): number {
    const t = this.word(what);
    if (!/^\d+$/.test(t.text)) throw this.err(`expected ${what}, got "${t.text}"`, t);
    return Number(t.text);
  }

  private tableBlock(ref: TableRef, fromAdd = false): void {
    this.expect('{');
    // nft expands a table block chains first, then sets, then elements and rules (src/cmd.c nft_cmd_expand):
    // the kernel's handles come in that order
    const decls: Command[] = [];
    const sets: Command[] = [];
    const elems: Command[] = [];
    const rules: Command[] = [];
    for (;;) {
      this.skipSeps();
      if (this.is('}')) break;
      const t = this.t;
      const pos = this.pos();
      if (t.kind === 'eof') throw this.err(`table ${ref.table} has no closing "}"`);
      if (this.is('comment')) {
        this.next();
        const c = this.word('a quoted comment');
        const add = this.commands.findLast((c) => c.op === 'add-table' || c.op === 'create-table');
        if (add && (add.op === 'add-table' || add.op === 'create-table')) add.comment = c.text;
        this.endItem();
        continue;
      }
      if (this.is('chain')) {
        this.next();
        const chain = this.name('chain name');
        const body = this.is('{') ? this.chainBlock(ref, chain, false) : { decl: {}, rules: [] };
        decls.push({ op: 'add-chain', ...ref, chain, ...body.decl, pos });
        rules.push(...body.rules);
        this.endItem();
        continue;
      }
      if (this.is('set') || this.is('map')) {
        const map = this.next().text === 'map';
        const nameTok = this.t;
        const name = this.name('set name');
        const decl = this.setBlock(name, map, nameTok);
        sets.push({ op: 'add-set', ...ref, set: withoutElements(decl), pos });
        if (decl.elements) elems.push({ op: 'add-element', ...ref, set: name, elements: decl.elements, pos });
        this.endItem();
        continue;
      }
      if (['flags', 'flowtable', 'counter', 'quota', 'limit', 'ct', 'secmark', 'synproxy'].includes(t.text)) {
        // a stateful object (ct helper, quota, ...) does nothing until a rule names it: that rule is opaque
        this.tolerant(this.i, () => {
          throw this.unsupported(`"${this.words(2).join(' ')}" in a table`);
        });
        this.endItem();
        continue;
      }
      throw this.err(`unexpected ${this.describe(t)} in table ${ref.table}${fromAdd ? '' : ''}`);
    }
    this.expect('}');
    this.commands.push(...decls, ...sets, ...elems, ...rules);
  }

  private chainBlock(
    ref: TableRef,
    chain: string,
    single: boolean,
  ): { decl: { base?: BaseSpec; comment?: string }; rules: Command[] } {
    this.expect('{');
    const decl: { base?: BaseSpec; comment?: string } = {};
    const rules: Command[] = [];
    let policy: 'accept' | 'drop' | undefined;
    let policyTok: Tok | undefined;
    for (;;) {
      this.skipSeps();
      if (this.is('}')) break;
      if (this.t.kind === 'eof') throw this.err(`chain ${chain} has no closing "}"`);
      const pos = this.pos();
      if (this.is('type') && this.peek().kind === 'word') {
        if (decl.base) throw this.err(`chain ${chain} has two "type" lines`);
        decl.base = this.baseSpec();
        this.endItem();
        continue;
      }
      if (this.is('policy')) {
        policyTok = this.next();
        const p = this.word('accept or drop');
        if (p.text !== 'accept' && p.text !== 'drop') throw this.err(`bad policy "${p.text}" (accept or drop)`, p);
        policy = p.text;
        this.endItem();
        continue;
      }
      if (this.is('comment') && this.peek().kind === 'string') {
        this.next();
        decl.comment = this.next().text;
        this.endItem();
        continue;
      }
      if (this.is('devices') || this.is('device') || this.is('flags'))
        throw this.unsupported(`"${this.t.text}" in a chain`);
      if (single) throw this.err(`rules cannot be given in "add chain" (use "add rule")`);
      const r = this.rule();
      rules.push({ op: 'add-rule', ...ref, chain, ...r, pos });
      this.endItem();
    }
    this.expect('}');
    if (policy !== undefined) {
      if (!decl.base)
        throw this.err(`policy is only for base chains (chain ${chain} has no "type ... hook")`, policyTok);
      decl.base.policy = policy;
    }
    return { decl, rules };
  }

  private baseSpec(): BaseSpec {
    this.expect('type');
    const tt = this.word('a chain type');
    if (!(CHAIN_TYPES as readonly string[]).includes(tt.text)) throw this.err(`unknown chain type "${tt.text}"`, tt);
    this.expect('hook');
    const ht = this.word('a hook');
    if (['ingress', 'egress'].includes(ht.text)) throw this.unsupported(`hook ${ht.text}`, ht);
    if (!(NFT_HOOKS as readonly string[]).includes(ht.text)) throw this.err(`unknown hook "${ht.text}"`, ht);
    const hook = ht.text as NftHook;
    if (this.is('device')) throw this.unsupported('device in a base chain');
    this.expect('priority');
    const priority = this.priority(hook);
    return { type: tt.text as ChainType, hook, priority, policy: 'accept' };
  }

  /** "filter", "dstnat - 10", "-110", "- 5" (nftables src/parser_bison.y prio_spec) */
  private priority(hook: NftHook): number {
    const t = this.t;
    let base: number;
    if (this.is('-') && this.peek().kind === 'word' && /^\d+$/.test(this.peek().text)) {
      this.next();
      base = -Number(this.next().text);
    } else {
      const w = this.word('a priority');
      if (/^-?\d+$/.test(w.text)) base = Number(w.text);
      else {
        const named = NAMED_PRIORITIES.find((p) => p.name === w.text);
        if (!named || (named.hooks && !named.hooks.includes(hook)))
          throw new InputError('invalid', `invalid priority "${w.text}" for hook ${hook}`, this.pos(w));
        base = named.value;
        if ((this.is('+') || this.is('-')) && this.peek().kind === 'word') {
          const sign = this.next().text === '-' ? -1 : 1;
          const n = this.word('a number');
          if (!/^\d+$/.test(n.text)) throw this.err(`bad priority offset "${n.text}"`, n);
          base += sign * Number(n.text);
        } else if (this.t.kind === 'word' && /^[+-]\d+$/.test(this.t.text)) {
          base += Number(this.next().text);
        }
      }
    }
    if (base < -2147483648 || base > 2147483647)
      throw new InputError('unsupported', `priority ${base} outside the 32-bit range`, this.pos(t));
    return base;
  }

  private setBlock(name: string, map: boolean, nameTok: Tok): SetDecl {
    this.expect('{');
    const decl: SetDecl = { name, map, key: [], interval: false };
    for (;;) {
      this.skipSeps();
      if (this.is('}')) break;
      if (this.t.kind === 'eof') throw this.err(`set ${name} has no closing "}"`);
      const k = this.word('a set property');
      switch (k.text) {
        case 'type': {
          for (;;) {
            const d = this.word('a datatype');
            const dt = DTYPE_BY_SET_TYPE.get(d.text);
            if (!dt) {
              if (d.text === 'verdict') throw this.err('verdict cannot be a key', d);
              throw this.unsupported(`set datatype "${d.text}"`, d);
            }
            decl.key.push(dt.name);
            if (this.is('.')) {
              this.next();
              continue;
            }
            break;
          }
          if (map) {
            this.expect(':');
            if (this.is('interval')) {
              this.next();
              decl.dataInterval = true;
            }
            decl.data = this.mapDataType();
            if (decl.dataInterval && !isNatData(decl.data))
              throw this.unsupported(
                `interval data of type ${Array.isArray(decl.data) ? decl.data.join(' . ') : 'verdict'}`,
              );
          } else if (this.is(':')) throw this.err(`a set has no data (use "map ${name}")`);
          break;
        }
        case 'flags': {
          for (;;) {
            const f = this.word('a set flag');
            if (f.text === 'interval') decl.interval = true;
            else if (f.text === 'dynamic') decl.dynamic = true;
            else if (f.text === 'timeout') decl.timeoutFlag = true;
            else if (f.text === 'constant') throw this.unsupported(`set flag "${f.text}"`, f);
            else throw this.err(`unknown set flag "${f.text}"`, f);
            if (!this.is(',')) break;
            this.next();
          }
          break;
        }
        case 'comment':
          decl.comment = this.word('a quoted comment').text;
          break;
        case 'elements': {
          if (decl.key.length === 0) throw this.err(`set ${name}: "type" must come before "elements"`, k);
          this.expect('=');
          decl.elements = this.rawElementList();
          break;
        }
        case 'timeout':
          decl.timeout = this.time();
          break;
        case 'size': {
          const t = this.t;
          const n = this.uint('a size');
          if (n === 0 || n > 0xffffffff) throw new InputError('invalid', 'set size must be 1 or more', this.pos(t));
          decl.size = n;
          break;
        }
        case 'typeof':
        case 'gc-interval':
        case 'policy':
        case 'counter':
        case 'auto-merge':
          throw this.unsupported(`set property "${k.text}"`, k);
        default:
          throw this.err(`unknown set property "${k.text}"`, k);
      }
      this.endItem(k.text === 'elements');
    }
    this.expect('}');
    if (decl.key.length === 0) throw this.err(`set ${name} has no type`, nameTok);
    return decl;
  }

  /** A map's data type after ":" (nft's set_data_type): "verdict", one of DATA_TYPES, or "ipv4_addr .
   *  inet_service" (an address and a port for nat); other types are outside the subset. */
  private mapDataType(): MapData {
    const start = this.t;
    const names: string[] = [];
    for (;;) {
      names.push(this.word('a map data type').text);
      if (!this.is('.')) break;
      this.next();
    }
    if (names.length === 1 && names[0] === 'verdict') return 'verdict';
    if (names.includes('verdict')) throw this.err('verdict cannot be part of a concatenation', start);
    const dts = names.map((n) => DTYPE_BY_SET_TYPE.get(n)?.name);
    const one = dts.length === 1 && dts[0] !== undefined && DATA_TYPES.includes(dts[0]);
    const addrPort = dts.length === 2 && dts[0] === 'ipv4_addr' && dts[1] === 'inet_service';
    if (!one && !addrPort) throw this.unsupported(`maps to "${names.join(' . ')}"`, start);
    return dts as DtypeName[];
  }

  /** "{ a, b . c : verdict, ... }" of a known key type (anonymous sets and verdict maps in rules) */
  private elementList(decl: SetDecl): Element[] {
    const types = decl.key.map((k) => DTYPES[k]);
    const data = decl.map ? (decl.data ?? 'verdict') : undefined;
    return this.rawElementList().map((r) => resolveElement(r, types, data, this.file));
  }

  /** "KEY map @m | { k : v, ... }" after its key: the data is `mark` for a mark, an address (or an address and a
   *  port, "10.0.0.2 . 8080") for nat. */
  private mapLookup(key: Expr, use: 'mark' | 'nat'): MapLookup {
    this.expect('map');
    if (this.is('@')) {
      this.next();
      return { key, map: { kind: 'ref', name: this.name('map name', true) } };
    }
    if (!this.is('{')) throw this.err('expected "@map" or "{ ... }" after map');
    const raws = this.rawElementList();
    let data: DtypeName[] = ['mark'];
    if (use === 'nat') {
      const n = Math.max(...raws.map((r) => r.data?.length ?? 1));
      data = n > 1 ? ['ipv4_addr', 'inet_service'] : ['ipv4_addr'];
    }
    const types = this.exprDtypes(key);
    return { key, map: { kind: 'set', elements: raws.map((r) => resolveElement(r, types, data, this.file)) } };
  }

  /** The key of a data-map lookup or a set statement: a selector or a concatenation ("ip daddr . th dport");
   *  `role` and `example` name it in errors. */
  private keyExpr(role: 'map' | 'set' = 'map', example = 'ip daddr'): Expr {
    const start = this.t;
    const parts: string[] = [];
    for (;;) {
      const sel = matchSelector(this.words(3));
      if (!sel) {
        if (KNOWN_UNMODELLED.has(this.t.text)) throw this.unsupported(`"${this.words(2).join(' ')}" as a ${role} key`);
        throw this.err(`expected a key expression such as "${example}", got ${this.describe(this.t)}`);
      }
      this.i += sel.used;
      parts.push(sel.desc.name);
      if (!this.is('.')) break;
      this.next();
    }
    if (parts.length > 1) {
      const bad = parts.find((p) => !selector(p).concat);
      if (bad) throw this.unsupported(`${bad} in a concatenation`, start);
      return { kind: 'concat', parts };
    }
    return { kind: 'sel', name: parts[0]! };
  }

  /** "{ ... }" with values kept as words: resolved against the set's type when the command runs */
  private rawElementList(): RawElement[] {
    this.expect('{');
    const out: RawElement[] = [];
    for (;;) {
      this.skipNl();
      if (this.is('}')) break;
      out.push(this.rawElement());
      this.skipNl();
      if (this.is(',')) {
        this.next();
        continue;
      }
      if (!this.is('}')) throw this.err(`expected "," or "}" in an element list, got ${this.describe(this.t)}`);
    }
    this.expect('}');
    return out;
  }

  private rawElement(): RawElement {
    const pos = this.pos();
    const comps: RawValue[] = [];
    for (;;) {
      comps.push(this.rawValue());
      if (this.is('.')) {
        this.next();
        continue;
      }
      break;
    }
    const el: RawElement = { pos, comps };
    // element options (nftables src/parser_bison.y set_elem_option): a timeout, and the time left as listed
    for (;;) {
      if (this.is('timeout')) {
        this.next();
        el.timeout = this.time();
      } else if (this.is('expires')) {
        this.next();
        el.expires = this.time();
      } else if (this.is('comment')) {
        const t = this.next();
        el.comment = this.word('a quoted comment').text;
        if (el.comment.length > 128)
          throw new InputError('invalid', 'comment is longer than 128 characters', this.pos(t));
      } else if (this.is('counter')) throw this.unsupported(`element ${this.t.text}`);
      else break;
    }
    if (this.is(':')) {
      this.next();
      if (VERDICT_WORDS.includes(this.t.text)) el.verdict = this.verdict(true);
      else {
        // a data map's value: "10.0.0.2", "10.0.0.2 . 8080", "0x1"
        el.data = [this.rawValue()];
        while (this.is('.')) {
          this.next();
          el.data.push(this.rawValue());
        }
      }
    }
    return el;
  }

  /** a time value ("3h", "1m30s"; src/datatype.c time_parse): ms */
  private time(): number {
    const t = this.t;
    if (t.kind !== 'word') throw this.err(`expected a time such as "10s", got ${this.describe(t)}`);
    const ms = parseNftTime(t.text);
    if (ms === undefined) {
      if (/^\d+$/.test(t.text)) throw this.err(`expected a time with a unit ("${t.text}s"), got "${t.text}"`);
      throw this.err(`"${t.text}" is not a time (such as 1h30m, 10s, 500ms)`);
    }
    this.next();
    return ms;
  }

  /** A value's text: "a", "a/len", "a-b", "a - b", "a- b", or a quoted string. */
  private rawValue(): RawValue {
    const t = this.t;
    if (t.kind !== 'word' && t.kind !== 'string') throw this.err(`expected a value, got ${this.describe(t)}`);
    this.next();
    let text = t.text;
    if (t.kind === 'word' && text.endsWith('-') && this.t.kind === 'word') text += this.next().text;
    else if (t.kind === 'word' && this.is('-') && this.peek().kind === 'word') {
      this.next();
      text += '-' + this.next().text;
    }
    return { text, quoted: t.kind === 'string', pos: this.pos(t) };
  }

  value(dt: DtypeDesc): Value {
    return typedValue(dt, this.rawValue());
  }

  verdict(inMap: boolean): Verdict {
    const t = this.word('a verdict');
    switch (t.text) {
      case 'accept':
      case 'drop':
      case 'return':
      case 'continue':
        return { kind: t.text };
      case 'jump':
      case 'goto':
        return { kind: t.text, chain: this.name('chain name') };
      case 'queue':
        throw this.unsupported('queue verdicts', t);
      default:
        throw this.err(`expected a verdict${inMap ? ' after ":"' : ''}, got "${t.text}"`, t);
    }
  }

  // ---------------------------------------------------------------- rules

  rule(): { stmts: Stmt[]; comment?: string; spos: SourcePos[]; src?: string } {
    const from = this.i;
    const r = this.ruleBody();
    if (!this.problems) return r;
    const src = this.toks
      .slice(from, this.i)
      .filter((t) => t.kind !== 'nl')
      .map((t) => (t.kind === 'string' ? `"${t.text}"` : t.text))
      .join(' ');
    return { ...r, src };
  }

  private ruleBody(): { stmts: Stmt[]; comment?: string; spos: SourcePos[] } {
    const stmts: Stmt[] = [];
    const spos: SourcePos[] = [];
    let comment: string | undefined;
    let terminal: Tok | undefined;
    while (!isEnd(this.t)) {
      const t = this.t;
      if (comment !== undefined) throw this.err(`nothing may follow a rule's comment`);
      if (this.is('comment')) {
        this.next();
        comment = this.word('a quoted comment').text;
        if (comment.length > 128) throw new InputError('invalid', 'comment is longer than 128 characters', this.pos(t));
        continue;
      }
      const got = this.tolerant(this.i, () => this.stmt());
      // outside the subset: the rest of the rule is one statement the model cannot evaluate (three-valued)
      const s: Stmt = 'skipped' in got ? { k: 'opaque', text: got.skipped, why: got.why.reason } : got;
      if (terminal) throw new InputError('invalid', 'statement after a terminal statement has no effect', this.pos(t));
      if (s.k === 'verdict' || s.k === 'vmap' || s.k === 'reject' || s.k === 'nat' || s.k === 'masquerade')
        terminal = t;
      stmts.push(s);
      spos.push(this.pos(t));
    }
    if (stmts.length === 0) throw this.err('empty rule');
    return comment !== undefined ? { stmts, comment, spos } : { stmts, spos };
  }

  private words(n: number): string[] {
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      const t = this.peek(k);
      if (t.kind !== 'word') break;
      out.push(t.text);
    }
    return out;
  }

  private stmt(): Stmt {
    const t = this.t;
    const w = t.text;
    if (t.kind !== 'word') {
      if (this.is('@')) throw this.unsupported('raw payload expressions (@base,offset,length)');
      throw this.err(`unexpected ${this.describe(t)}`);
    }
    switch (w) {
      case 'accept':
      case 'drop':
      case 'return':
      case 'continue':
      case 'jump':
      case 'goto':
        return { k: 'verdict', v: this.verdict(false) };
      case 'counter': {
        this.next();
        let packets = 0;
        let bytes = 0;
        if (this.is('packets')) {
          this.next();
          packets = this.uint('a packet count');
          this.expect('bytes');
          bytes = this.uint('a byte count');
        }
        return { k: 'counter', packets, bytes };
      }
      case 'notrack':
        this.next();
        return { k: 'notrack' };
      case 'log':
        return this.logStmt();
      case 'reject':
        return this.rejectStmt();
      case 'dnat':
      case 'snat':
        return this.natStmt(w);
      case 'masquerade':
        return this.masqStmt();
      case 'numgen': {
        const e = this.numgen();
        return this.afterExpr(e, t);
      }
      case 'add':
      case 'update':
      case 'delete':
        if (this.peek().text === '@') return this.dynsetStmt(w);
        break;
    }
    // "meta mark set", "mark set", "ct mark set"
    const ws = this.words(3);
    const sel = matchSelector(ws);
    if (sel && (sel.desc.name === 'meta mark' || sel.desc.name === 'ct mark') && ws[sel.used] === 'set') {
      this.i += sel.used + 1;
      return { k: 'mark', target: sel.desc.name === 'meta mark' ? 'meta' : 'ct', value: this.markSource() };
    }
    if (sel) {
      this.i += sel.used;
      const parts = [sel.desc];
      while (this.is('.')) {
        this.next();
        const more = matchSelector(this.words(3));
        if (!more) throw this.unsupported(`"${this.t.text}" in a concatenation`);
        if (!more.desc.concat) throw this.unsupported(`${more.desc.name} in a concatenation`);
        this.i += more.used;
        parts.push(more.desc);
      }
      if (parts.length > 1) {
        if (!sel.desc.concat) throw this.unsupported(`${sel.desc.name} in a concatenation`, t);
        return this.afterExpr({ kind: 'concat', parts: parts.map((p) => p.name) }, t);
      }
      if (this.is('&') || this.is('and')) {
        const op = this.next();
        if (sel.desc.dtype !== 'mark') throw this.unsupported(`"&" on ${sel.desc.name}`, op);
        const m = this.value(DTYPES.mark);
        if (m.kind !== 'value') throw this.err('expected a mask', op);
        return this.afterExpr({ kind: 'and', name: sel.desc.name, mask: m.v as number }, t);
      }
      if (this.is('|') || this.is('^') || this.is('or') || this.is('xor') || this.is('<<') || this.is('>>'))
        throw this.unsupported(`"${this.t.text}" in a match`);
      return this.afterExpr({ kind: 'sel', name: sel.desc.name }, t);
    }
    if (KNOWN_UNMODELLED.has(w)) throw this.unsupported(`"${ws.slice(0, 2).join(' ')}"`);
    throw this.err(`unknown statement or expression "${w}"`);
  }

  /** "update @set { ip saddr [. th dport] [timeout 10s] }", "add @set ...", "delete @set ..." (nftables
   *  src/parser_bison.y set_stmt, nft_dynset.c) */
  private dynsetStmt(op: DynsetOp): Stmt {
    this.next();
    this.expect('@');
    const set = this.name('set name', true);
    this.expect('{');
    const key = this.keyExpr('set', 'ip saddr');
    let timeout: number | undefined;
    if (this.is('timeout')) {
      this.next();
      timeout = this.time();
    }
    let data: RawValue[] | undefined;
    if (this.is(':')) {
      // map_stmt's data is an expression, never a verdict (nft 1.0.6: "syntax error, unexpected accept", measured);
      // a constant is in the subset (`update @m { ip saddr : 0x1 }`), read against the map's type when it runs
      this.next();
      if (VERDICT_WORDS.includes(this.t.text))
        throw this.err(`unexpected ${this.t.text}: ${op} @${set} takes a value, not a verdict`, this.t);
      if (matchSelector(this.words(3)) || KNOWN_UNMODELLED.has(this.t.text))
        throw this.unsupported(`${op} of a map element with a value read from the packet`);
      data = [this.rawValue()];
      while (this.is('.')) {
        this.next();
        data.push(this.rawValue());
      }
    }
    this.expect('}');
    // "timeout 0s" is no timeout of its own (nft leaves it out)
    const s: Extract<Stmt, { k: 'dynset' }> = timeout
      ? { k: 'dynset', op, set, key, timeout }
      : { k: 'dynset', op, set, key };
    if (data) s.rawData = data;
    return s;
  }

  /** "numgen random|inc mod N [offset K]" (nftables src/parser_bison.y numgen_expr); a modulus of 0 and an offset
   *  that overflows are the kernel's refusals (apply.ts). */
  private numgen(): Expr {
    this.expect('numgen');
    const kind = this.word('random or inc');
    if (kind.text !== 'random' && kind.text !== 'inc')
      throw this.err(`expected "random" or "inc", got "${kind.text}"`, kind);
    this.expect('mod');
    const modTok = this.t;
    const mod = this.uint('a modulus');
    if (mod > 0xffffffff)
      throw new InputError('invalid', `value ${mod} exceeds valid range 0-4294967295`, this.pos(modTok));
    let offset = 0;
    if (this.is('offset')) {
      this.next();
      const offTok = this.t;
      offset = this.uint('an offset');
      if (offset > 0xffffffff)
        throw new InputError('invalid', `value ${offset} exceeds valid range 0-4294967295`, this.pos(offTok));
    }
    return { kind: 'numgen', mode: kind.text, mod, offset };
  }

  private exprDtypes(e: Expr): DtypeDesc[] {
    switch (e.kind) {
      case 'sel':
      case 'and':
        return [DTYPES[selector(e.name).dtype]];
      case 'concat':
        return e.parts.map((p) => DTYPES[selector(p).dtype]);
      case 'numgen':
        return [DTYPES.integer];
    }
  }

  /** After a selector: "vmap ...", or a match's operator and right side. */
  private afterExpr(left: Expr, start: Tok): Stmt {
    const dts = this.exprDtypes(left);
    if (this.is('vmap')) {
      this.next();
      if (this.is('@')) {
        this.next();
        return { k: 'vmap', key: left, map: { kind: 'ref', name: this.name('map name', true) } };
      }
      if (!this.is('{')) throw this.err('expected "@map" or "{ ... }" after vmap');
      return {
        k: 'vmap',
        key: left,
        map: {
          kind: 'set',
          elements: this.elementList({ name: '', map: true, key: dts.map((d) => d.name), interval: false }),
        },
      };
    }
    if (this.is('map')) throw this.unsupported('data maps (map @m); only verdict maps');
    // a payload statement ("ip daddr set 10.0.0.1", nft_payload.c set): outside the subset
    if (this.is('set') && left.kind === 'sel' && selector(left.name).payload)
      throw this.unsupported(`${left.name} set (a payload statement)`);
    if (this.is('set')) throw this.err(`"set" is only for meta mark and ct mark`);
    let op: 'eq' | 'ne' = 'eq';
    let explicit = false;
    if (this.is('==')) {
      this.next();
      explicit = true;
    } else if (this.is('!=')) {
      this.next();
      op = 'ne';
    } else if (this.is('<') || this.is('>') || ['lt', 'gt', 'le', 'ge', '<=', '>='].includes(this.t.text))
      throw this.unsupported(`the "${this.t.text}" comparison`);
    if (isEnd(this.t)) throw this.err(`${this.describe(start)} needs a value to compare with`);
    let right: Rhs;
    if (this.is('@')) {
      this.next();
      right = { kind: 'ref', name: this.name('set name', true) };
    } else if (this.is('{')) {
      right = {
        kind: 'set',
        elements: this.elementList({ name: '', map: false, key: dts.map((d) => d.name), interval: true }),
      };
    } else if (dts.length > 1) {
      throw this.unsupported('a concatenation compared with a single value (use a set)', start);
    } else {
      const dt = dts[0]!;
      const first = this.value(dt);
      if (dt.flags && this.is('|')) {
        // "a | b", as nft lists an equality on several flags: the whole value
        let bits = first.kind === 'value' ? (first.v as number) : 0;
        while (this.is('|')) {
          this.next();
          const v = this.value(dt);
          if (v.kind !== 'value') throw this.err('expected a flag');
          bits |= v.v as number;
        }
        right = { kind: 'values', value: { kind: 'flags', v: bits } };
        explicit = true;
      } else if (dt.flags && this.is(',')) {
        let bits = first.kind === 'value' ? (first.v as number) : 0;
        while (this.is(',')) {
          this.next();
          const v = this.value(dt);
          if (v.kind !== 'value') throw this.err('expected a flag');
          bits |= v.v as number;
        }
        right = { kind: 'values', value: { kind: 'flags', v: bits } };
      } else right = { kind: 'values', value: first };
    }
    if (left.kind === 'sel' && dts[0]!.name === 'mark' && right.kind === 'values' && right.value.kind === 'prefix') {
      const { v, len } = right.value;
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      return {
        k: 'match',
        left: { kind: 'and', name: left.name, mask },
        op,
        right: { kind: 'values', value: { kind: 'value', v } },
      };
    }
    if (left.kind === 'and' && !(right.kind === 'values' && right.value.kind === 'value'))
      throw this.unsupported('a masked mark compared with a set, range or prefix', start);
    const flagsEq = explicit && dts.length === 1 && dts[0]!.flags && right.kind !== 'ref';
    return flagsEq ? { k: 'match', left, op, right, explicit: true } : { k: 'match', left, op, right };
  }

  private markSource(): MarkSource {
    const t = this.t;
    const ws = this.words(4);
    const sel = matchSelector(ws);
    if (sel && (ws[sel.used] === 'map' || this.peek(sel.used).text === '.'))
      return { kind: 'map', lookup: this.mapLookup(this.keyExpr(), 'mark') };
    if (this.is('numgen')) {
      const key = this.numgen();
      if (!this.is('map')) throw this.unsupported('a mark set from numgen without a map', t);
      return { kind: 'map', lookup: this.mapLookup(key, 'mark') };
    }
    if (sel && (sel.desc.name === 'meta mark' || sel.desc.name === 'ct mark')) {
      this.i += sel.used;
      const from = sel.desc.name === 'meta mark' ? 'meta' : 'ct';
      const OPS: Record<string, '|' | '&' | '^'> = { '|': '|', or: '|', '&': '&', and: '&', '^': '^', xor: '^' };
      const op = OPS[this.t.text];
      if (op && (this.t.kind === 'punct' || this.t.kind === 'word')) {
        this.next();
        const v = this.value(DTYPES.mark);
        if (v.kind !== 'value') throw this.err('expected a number');
        return { kind: 'from', from, op, v: v.v as number };
      }
      return { kind: 'from', from };
    }
    if (t.kind === 'word' && !/^(0x[0-9a-fA-F]+|\d+)$/.test(t.text)) {
      if (KNOWN_UNMODELLED.has(t.text)) throw this.unsupported(`mark set from "${t.text}"`);
      throw this.err(`expected a mark value, got "${t.text}"`);
    }
    const v = this.value(DTYPES.mark);
    if (v.kind !== 'value') throw this.err('expected a mark value', t);
    return { kind: 'const', v: v.v as number };
  }

  private logStmt(): Stmt {
    this.expect('log');
    const s: Extract<Stmt, { k: 'log' }> = { k: 'log' };
    for (;;) {
      if (this.is('prefix')) {
        this.next();
        const p = this.t;
        if (p.kind !== 'string' && p.kind !== 'word') throw this.err('expected a quoted prefix');
        this.next();
        if (p.text.length > 127)
          throw new InputError('invalid', 'log prefix is longer than 127 characters', this.pos(p));
        s.prefix = p.text;
      } else if (this.is('level')) {
        this.next();
        const l = this.word('a log level');
        if (!(LOG_LEVELS as readonly string[]).includes(l.text)) throw this.err(`unknown log level "${l.text}"`, l);
        s.level = l.text;
      } else if (this.is('flags')) {
        this.next();
        const f = this.word('log flags');
        if (f.text !== 'all') throw this.unsupported(`log flags ${f.text}`, f);
        s.flags = 'all';
      } else if (this.is('group') || this.is('snaplen') || this.is('queue-threshold'))
        throw this.unsupported(`log ${this.t.text}`);
      else break;
    }
    return s;
  }

  private rejectStmt(): Stmt {
    this.expect('reject');
    if (!this.is('with')) return { k: 'reject' };
    this.next();
    const w = this.word('icmp, icmpx or tcp');
    if (w.text === 'tcp') {
      this.expect('reset');
      return { k: 'reject', with: { type: 'tcp-reset' } };
    }
    if (w.text === 'icmp' || w.text === 'icmpx') {
      if (this.is('type')) this.next();
      const c = this.word('an icmp code');
      const list: readonly string[] = w.text === 'icmp' ? REJECT_ICMP : REJECT_ICMPX;
      if (!list.includes(c.text)) throw this.err(`unknown ${w.text} reject code "${c.text}"`, c);
      return { k: 'reject', with: { type: w.text, code: c.text } };
    }
    if (w.text === 'icmpv6') throw this.unsupported('reject with icmpv6', w);
    throw this.err(`expected icmp, icmpx or tcp after "reject with", got "${w.text}"`, w);
  }

  private natStmt(type: 'dnat' | 'snat'): Stmt {
    this.next();
    let ipFamily = false;
    if (this.is('ip') && !matchSelector(this.words(3))) {
      this.next();
      ipFamily = true;
    } else if (this.is('ip6')) throw this.unsupported(`${type} ip6`);
    if (this.is('addr')) throw this.unsupported(`${type} ip addr . port to (the explicit form)`);
    // "to" may be left out without a family (parser_bison.y nat_stmt_args: stmt_expr; nft lists "dnat to")
    if (ipFamily) this.expect('to');
    else if (this.is('to')) this.next();
    if (['jhash', 'symhash'].includes(this.t.text)) throw this.unsupported(`${type} to a ${this.t.text} key`);
    const t = this.t;
    if (t.kind !== 'word') throw this.err(`expected an address after "${type} to"`);
    if (this.is('numgen') || matchSelector(this.words(3))) {
      // "dnat to ip daddr . th dport map @m [: port]": the address (and port) a data map holds for the key;
      // "dnat to numgen random mod 2 map { 0 : 10.0.0.1 . 80, ... }" (kube-proxy 1.36's endpoint choice)
      const addr = this.mapLookup(this.is('numgen') ? this.numgen() : this.keyExpr(), 'nat');
      const port = this.natPort(type);
      if (['random', 'fully-random', 'persistent'].includes(this.t.text)) throw this.unsupported(`${type} flags`);
      return port !== undefined ? { k: 'nat', type, ipFamily, addr, port } : { k: 'nat', type, ipFamily, addr };
    }
    this.next();
    const addr = DTYPES.ipv4_addr.parse(t.text, false);
    if (typeof addr !== 'number') {
      if (t.text.includes('-') || t.text.includes('/')) throw this.unsupported(`${type} to an address range`, t);
      throw this.err(`"${t.text}" is not an IPv4 address`, t);
    }
    const port = this.natPort(type);
    if (['random', 'fully-random', 'persistent'].includes(this.t.text)) throw this.unsupported(`${type} flags`);
    return port !== undefined ? { k: 'nat', type, ipFamily, addr, port } : { k: 'nat', type, ipFamily, addr };
  }

  /** ": port" after a nat address or map */
  private natPort(type: string): number | undefined {
    if (!this.is(':')) return undefined;
    this.next();
    const p = this.word('a port');
    const v = DTYPES.inet_service.parse(p.text, false);
    if (typeof v !== 'number') {
      if (p.text.includes('-')) throw this.unsupported(`${type} to a port range`, p);
      // a port read from the packet or a map (": tcp dport map { ... }", ": numgen inc mod 2 map { ... }")
      if (matchSelector(this.words(3).length ? [p.text, ...this.words(2)] : [p.text]) || KNOWN_UNMODELLED.has(p.text))
        throw this.unsupported(`${type} to a port from an expression`, p);
      throw this.err(`"${p.text}" is not a port`, p);
    }
    return v;
  }

  private masqStmt(): Stmt {
    this.expect('masquerade');
    const s: Extract<Stmt, { k: 'masquerade' }> = { k: 'masquerade', flags: [] };
    if (this.is('to')) {
      this.next();
      this.expect(':');
      const p = this.word('a port');
      const v = DTYPES.inet_service.parse(p.text, false);
      if (typeof v !== 'number') throw this.unsupported(`masquerade to "${p.text}"`, p);
      s.port = v;
    }
    while (['random', 'fully-random', 'persistent'].includes(this.t.text)) {
      s.flags.push(this.next().text);
      if (this.is(',')) this.next();
    }
    return s;
  }
}

function withoutElements(d: SetDecl): SetDecl {
  const { elements: _e, ...rest } = d;
  void _e;
  return rest;
}

export type { RawValue };
export interface RawElement {
  pos: SourcePos;
  comps: RawValue[];
  verdict?: Verdict;
  /** ms */
  timeout?: number;
  expires?: number;
  comment?: string;
  /** a data map's value, read against the map's data type */
  data?: RawValue[];
}

/** A value of a datatype: a/len, a-b, a symbol or a number (nftables src/datatype.c). */
export function typedValue(dt: DtypeDesc, raw: RawValue): Value {
  const { text, quoted, pos } = raw;
  const bad = () => new InputError('syntax', `"${text}" is not a valid ${dt.name} value`, pos);
  if (!quoted && dt.prefix && text.includes('/')) {
    const [a, l] = text.split('/') as [string, string];
    const v = dt.parse(a, false);
    if (typeof v !== 'number' || !/^\d{1,2}$/.test(l) || Number(l) > dt.bits) throw bad();
    const len = Number(l);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return len === dt.bits ? { kind: 'value', v } : { kind: 'prefix', v: (v & mask) >>> 0, len };
  }
  const dash = text.indexOf('-', 1);
  if (!quoted && dt.range && dash > 0 && dt.parse(text, false) === undefined) {
    const lo = dt.parse(text.slice(0, dash), false);
    const hi = dt.parse(text.slice(dash + 1), false);
    if (typeof lo !== 'number' || typeof hi !== 'number') throw bad();
    if (hi < lo) throw new InputError('invalid', `range ${text} has zero or negative size`, pos);
    return { kind: 'range', lo, hi };
  }
  const v = dt.parse(text, quoted);
  if (v === undefined) throw bad();
  return { kind: 'value', v };
}

/** An element read against its set's key types and, for a map, its data (undefined: a set; a delete of a map's
 *  element passes undefined too: the key decides). */
export function resolveElement(
  r: RawElement,
  types: readonly DtypeDesc[],
  data: MapData | undefined,
  file: string,
): Element {
  void file;
  const wild = r.comps.find((c, n) => types[n]?.name === 'ifname' && c.text.endsWith('*'));
  if (wild) throw new InputError('unsupported', `interface wildcard "${wild.text}" in a set`, wild.pos);
  if (r.comps.length !== types.length)
    throw new InputError(
      'syntax',
      `element has ${r.comps.length} component${r.comps.length > 1 ? 's' : ''}, the key has ${types.length}`,
      r.pos,
    );
  const key = r.comps.map((c, n) => typedValue(types[n]!, c));
  const given = r.verdict ? 'a verdict' : r.data ? 'a value' : undefined;
  if (data === undefined && given) throw new InputError('syntax', 'a set element has no data', r.pos);
  if (data === 'verdict' && !r.verdict)
    throw new InputError(r.data ? 'invalid' : 'syntax', 'a verdict map element needs ": verdict"', r.pos);
  let values: Atom[] | undefined;
  let hi: Atom[] | undefined;
  if (Array.isArray(data)) {
    if (!r.data) throw new InputError(r.verdict ? 'invalid' : 'syntax', `a map element needs ": value"`, r.pos);
    if (r.data.length !== data.length)
      throw new InputError('invalid', `the map's data is ${data.join(' . ')}: ${r.data.length} values given`, r.pos);
    const vs = r.data.map((raw, n) => typedValue(DTYPES[data[n]!], raw));
    // a value written as a range or prefix ("10.0.0.9/32" too) makes the element's value an interval: a nat range
    // (nft_nat.c reads addr_min/addr_max, proto_min/proto_max); of other data it is outside the subset
    if (vs.some((v, n) => v.kind !== 'value' || (!r.data![n]!.quoted && r.data![n]!.text.includes('/')))) {
      if (!isNatData(data))
        throw new InputError('unsupported', `a range or prefix as a value of a map to ${data.join(' . ')}`, r.pos);
      const b = vs.map((v) => valueBounds(v)!);
      hi = b.map((x) => x[1]);
      values = b.map((x) => x[0]);
    } else values = vs.map((v) => (v as { v: Atom }).v);
  }
  const el: Element = r.verdict ? { key, verdict: r.verdict } : values ? { key, data: values } : { key };
  if (hi) el.dataHi = hi;
  if (r.timeout) el.timeout = r.timeout;
  if (r.expires) el.expires = r.expires;
  if (r.comment !== undefined) el.comment = r.comment;
  return el;
}

/** The data nat reads: an address, or an address and a port (the types a nat range may have). */
export const isNatData = (d: MapData | undefined): boolean =>
  Array.isArray(d) && d[0] === 'ipv4_addr' && (d.length === 1 || (d.length === 2 && d[1] === 'inet_service'));

/** `problems`: read around what is outside the subset (a rule's unsupported rest becomes an opaque statement, a
 *  table of another family or an unsupported object is left out) and list it there; without it, it is thrown. */
export function parseNftCommands(text: string, file: string, problems?: InputError[]): Command[] {
  return new NftParser(text, file, problems).parseFile();
}

// Parses a rule specification (everything after "-A CHAIN") into rules, as iptables
// 1.8.9 does (iptables/xshared.c do_parse, command_default, ipv4_post_parse): options
// through getopt_long (getopt.ts) over the options known at that point, driven by the
// descriptor table (spec/iptables.md §2). One text may give several rules: `-s a,b`
// is one rule per address.
import { InputError, type SourcePos } from '../errors.ts';
import type { Cidr } from '../ip.ts';
import type { Token } from './tokenize.ts';
import {
  type Rule,
  type ExtInstance,
  type OptInstance,
  type Target,
  type TableName,
  type IptablesFlavor,
  isBuiltinChain,
} from './types.ts';
import {
  type ExtensionDesc,
  type OptionDesc,
  matchDesc,
  targetDesc,
  implicitMatchFor,
  findOption,
  EXTENSIONS,
  UNMODELLED_TARGETS,
  IPTABLES_MATCHES,
  IPTABLES_TARGETS,
} from './descriptors.ts';
import { KINDS, type Kind, type OptValue, type ParseContext } from './kinds.ts';
import type { Accounts } from './accounts.ts';
import { parseProtocolName, protocolName } from './netdb.ts';
import { parseAddrList, maskLen, type AddrMask } from './addr.ts';
import { resolveLong, ORIGINAL_OPTS, SHORT_OPTIONS, type LongOption } from './getopt.ts';

/** Targets that exist in iptables but are not modelled: kept opaque, reported as unsupported. */
export const KNOWN_UNMODELLED_TARGETS: ReadonlySet<string> = new Set(Object.keys(UNMODELLED_TARGETS));

export interface RuleContext {
  file: string;
  line: number;
  table: TableName;
  chain: string;
  /** chains that exist in the table at this point */
  hasChain: (name: string) => boolean;
  backend?: IptablesFlavor;
  /** user and group names (owner), see ReadOptions.accounts */
  accounts?: Accounts;
}

interface PendingExt {
  desc: ExtensionDesc;
  opts: OptInstance[];
  /** option names as written (canonical), before defaults are filled in */
  given: string[];
  col: number;
  /** set when a newer instance of the same module was loaded (xtables_find_match marks it completed) */
  completed?: boolean;
  /** every word read for it, as written (printed back when the instance is opaque) */
  raw: string[];
  /** set when the model cannot evaluate it: an unknown module or target, or an unmodelled option */
  why?: string;
}

/** A module or target iptables may have but the descriptor table does not: options unknown, kept as words. */
function unknownDesc(name: string, type: 'match' | 'target'): ExtensionDesc {
  return { name, type, options: [] };
}

type Owner =
  { t: 'rule'; letter: string } | { t: 'ext'; ext: PendingExt; od?: OptionDesc; unmodelled?: string; hasArg: 0 | 1 };

function posAt(ctx: RuleContext, col: number): SourcePos {
  return { file: ctx.file, line: ctx.line, col };
}

/** xtables_parse_interface: at most 15 characters; '+' at the end is a wildcard. */
export function parseIfaceName(name: string): boolean {
  return name.length <= 15;
}

/** `-p` as iptables reads it (lowercased first), through the embedded protocol database. */
export function parseProto(text: string): number | undefined {
  return parseProtocolName(text.toLowerCase());
}

const EXT_PROTO_NAME = (p: number) => protocolName(p) ?? String(p);

/** Canonical order and filled defaults; then the extension's own checks. */
export function finishExt(
  desc: ExtensionDesc,
  opts: OptInstance[],
  proto: number | undefined,
  pos: SourcePos,
  ruleProtoNeg: boolean,
  given: readonly string[] = opts.map((o) => o.name),
  opaque?: ExtInstance['opaque'],
  raw?: readonly string[],
): ExtInstance {
  const order = desc.options.filter((o) => !o.storeAs).map((o) => o.name);
  const filled = desc.normalize ? desc.normalize([...opts]) : [...opts];
  for (const od of desc.options) {
    if (od.fill === undefined || filled.some((o) => o.name === od.name)) continue;
    if (od.group && filled.some((o) => desc.options.find((d) => d.name === o.name)?.group === od.group)) continue;
    if (od.when && !od.when(filled)) continue;
    filled.push({ name: od.name, neg: false, value: od.fill });
  }
  filled.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  // values iptables-save does not print are the defaults: drop them so that parse(print(x)) equals x
  const canonical = filled.filter(
    (o) => !desc.options.find((d) => d.name === o.name && !d.storeAs)?.omitWhen?.(o.value, o.neg),
  );
  const ext: ExtInstance = { name: desc.name, opts: canonical };
  if (opaque) ext.opaque = opaque;
  // an opaque instance's own checks are iptables' business (they may need the options the model does not know)
  const problem = opaque ? undefined : desc.check?.(ext, ruleProtoNeg ? undefined : proto, given);
  if (problem) {
    // a form the model does not evaluate (CT without --notrack): kept, evaluated as unknown
    if (problem.startsWith('unsupported: ') && raw) {
      ext.opaque = { args: raw, why: problem.slice('unsupported: '.length), pos };
      return ext;
    }
    if (problem.startsWith('unsupported: '))
      throw new InputError('unsupported', problem.slice('unsupported: '.length), pos);
    throw new InputError('invalid', problem, pos);
  }
  if (desc.protos && (proto === undefined || ruleProtoNeg || !desc.protos.includes(proto))) {
    throw new InputError(
      'invalid',
      `${desc.name} ${desc.type} is only valid with -p ${desc.protos.map(EXT_PROTO_NAME).join('|')}`,
      pos,
    );
  }
  return ext;
}

/** The getopt table at this point: iptables' own options, then the newest module's options first. */
function optionTable(loaded: readonly PendingExt[]): LongOption<Owner>[] {
  const table: LongOption<Owner>[] = ORIGINAL_OPTS.map(([name, hasArg, letter]) => ({
    name,
    hasArg: hasArg === 2 ? 0 : hasArg,
    key: `rule:${letter}`,
    owner: { t: 'rule', letter },
  }));
  for (const ext of [...loaded].reverse()) {
    for (const od of ext.desc.options) {
      const hasArg = KINDS[od.kind].arity === 0 ? 0 : 1;
      for (const n of [od.name, ...(od.aliases ?? [])])
        table.push({
          name: n.slice(2),
          hasArg,
          key: `${ext.desc.name}:${od.name}`,
          owner: { t: 'ext', ext, od, hasArg },
        });
    }
    for (const [n, hasArg] of ext.desc.more ?? [])
      table.push({
        name: n.slice(2),
        hasArg,
        key: `${ext.desc.name}:${n}`,
        owner: { t: 'ext', ext, unmodelled: n, hasArg },
      });
  }
  return table;
}

interface RuleLevel {
  src?: { neg: boolean; text: string; col: number };
  dst?: { neg: boolean; text: string; col: number };
  proto?: { neg: boolean; value: number };
}

/** Converts a parsed address to the rule's form: a prefix length when the mask is contiguous. */
function toCidr(a: AddrMask): Cidr {
  const len = maskLen(a.mask);
  return len === undefined ? { addr: a.addr, len: 32, mask: a.mask } : { addr: a.addr, len };
}

export function parseRuleSpec(input: readonly Token[], ctx: RuleContext): Rule[] {
  let toks = input;
  const base: Rule = { matches: [] };
  const level: RuleLevel = {};
  const pending: PendingExt[] = [];
  /** modules whose options are in the getopt table (a second instance of a module adds none) */
  const merged: PendingExt[] = [];
  let target: PendingExt | undefined;
  let targetTok: Token | undefined;
  let protoUsed = false;
  let invert = false;
  let invertCol = 0;
  const seen = new Set<string>();

  const setOption = (letter: string, pos: SourcePos) => {
    if (seen.has(letter)) throw new InputError('syntax', `multiple -${letter} flags not allowed`, pos);
    seen.add(letter);
    if (invert && !'sdpiof'.includes(letter))
      throw new InputError('syntax', `cannot have ! before -${letter}`, posAt(ctx, invertCol));
  };

  /** the newest module or target whose options the model does not know: unknown option words go to it */
  let lastUnknown: PendingExt | undefined;

  const loadMatch = (d: ExtensionDesc, col: number): PendingExt => {
    for (const p of pending) if (p.desc === d) p.completed = true;
    const ext: PendingExt = { desc: d, opts: [], given: [], col, raw: [] };
    if (!pending.some((p) => p.desc === d)) merged.push(ext);
    pending.push(ext);
    return ext;
  };

  /** The owner of the option word `word` (without its dashes), as getopt_long and command_default find it. */
  const lookup = (word: string) => resolveLong(optionTable([...merged, ...(target ? [target] : [])]), word);

  let i = 0;
  while (i < toks.length) {
    const t = toks[i]!;
    const pos = posAt(ctx, t.col);
    if (t.text === '!') {
      if (invert) throw new InputError('syntax', 'multiple consecutive ! not allowed', pos);
      invert = true;
      invertCol = t.col;
      i++;
      continue;
    }
    if (t.text === '--') {
      if (i + 1 < toks.length)
        throw new InputError('syntax', 'unknown arguments found on commandline', posAt(ctx, toks[i + 1]!.col));
      break;
    }
    if (!t.text.startsWith('-') || t.text === '-') {
      const prev = toks[i - 1]?.text;
      const old = prev === '!' && i >= 2 && /^-/.test(toks[i - 2]!.text) && !/^-/.test(t.text);
      throw new InputError(
        'syntax',
        old
          ? `Bad argument \`${t.text}': the old negation form \`${toks[i - 2]!.text} ! ${t.text}' is` +
              ` gone (iptables 1.4.3); write \`! ${toks[i - 2]!.text} ${t.text}'`
          : `Bad argument \`${t.text}'`,
        pos,
      );
    }

    // one option: its owner, its argument (attached, `=value` or the next word) and where reading goes on
    let owner: Owner;
    let arg: string | undefined;
    let argCol = t.col;
    let next = i + 1;
    let shown = t.text;
    if (t.text.startsWith('--')) {
      const eq = t.text.indexOf('=');
      const word = eq < 0 ? t.text.slice(2) : t.text.slice(2, eq);
      let r = lookup(word);
      if (r.kind !== 'found') {
        // command_default: an option nobody knows loads the protocol's match once, then getopt tries again
        const implicit = implicitMatchFor(level.proto?.value);
        // ... unless a module the model does not know is loaded and the protocol's match has no such option:
        // then the word is taken to be that module's (its options are not known here)
        const implicitHas = (d: ExtensionDesc) =>
          resolveLong(optionTable([{ desc: d, opts: [], given: [], col: 0, raw: [] }]), word).kind === 'found';
        if (implicit && !protoUsed && (!lastUnknown || implicitHas(implicit))) {
          protoUsed = true;
          loadMatch(implicit, t.col);
          r = lookup(word);
        }
      }
      if (r.kind === 'ambiguous')
        throw new InputError('syntax', `option "${t.text}" is ambiguous (${r.candidates.join(', ')})`, pos);
      if (r.kind === 'unknown' && lastUnknown) {
        // an option of a module the model does not know: kept as written with the words after it that are
        // not options (its arguments, as far as they can be told apart)
        if (invert) lastUnknown.raw.push('!');
        lastUnknown.raw.push(t.text);
        let k = i + 1;
        while (eq < 0 && k < toks.length && !isOptionWord(toks[k]!.text)) lastUnknown.raw.push(toks[k++]!.text);
        invert = false;
        i = k;
        continue;
      }
      if (r.kind === 'unknown') throw unknownOption(t, pending, target, ctx);
      owner = r.opt.owner;
      shown = `--${r.opt.name}`;
      if (r.opt.hasArg === 0 && eq >= 0) throw new InputError('syntax', `unknown option "${t.text}"`, pos);
      if (r.opt.hasArg === 1) {
        if (eq >= 0) arg = t.text.slice(eq + 1);
        else if (i + 1 < toks.length) {
          arg = toks[i + 1]!.text;
          argCol = toks[i + 1]!.col;
          next = i + 2;
        } else throw new InputError('syntax', `option "${t.text}" requires an argument`, pos);
      }
    } else {
      // a short option (clusters of argument-less letters such as -fv are read one by one)
      const letter = t.text[1]!;
      const has = SHORT_OPTIONS[letter];
      if (has === undefined) throw new InputError('syntax', `unknown option "${t.text}"`, pos);
      owner = { t: 'rule', letter };
      shown = `-${letter}`;
      if (has === 1) {
        if (t.text.length > 2) arg = t.text.slice(2);
        else if (i + 1 < toks.length) {
          arg = toks[i + 1]!.text;
          argCol = toks[i + 1]!.col;
          next = i + 2;
        } else throw new InputError('syntax', `option "${t.text}" requires an argument`, pos);
      } else if (t.text.length > 2) {
        if (has === 2) arg = t.text.slice(2);
        else {
          // -fv: treat the rest as another short option cluster
          const rest: Token = { text: `-${t.text.slice(2)}`, col: t.col + 2 };
          toks = [...toks.slice(0, i + 1), rest, ...toks.slice(i + 1)];
        }
      }
    }
    const apos = posAt(ctx, argCol);

    if (owner.t === 'ext') {
      const first = owner.ext;
      const ext = [...pending].reverse().find((p) => p.desc === first.desc && !p.completed) ?? first;
      if (invert) ext.raw.push('!');
      ext.raw.push(t.text);
      if (arg !== undefined && next > i + 1) ext.raw.push(toks[i + 1]!.text);
      if (owner.unmodelled) {
        // an option the model does not evaluate: the instance is kept, evaluated as unknown
        ext.why ??= `option ${owner.unmodelled} of ${ext.desc.name}`;
        lastUnknown = ext;
        invert = false;
        i = next;
        continue;
      }
      const od = owner.od!;
      const kind = KINDS[od.kind] as Kind<OptValue>;
      const args = arg === undefined ? [] : [arg];
      if (kind.arity === 2) {
        // extra words are read straight from argv (libxt_tcp: --tcp-flags MASK COMP)
        if (next >= toks.length) throw new InputError('syntax', `${shown} needs two arguments`, pos);
        args.push(toks[next]!.text);
        ext.raw.push(toks[next]!.text);
        next++;
      }
      const name = od.storeAs?.name ?? od.name;
      if (invert && !od.negatable)
        throw new InputError(
          'syntax',
          `${ext.desc.name}: option "${od.name}" cannot be inverted.`,
          posAt(ctx, invertCol),
        );
      if (ext.given.includes(od.name) || ext.opts.some((o) => o.name === name && od.storeAs === undefined))
        throw new InputError('syntax', `${ext.desc.name}: option "${od.name}" can only be used once.`, pos);
      const clash = od.lastWins ? undefined : ext.opts.find((o) => sameGroup(ext.desc, o.name, name));
      if (clash)
        throw new InputError(
          'syntax',
          `${ext.desc.name}: option "${od.name}" cannot be used together with "${clash.name}".`,
          pos,
        );
      const pctx: ParseContext = {
        ext: ext.desc.name,
        proto: level.proto?.value,
        protoNeg: level.proto?.neg ?? false,
        ...(ctx.accounts ? { accounts: ctx.accounts } : {}),
        ...((od.rangeBy?.[ctx.backend ?? 'nft'] ?? od.range)
          ? { range: od.rangeBy?.[ctx.backend ?? 'nft'] ?? od.range! }
          : {}),
      };
      const parsed = kind.parse(args, pctx);
      if (typeof parsed === 'object' && parsed !== null && 'error' in parsed)
        throw new InputError('syntax', `${ext.desc.name} ${od.name}: ${parsed.error}`, apos);
      let value = od.storeAs ? od.storeAs.convert(parsed as OptValue) : (parsed as OptValue);
      let neg = invert;
      // iptables-nft writes tcp/udp "! --dport 0:N" as "dport >= N+1" and reads it back so (same packets)
      if (
        ctx.backend !== 'legacy' &&
        neg &&
        od.kind === 'portRange' &&
        (ext.desc.name === 'tcp' || ext.desc.name === 'udp')
      ) {
        const [lo, hi] = value as readonly [number, number];
        if (lo === 0 && hi < 65535) {
          value = [hi + 1, 65535];
          neg = false;
        }
      }
      if (!ext.desc.droppedBy?.[ctx.backend ?? 'nft']?.includes(name)) ext.opts.push({ name, neg, value });
      ext.given.push(od.name);
      invert = false;
      i = next;
      continue;
    }

    const L = owner.letter;
    const a = arg ?? '';
    switch (L) {
      case 's':
      case 'd': {
        setOption(L, pos);
        const spec = { neg: invert, text: a, col: argCol };
        if (L === 's') level.src = spec;
        else level.dst = spec;
        break;
      }
      case 'i':
      case 'o': {
        if (a === '') throw new InputError('syntax', `Empty interface is likely to be undesired`, apos);
        setOption(L, pos);
        if (!parseIfaceName(a))
          throw new InputError('syntax', `interface name \`${a}' must be shorter than IFNAMSIZ (15)`, apos);
        // a lone "+" matches every interface: the kernel keeps no name, iptables-save prints nothing
        if (!(a === '+' && !invert)) base[L === 'i' ? 'inIface' : 'outIface'] = { neg: invert, value: a };
        break;
      }
      case 'p': {
        setOption(L, pos);
        const full = parseProto(a);
        // iptables-legacy keeps 16 bits (ipt_ip.proto), so "mptcp" (262) stays 262 and matches nothing;
        // iptables-nft keeps 8, so it becomes 6 (tcp) (measured)
        const p = full === undefined || ctx.backend === 'legacy' ? full : full & 0xff;
        if (p === undefined) throw new InputError('syntax', `unknown protocol "${a.toLowerCase()}" specified`, apos);
        if (p === 0 && invert) throw new InputError('invalid', 'rule would never match protocol', pos);
        level.proto = { neg: invert, value: p };
        if (!(p === 0 && !invert)) base.proto = { neg: invert, value: p };
        break;
      }
      case 'm': {
        if (invert) throw new InputError('syntax', 'unexpected ! flag before --match', posAt(ctx, invertCol));
        const d = matchDesc(a);
        if (d) {
          loadMatch(d, t.col);
          break;
        }
        // a module the model does not know: kept, its options as written, evaluated as unknown
        if (!/^[\w.-]+$/.test(a)) throw new InputError('syntax', `Couldn't load match \`${a}'`, apos);
        const ext = loadMatch(unknownDesc(a, 'match'), argCol);
        ext.why = IPTABLES_MATCHES.has(a)
          ? `match module "${a}"`
          : `match module "${a}" (not a module of iptables 1.8.9: the host needs it from elsewhere)`;
        lastUnknown = ext;
        break;
      }
      case 'j':
      case 'g': {
        setOption('j', pos);
        if (a === '') throw new InputError('syntax', 'Invalid target name (too short)', apos);
        const isGoto = L === 'g';
        base.target = parseTargetName(a, isGoto, ctx, apos);
        targetTok = { text: a, col: argCol };
        if (base.target.kind === 'ext') {
          const d = targetDesc(a);
          target = { desc: d ?? unknownDesc(a, 'target'), opts: [], given: [], col: argCol, raw: [] };
          if (!d) {
            target.why = IPTABLES_TARGETS.has(a)
              ? `target ${a}`
              : `target ${a} (not a target of iptables 1.8.9, nor a chain defined here)`;
            lastUnknown = target;
          }
        }
        break;
      }
      case 'c': {
        setOption('c', pos);
        // "-c P,B" or "-c P B" (xshared.c: the byte count after a comma, else the next word)
        const comma = a.indexOf(',', 1);
        const pc = comma >= 0 ? a.slice(0, comma) : a;
        let bc: string | undefined = comma >= 0 ? a.slice(comma + 1) : undefined;
        if (bc === undefined && next < toks.length && !toks[next]!.text.startsWith('-') && toks[next]!.text !== '!') {
          bc = toks[next]!.text;
          next++;
        }
        if (bc === undefined) throw new InputError('syntax', '-c requires packet and byte counter', pos);
        const pn = /^\s*\+?\d+/.exec(pc);
        const bn = /^\s*\+?\d+/.exec(bc);
        if (!pn) throw new InputError('syntax', '-c packet counter not numeric', pos);
        if (!bn) throw new InputError('syntax', '-c byte counter not numeric', pos);
        base.counters = [Number(pn[0].trim()), Number(bn[0].trim())];
        break;
      }
      case 'f':
        // -f: second and later fragments (ipt_ip.flags IPT_F_FRAG); it takes no argument
        setOption(L, pos);
        base.frag = { neg: invert, value: true };
        break;
      case 't':
        throw new InputError('syntax', 'The -t option cannot be used here (the table comes from "*TABLE")', pos);
      case 'w':
      case 'W':
        throw new InputError('syntax', `You cannot use \`-${L}' from iptables-restore`, pos);
      case 'v':
      case 'n':
      case 'x':
      case '0':
      case '4':
        // listing options: no effect on a rule
        if (invert) throw new InputError('syntax', `cannot have ! before -${L}`, posAt(ctx, invertCol));
        break;
      default:
        throw new InputError('syntax', `unexpected option "${shown}" in a rule`, pos);
    }
    invert = false;
    i = next;
  }
  if (invert) throw new InputError('syntax', 'nothing appropriate following !', posAt(ctx, invertCol));

  // -o/-i in built-in chains that never see that interface (do_parse)
  if (ctx.chain === 'PREROUTING' || ctx.chain === 'INPUT')
    if (seen.has('o')) throw new InputError('invalid', `Can't use -o with ${ctx.chain}`, posAt(ctx, 1));
  if (ctx.chain === 'POSTROUTING' || ctx.chain === 'OUTPUT')
    if (seen.has('i')) throw new InputError('invalid', `Can't use -i with ${ctx.chain}`, posAt(ctx, 1));
  if (base.target?.kind === 'verdict' && base.target.verdict === 'DROP' && ctx.table === 'nat') {
    throw new InputError(
      'invalid',
      'The "nat" table is not intended for filtering, the use of DROP is therefore inhibited.',
      posAt(ctx, targetTok?.col ?? 1),
    );
  }
  const opaqueOf = (p: PendingExt, col: number): ExtInstance['opaque'] => {
    if (p.why === undefined) return undefined;
    const shipped = (p.desc.type === 'match' ? IPTABLES_MATCHES : IPTABLES_TARGETS).has(p.desc.name);
    return {
      args: p.raw,
      why: p.why,
      pos: posAt(ctx, col),
      ...(shipped || matchDesc(p.desc.name) || targetDesc(p.desc.name) ? {} : { foreign: true }),
    };
  };
  for (const p of pending)
    base.matches.push(
      finishExt(
        p.desc,
        p.opts,
        level.proto?.value,
        posAt(ctx, p.col),
        level.proto?.neg ?? false,
        p.given,
        opaqueOf(p, p.col),
        p.raw,
      ),
    );
  if (target && base.target?.kind === 'ext') {
    base.target = {
      kind: 'ext',
      ext: finishExt(
        target.desc,
        target.opts,
        level.proto?.value,
        posAt(ctx, targetTok!.col),
        level.proto?.neg ?? false,
        target.given,
        opaqueOf(target, targetTok!.col),
        target.raw,
      ),
    };
  }
  for (const p of pending) {
    const why = p.desc.ruleCheck?.(base, ctx.backend ?? 'nft');
    if (why) throw new InputError('invalid', why, posAt(ctx, p.col));
  }
  if (base.target?.kind === 'ext') {
    const d = targetDesc(base.target.ext.name);
    const why = d?.ruleCheck?.(base, ctx.backend ?? 'nft');
    if (why) throw new InputError('invalid', why, posAt(ctx, targetTok?.col ?? 1));
    if (d?.tables && !d.tables.includes(ctx.table)) {
      throw new InputError(
        'invalid',
        `target ${d.name} is only valid in the ${d.tables.join('/')} table, not ${ctx.table}`,
        posAt(ctx, targetTok?.col ?? 1),
      );
    }
  }

  // addresses last (ipv4_post_parse): one rule per source x destination
  const addrs = (spec: RuleLevel['src']) => {
    if (!spec) return [undefined];
    const r = parseAddrList(spec.text);
    if (!r.ok) throw new InputError('syntax', r.error, posAt(ctx, spec.col));
    return r.value;
  };
  const srcs = addrs(level.src);
  const dsts = addrs(level.dst);
  // iptables-nft turns "! -s 0.0.0.0/0" into a zero-length payload compare, which nf_tables refuses (measured)
  for (const [spec, list] of [
    [level.src, srcs],
    [level.dst, dsts],
  ] as const)
    if (ctx.backend !== 'legacy' && spec?.neg && list.some((a) => a?.mask === 0))
      throw new InputError(
        'invalid',
        'iptables-nft: a negated 0.0.0.0/0 is refused by nf_tables (EINVAL)',
        posAt(ctx, spec.col),
      );
  if ((srcs.length > 1 || dsts.length > 1) && (level.src?.neg || level.dst?.neg))
    throw new InputError(
      'invalid',
      '! not allowed with multiple source or destination IP addresses',
      posAt(ctx, (level.src?.neg ? level.src : level.dst)!.col),
    );
  const out: Rule[] = [];
  for (const s of srcs)
    for (const d of dsts) {
      const r: Rule = { ...base, matches: base.matches };
      // iptables-save omits "-s 0.0.0.0/0" unless negated
      if (s && !(s.mask === 0 && s.addr === 0 && !level.src!.neg)) r.src = { neg: level.src!.neg, value: toCidr(s) };
      if (d && !(d.mask === 0 && d.addr === 0 && !level.dst!.neg)) r.dst = { neg: level.dst!.neg, value: toCidr(d) };
      out.push(r);
    }
  return out;
}

/** A word that starts an option (or negates one): it ends an unknown option's arguments. */
function isOptionWord(w: string): boolean {
  return w === '!' || (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w));
}

function sameGroup(d: ExtensionDesc, a: string, b: string): boolean {
  const ga = d.options.find((o) => o.name === a)?.group;
  return ga !== undefined && ga === d.options.find((o) => o.name === b)?.group;
}

function unknownOption(t: Token, pending: PendingExt[], target: PendingExt | undefined, ctx: RuleContext): InputError {
  const pos = posAt(ctx, t.col);
  const word = t.text.split('=')[0]!;
  const known = EXTENSIONS.find((d) => findOption(d, word));
  if (known)
    return new InputError(
      'syntax',
      `unknown option "${word}": it belongs to ${known.type} "${known.name}", which is not` +
        ` loaded here (add -m ${known.name}${known.implicitFor ? ` or -p ${known.name}` : ''})`,
      pos,
    );
  const loaded = [...pending.map((p) => p.desc.name), ...(target ? [target.desc.name] : [])];
  return new InputError(
    'syntax',
    `unknown option "${word}"${loaded.length ? ` (loaded: ${loaded.join(', ')})` : ''}`,
    pos,
  );
}

function parseTargetName(name: string, isGoto: boolean, ctx: RuleContext, pos: SourcePos): Target {
  if (name === 'ACCEPT' || name === 'DROP' || name === 'RETURN') {
    if (isGoto) throw new InputError('invalid', `cannot goto ${name}`, pos);
    return { kind: 'verdict', verdict: name };
  }
  if (targetDesc(name)) {
    if (isGoto) throw new InputError('invalid', `cannot goto target ${name}`, pos);
    return { kind: 'ext', ext: { name, opts: [] } };
  }
  // a target the model does not evaluate: kept (opaque), evaluated as unknown (spec/semantics.md §10)
  const opaque = (): Target => {
    if (isGoto) throw new InputError('invalid', `cannot goto target ${name}`, pos);
    return { kind: 'ext', ext: { name, opts: [] } };
  };
  if (KNOWN_UNMODELLED_TARGETS.has(name) && !ctx.hasChain(name)) return opaque();
  if (isBuiltinChain(ctx.table, name)) throw new InputError('invalid', `cannot jump to built-in chain ${name}`, pos);
  if (!ctx.hasChain(name)) {
    // an extension's name as iptables spells targets (upper case): a target of a module the model lacks
    if (/^[A-Z][A-Z0-9_]*$/.test(name) && name.length <= 12 && !name.includes('-')) return opaque();
    throw new InputError('invalid', `Chain '${name}' does not exist`, pos);
  }
  return isGoto ? { kind: 'goto', chain: name } : { kind: 'jump', chain: name };
}

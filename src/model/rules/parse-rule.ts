// Parses a rule specification (everything after "-A CHAIN") into a Rule, driven
// by the descriptor table (spec/iptables.md §2).
import { InputError, type SourcePos } from '../errors.ts';
import { parseCidr } from '../ip.ts';
import type { Token } from './tokenize.ts';
import {
  type Rule,
  type ExtInstance,
  type OptInstance,
  type Target,
  type TableName,
  PROTO_NAMES,
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
} from './descriptors.ts';
import { KINDS, type Kind, type OptValue } from './kinds.ts';

/** Targets and matches that exist in iptables but are not modelled: reported as unsupported. */
const KNOWN_UNMODELLED_TARGETS = new Set([
  'QUEUE',
  'NFQUEUE',
  'TPROXY',
  'TEE',
  'CLASSIFY',
  'DSCP',
  'TOS',
  'TTL',
  'SECMARK',
  'CONNSECMARK',
  'AUDIT',
  'CHECKSUM',
  'NETMAP',
  'CLUSTERIP',
  'IDLETIMER',
  'LED',
  'SET',
  'SYNPROXY',
  'TCPMSS',
  'TCPOPTSTRIP',
  'HMARK',
  'RATEEST',
  'ULOG',
  'ECN',
  'DNPT',
  'SNPT',
  'HL',
  'MIRROR',
  'NETMAP',
]);

export interface RuleContext {
  file: string;
  line: number;
  table: TableName;
  chain: string;
  /** chains that exist in the table at this point */
  hasChain: (name: string) => boolean;
}

interface PendingExt {
  desc: ExtensionDesc;
  opts: OptInstance[];
  col: number;
}

function posAt(ctx: RuleContext, col: number): SourcePos {
  return { file: ctx.file, line: ctx.line, col };
}

const RULE_LEVEL: Record<string, 'src' | 'dst' | 'in' | 'out' | 'proto'> = {
  '-s': 'src',
  '--source': 'src',
  '--src': 'src',
  '-d': 'dst',
  '--destination': 'dst',
  '--dst': 'dst',
  '-i': 'in',
  '--in-interface': 'in',
  '-o': 'out',
  '--out-interface': 'out',
  '-p': 'proto',
  '--protocol': 'proto',
};

export function parseIfaceName(name: string): boolean {
  return name.length > 0 && name.length <= 15 && !/[\s/]/.test(name) && name !== '.' && name !== '..';
}

export function parseProto(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower in PROTO_NAMES) return PROTO_NAMES[lower];
  if (/^\d{1,3}$/.test(text) && Number(text) <= 255) return Number(text);
  return undefined;
}

/** Parses one option's arguments with its kind; throws a positioned error. */
function readOption(
  desc: ExtensionDesc,
  od: OptionDesc,
  neg: boolean,
  toks: readonly Token[],
  i: number,
  ctx: RuleContext,
): { inst: OptInstance; next: number } {
  const kind = KINDS[od.kind] as Kind<OptValue>;
  const start = toks[i]!;
  const args = toks.slice(i + 1, i + 1 + kind.arity);
  if (args.length < kind.arity)
    throw new InputError(
      'syntax',
      `option ${start.text} of ${desc.name} needs ${kind.arity} argument${kind.arity > 1 ? 's' : ''}`,
      posAt(ctx, start.col),
    );
  if (neg && !od.negatable)
    throw new InputError('syntax', `option ${od.name} of ${desc.name} cannot be negated`, posAt(ctx, start.col));
  const parsed = kind.parse(args.map((a) => a.text));
  if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
    throw new InputError('syntax', `${desc.name} ${od.name}: ${parsed.error}`, posAt(ctx, args[0]?.col ?? start.col));
  }
  let name = od.name;
  let value = parsed as OptValue;
  if (od.storeAs) {
    name = od.storeAs.name;
    value = od.storeAs.convert(value);
  }
  return { inst: { name, neg, value }, next: i + 1 + kind.arity };
}

/** Canonical order and filled defaults; then the extension's own checks. */
export function finishExt(
  desc: ExtensionDesc,
  opts: OptInstance[],
  proto: number | undefined,
  pos: SourcePos,
  ruleProtoNeg: boolean,
): ExtInstance {
  const order = desc.options.filter((o) => !o.storeAs).map((o) => o.name);
  const filled = [...opts];
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
  if (desc.protos && (proto === undefined || ruleProtoNeg || !desc.protos.includes(proto))) {
    throw new InputError(
      'invalid',
      `${desc.name} ${desc.type} is only valid with -p ${desc.protos.map((p) => EXT_PROTO_NAME[p] ?? p).join('|')}`,
      pos,
    );
  }
  const problem = desc.check?.(ext, ruleProtoNeg ? undefined : proto);
  if (problem) {
    if (problem.startsWith('unsupported: '))
      throw new InputError('unsupported', problem.slice('unsupported: '.length), pos);
    throw new InputError('invalid', problem, pos);
  }
  return ext;
}
const EXT_PROTO_NAME: Record<number, string> = {
  6: 'tcp',
  17: 'udp',
  1: 'icmp',
  132: 'sctp',
  33: 'dccp',
  136: 'udplite',
};

export function parseRuleSpec(toks: readonly Token[], ctx: RuleContext): Rule {
  const rule: Rule = { matches: [] };
  const pending: PendingExt[] = [];
  let target: PendingExt | undefined;
  let targetTok: Token | undefined;
  let i = 0;
  let neg = false;
  let negCol = 0;
  const seenRuleOpts = new Set<string>();

  const finishMatches = () => {
    for (const p of pending)
      rule.matches.push(finishExt(p.desc, p.opts, rule.proto?.value, posAt(ctx, p.col), rule.proto?.neg ?? false));
  };

  while (i < toks.length) {
    const t = toks[i]!;
    const pos = posAt(ctx, t.col);
    if (t.text === '!') {
      if (neg) throw new InputError('syntax', 'double negation "! !"', pos);
      neg = true;
      negCol = t.col;
      i++;
      continue;
    }
    const level = RULE_LEVEL[t.text];
    if (level) {
      const arg = toks[i + 1];
      if (!arg) throw new InputError('syntax', `option ${t.text} needs an argument`, pos);
      if (seenRuleOpts.has(level)) throw new InputError('syntax', `multiple ${t.text} flags not allowed`, pos);
      seenRuleOpts.add(level);
      const apos = posAt(ctx, arg.col);
      if (level === 'src' || level === 'dst') {
        const c = parseCidr(arg.text);
        if (!c) throw new InputError('syntax', `bad address "${arg.text}" for ${t.text}`, apos);
        // iptables-save omits "-s 0.0.0.0/0"
        if (!(c.len === 0 && !neg)) rule[level] = { neg, value: c };
      } else if (level === 'in' || level === 'out') {
        if (!parseIfaceName(arg.text)) throw new InputError('syntax', `bad interface name "${arg.text}"`, apos);
        if (isBuiltinChain(ctx.table, ctx.chain)) {
          if (level === 'out' && (ctx.chain === 'INPUT' || ctx.chain === 'PREROUTING'))
            throw new InputError('invalid', `Can't use -o with ${ctx.chain}`, pos);
          if (level === 'in' && (ctx.chain === 'OUTPUT' || ctx.chain === 'POSTROUTING'))
            throw new InputError('invalid', `Can't use -i with ${ctx.chain}`, pos);
        }
        rule[level === 'in' ? 'inIface' : 'outIface'] = { neg, value: arg.text };
      } else {
        const p = parseProto(arg.text);
        if (p === undefined) throw new InputError('syntax', `unknown protocol "${arg.text}"`, apos);
        if (!(p === 0 && !neg)) rule.proto = { neg, value: p };
      }
      neg = false;
      i += 2;
      continue;
    }
    if (t.text === '-m' || t.text === '--match') {
      if (neg) throw new InputError('syntax', '"!" cannot negate -m', posAt(ctx, negCol));
      const arg = toks[i + 1];
      if (!arg) throw new InputError('syntax', '-m needs a module name', pos);
      const d = matchDesc(arg.text);
      if (!d) throw new InputError('unsupported', `match module "${arg.text}"`, posAt(ctx, arg.col));
      pending.push({ desc: d, opts: [], col: t.col });
      i += 2;
      continue;
    }
    if (t.text === '-j' || t.text === '--jump' || t.text === '-g' || t.text === '--goto') {
      if (neg) throw new InputError('syntax', `"!" cannot negate ${t.text}`, posAt(ctx, negCol));
      if (rule.target || target) throw new InputError('syntax', 'more than one target (-j/-g)', pos);
      const arg = toks[i + 1];
      if (!arg) throw new InputError('syntax', `${t.text} needs a target`, pos);
      const apos = posAt(ctx, arg.col);
      const isGoto = t.text === '-g' || t.text === '--goto';
      rule.target = parseTargetName(arg.text, isGoto, ctx, apos);
      targetTok = arg;
      if (rule.target.kind === 'ext') target = { desc: targetDesc(arg.text)!, opts: [], col: arg.col };
      i += 2;
      continue;
    }
    if (t.text === '-f' || t.text === '--fragment') throw new InputError('unsupported', 'fragment matching (-f)', pos);
    if (t.text === '-c' || t.text === '--set-counters') {
      const [p, b] = [toks[i + 1], toks[i + 2]];
      if (!p || !b || !/^\d+$/.test(p.text) || !/^\d+$/.test(b.text))
        throw new InputError('syntax', '-c needs two numbers', pos);
      rule.counters = [Number(p.text), Number(b.text)];
      i += 3;
      continue;
    }
    if (t.text.startsWith('-')) {
      // an extension option: the target's first, then the newest match that knows it, then an implicit protocol match
      let owner: PendingExt | undefined;
      let od: OptionDesc | undefined;
      for (const cand of [...(target ? [target] : []), ...[...pending].reverse()]) {
        od = findOption(cand.desc, t.text);
        if (od) {
          owner = cand;
          break;
        }
      }
      if (!owner) {
        const implicit = implicitMatchFor(rule.proto && !rule.proto.neg ? rule.proto.value : undefined);
        od = implicit ? findOption(implicit, t.text) : undefined;
        if (implicit && od && !pending.some((p) => p.desc === implicit)) {
          owner = { desc: implicit, opts: [], col: t.col };
          pending.push(owner);
        }
      }
      if (!owner || !od) throw unknownOption(t, pending, target, ctx);
      const { inst, next } = readOption(owner.desc, od, neg, toks, i, ctx);
      const clash = owner.opts.find((o) => o.name === inst.name || sameGroup(owner.desc, o.name, inst.name));
      if (clash)
        throw new InputError('syntax', `${owner.desc.name}: ${t.text} conflicts with ${clash.name} given before`, pos);
      owner.opts.push(inst);
      neg = false;
      i = next;
      continue;
    }
    throw new InputError('syntax', `unexpected "${t.text}"`, pos);
  }
  if (neg) throw new InputError('syntax', '"!" at end of rule', posAt(ctx, negCol));
  finishMatches();
  if (target && rule.target?.kind === 'ext') {
    rule.target = {
      kind: 'ext',
      ext: finishExt(target.desc, target.opts, rule.proto?.value, posAt(ctx, targetTok!.col), rule.proto?.neg ?? false),
    };
  }
  if (rule.target?.kind === 'verdict' && rule.target.verdict === 'DROP' && ctx.table === 'nat') {
    throw new InputError(
      'invalid',
      'The "nat" table is not intended for filtering, the use of DROP is therefore inhibited.',
      posAt(ctx, targetTok?.col ?? 1),
    );
  }
  if (rule.target?.kind === 'ext') {
    const d = targetDesc(rule.target.ext.name)!;
    if (d.tables && !d.tables.includes(ctx.table)) {
      throw new InputError(
        'invalid',
        `target ${d.name} is only valid in the ${d.tables.join('/')} table, not ${ctx.table}`,
        posAt(ctx, targetTok?.col ?? 1),
      );
    }
  }
  return rule;
}

function sameGroup(d: ExtensionDesc, a: string, b: string): boolean {
  const ga = d.options.find((o) => o.name === a)?.group;
  return ga !== undefined && ga === d.options.find((o) => o.name === b)?.group;
}

function unknownOption(t: Token, pending: PendingExt[], target: PendingExt | undefined, ctx: RuleContext): InputError {
  const pos = posAt(ctx, t.col);
  const known = EXTENSIONS.find((d) => findOption(d, t.text));
  if (known)
    return new InputError(
      'syntax',
      `option ${t.text} belongs to ${known.type} "${known.name}", which is not loaded here (add -m ${known.name}${known.implicitFor ? ` or -p ${known.name}` : ''})`,
      pos,
    );
  const loaded = [...pending.map((p) => p.desc.name), ...(target ? [target.desc.name] : [])];
  return new InputError(
    'unsupported',
    `option ${t.text}${loaded.length ? ` (not an option of ${loaded.join(', ')})` : ''}`,
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
  if (KNOWN_UNMODELLED_TARGETS.has(name)) throw new InputError('unsupported', `target ${name}`, pos);
  if (isBuiltinChain(ctx.table, name)) throw new InputError('invalid', `cannot jump to built-in chain ${name}`, pos);
  if (!ctx.hasChain(name)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(name) && name.length <= 12 && !name.includes('-')) {
      throw new InputError('unsupported', `target ${name} (or chain "${name}" does not exist)`, pos);
    }
    throw new InputError('invalid', `Chain '${name}' does not exist`, pos);
  }
  return isGoto ? { kind: 'goto', chain: name } : { kind: 'jump', chain: name };
}

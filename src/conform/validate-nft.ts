// An nft dump (kube-proxy's nftables mode, `nft list ruleset` or `nft -f` input) as `validate` reads it:
// what the model does not support is left out item by item (a rule, a set property) and listed, with the
// chain or set it was in, so that the Service owning that object is judged unsupported (spec/kube.md §6).
import {
  isInputError,
  parseNft,
  parseNftJson,
  printNft,
  isNftJson,
  lexNft as lex,
  type InputError,
  type NftRuleset,
} from '../model/index.ts';

export interface NftDump {
  ruleset: NftRuleset;
  unsupported: { line: number; text: string; reason: string }[];
  /** the chain, set or map a line is in (undefined: outside any, or its header line) */
  blockOf: (line: number) => string | undefined;
  /** what the kernel loads: the text as given, or for JSON the model's listing of it */
  kernelText: string;
}

/** For each line, the innermost named block (chain, set, map) its first token is in. */
function blocks(text: string, file: string): Map<number, string> {
  const out = new Map<number, string>();
  const stack: (string | undefined)[] = [];
  const toks = lex(text, file);
  toks.forEach((t, i) => {
    if (!out.has(t.line)) {
      const named = stack.findLast((x) => x !== undefined);
      if (named !== undefined) out.set(t.line, named);
    }
    if (t.kind === 'punct' && t.text === '{') {
      const kw = toks[i - 2];
      const name = toks[i - 1];
      const isNamed = kw?.kind === 'word' && ['chain', 'set', 'map'].includes(kw.text) && name?.kind === 'word';
      stack.push(isNamed ? name.text : undefined);
    } else if (t.kind === 'punct' && t.text === '}') stack.pop();
  });
  return out;
}

const balanced = (line: string) => (line.match(/\{/g) ?? []).length === (line.match(/\}/g) ?? []).length;

export function readNftDump(text: string, file: string): NftDump {
  if (isNftJson(text)) {
    const ruleset = parseNftJson(text, file);
    return { ruleset, unsupported: [], blockOf: () => undefined, kernelText: printNft(ruleset) };
  }
  const lines = text.split('\n');
  const inBlock = blocks(text, file);
  const unsupported: NftDump['unsupported'] = [];
  for (;;) {
    try {
      const ruleset = parseNft(lines.join('\n'), { file });
      unsupported.sort((a, b) => a.line - b.line);
      return { ruleset, unsupported, blockOf: (l) => inBlock.get(l), kernelText: text };
    } catch (e) {
      // only a whole item inside a chain or set block can be left out; anything else stays an error
      const line = isInputError(e) && e.kind === 'unsupported' ? e.pos?.line : undefined;
      if (line === undefined || !inBlock.has(line) || !balanced(lines[line - 1] ?? '')) throw e;
      if (unsupported.some((u) => u.line === line)) throw new Error(`internal: leaving out line ${line} did not help`);
      unsupported.push({ line, text: lines[line - 1]!.trim(), reason: `${(e as InputError).reason} (left out)` });
      lines[line - 1] = '';
    }
  }
}

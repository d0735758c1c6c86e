// Splits nft text into tokens the way nft's scanner does (nftables src/scanner.l): words may hold
// letters, digits and / - _ . (so "filter-5" is one word), quoted strings, punctuation, and newlines,
// which end a command. "#" starts a comment; "\" before a newline continues the line (spec/nft.md §2).
import { InputError, type SourcePos } from '../errors.ts';

export type TokKind = 'word' | 'string' | 'punct' | 'nl' | 'eof';

export interface Tok {
  kind: TokKind;
  text: string;
  line: number;
  col: number;
}

const PUNCT = [
  '!=',
  '==',
  '+',
  '{',
  '}',
  ';',
  ',',
  ':',
  '@',
  '&',
  '|',
  '^',
  '=',
  '!',
  '<',
  '>',
  '(',
  ')',
  '*',
  '$',
  '[',
  ']',
];
const WORD_START = /[A-Za-z0-9_.\-/]/;
const WORD_CHAR = /[A-Za-z0-9_.\-/]/;
const IPV6 = /^(?:[0-9a-fA-F]{0,4}:){2,7}(?:\d+\.\d+\.\d+\.\d+|[0-9a-fA-F]{1,4})?(?:\/\d{1,3})?/;

export function lex(text: string, file: string): Tok[] {
  const out: Tok[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const pos = (at: number): SourcePos => ({ file, line, col: at - lineStart + 1 });
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      out.push({ kind: 'nl', text: '\n', line, col: i - lineStart + 1 });
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      line++;
      lineStart = i;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '"') {
      const start = i;
      i++;
      let s = '';
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') {
        if (text[i] === '\\') throw new InputError('syntax', 'escapes are not allowed in quoted strings', pos(i));
        s += text[i];
        i++;
      }
      if (text[i] !== '"') throw new InputError('syntax', 'unterminated quoted string', pos(start));
      i++;
      out.push({ kind: 'string', text: s, line, col: start - lineStart + 1 });
      continue;
    }
    // an IPv6 address or prefix is one word, as nft's scanner reads it (ip6addr in src/scanner.l): "::/96",
    // "fe80::/64", "::ffff:0.0.0.0/96"; "1.2.3.4:80" (one colon) stays an address, ":" and a port
    const v6 = IPV6.exec(text.slice(i, i + 64));
    if (
      v6 &&
      (v6[0].includes('::') || v6[0].split(':').length === 8) &&
      !WORD_CHAR.test(text[i + v6[0].length] ?? ' ')
    ) {
      out.push({ kind: 'word', text: v6[0], line, col: i - lineStart + 1 });
      i += v6[0].length;
      continue;
    }
    // "-" alone (a negative priority offset "- 5") is punctuation; "-5" or "1-2" are words
    if (WORD_START.test(c) && !(c === '-' && text[i + 1] === ' ')) {
      const start = i;
      while (i < text.length && WORD_CHAR.test(text[i]!)) i++;
      out.push({ kind: 'word', text: text.slice(start, i), line, col: start - lineStart + 1 });
      continue;
    }
    if (c === '-') {
      out.push({ kind: 'punct', text: '-', line, col: i - lineStart + 1 });
      i++;
      continue;
    }
    const p = PUNCT.find((x) => text.startsWith(x, i));
    if (!p) throw new InputError('syntax', `unexpected character "${c}"`, pos(i));
    out.push({ kind: 'punct', text: p, line, col: i - lineStart + 1 });
    i += p.length;
  }
  out.push({ kind: 'eof', text: '', line, col: i - lineStart + 1 });
  return out;
}

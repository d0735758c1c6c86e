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

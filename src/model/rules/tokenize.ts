// Splits one line into words the way iptables-restore and a shell do for rule text:
// double and single quotes group, backslash escapes a quote. Columns are kept for errors.
import { InputError } from '../errors.ts';

export interface Token {
  text: string;
  col: number;
}

export function tokenize(line: string, file: string, lineNo: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= line.length) break;
    const col = i + 1;
    let text = '';
    let quoted = false;
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') {
      const c = line[i]!;
      if (c === '"' || c === "'") {
        quoted = true;
        const q = c;
        i++;
        while (i < line.length && line[i] !== q) {
          if (line[i] === '\\' && q === '"' && i + 1 < line.length && '"\\\''.includes(line[i + 1]!)) i++;
          text += line[i];
          i++;
        }
        if (i >= line.length)
          throw new InputError('syntax', `unterminated ${q === '"' ? 'double' : 'single'} quote`, {
            file,
            line: lineNo,
            col,
          });
        i++;
      } else if (c === '\\' && i + 1 < line.length) {
        text += line[i + 1];
        i += 2;
      } else {
        text += c;
        i++;
      }
    }
    if (text.length > 0 || quoted) out.push({ text, col });
  }
  return out;
}

/** An iptables-restore line split as iptables does it (xshared.c add_param_to_argv): only double quotes group,
 * a backslash escapes only inside them, single quotes are ordinary characters, and a closing quote ends the word. */
export function tokenizeRestore(line: string): Token[] {
  const out: Token[] = [];
  let quoteOpen = false;
  let escaped = false;
  let quoted = false;
  let text = '';
  let col = 0;
  const emit = () => {
    out.push({ text, col });
    text = '';
    quoted = false;
    col = 0;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoteOpen) {
      if (escaped) {
        text += c;
        escaped = false;
        continue;
      }
      if (c === '\\') {
        escaped = true;
        continue;
      }
      if (c !== '"') {
        text += c;
        continue;
      }
      quoteOpen = false;
      emit();
      continue;
    }
    if (c === '"') {
      quoteOpen = true;
      quoted = true;
      if (col === 0) col = i + 1;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n') {
      if (text.length > 0 || quoted) emit();
      continue;
    }
    if (col === 0) col = i + 1;
    text += c;
  }
  if (text.length > 0) emit();
  return out;
}

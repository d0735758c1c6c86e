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

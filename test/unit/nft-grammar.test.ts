// nft's grammar wants a newline or ";" after an item of a block before the block's "}" (measured with nft
// 1.0.6: each refused text below is a syntax error there, each accepted one loads).
import { test, expect } from 'vitest';
import { parseNft } from '../../src/model/nft/index.ts';

const ok = (t: string) => {
  try {
    parseNft(t);
    return 'ok';
  } catch (e) {
    return (e as Error).message;
  }
};

test('a block item needs a newline or ";" before "}", except elements = { }', () => {
  for (const bad of [
    'table ip t { chain c { type filter hook input priority 0; policy accept }\n}\n',
    'table ip t { chain c { type filter hook input priority 0 }\n}\n',
    'table ip t { set s { type ipv4_addr; } }\n',
    'table ip t { chain c { comment "x" }\n}\n',
    'table ip t { chain c { } }\n',
    'table ip t { comment "x" }\n',
    'table ip t { chain c { counter\n} }\n',
    'add table ip t\nadd chain ip t c { type filter hook input priority 0; policy accept }\n',
  ])
    expect(ok(bad), bad).toMatch(/expecting newline or semicolon/);
  for (const good of [
    'table ip t { chain c { }\n}\n',
    'table ip t { map m { type ipv4_addr : verdict; elements = { 1.1.1.1 : drop } }\n}\n',
    'table ip t { chain c { counter; }\n}\n',
    'table ip t { chain c { counter\n}; }\n',
  ])
    expect(ok(good), good).toBe('ok');
});

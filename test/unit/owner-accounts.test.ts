// -m owner names resolve through the account database the parse is given (getpwnam/getgrnam on the machine
// iptables runs on): lint and the parser-agreement measure give this machine's, the rest Debian's base-passwd.
import { test, expect } from 'vitest';
import { parseSave } from '../../src/model/rules/restore.ts';
import { printRuleSpec } from '../../src/model/rules/print.ts';
import { accountsFrom, type Accounts } from '../../src/model/rules/accounts.ts';

function lint(spec: string, accounts?: Accounts): string {
  try {
    const rs = parseSave(`*filter\n-A OUTPUT ${spec}\nCOMMIT\n`, { file: 'r', ...(accounts ? { accounts } : {}) });
    return printRuleSpec(rs.tables.get('filter')!.chains.get('OUTPUT')!.rules[0]!);
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  }
}

const machine = accountsFrom(
  'root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n# a comment\n',
  'root:x:0:\ndocker:x:105:\njava:x:1001:app\njava:x:1002:\n',
);

test("names resolve through the machine's accounts, numbers as ever", () => {
  expect(lint('-m owner --gid-owner java -j ACCEPT', machine)).toBe('-m owner --gid-owner 1001 -j ACCEPT');
  expect(lint('-m owner --uid-owner _apt --gid-owner docker', machine)).toBe('-m owner --uid-owner 42 --gid-owner 105');
  expect(lint('-m owner --uid-owner 5-7', machine)).toBe('-m owner --uid-owner 5-7');
});

test('a name the machine does not have is refused, as iptables refuses it ("owner: Bad value")', () => {
  expect(lint('-m owner --gid-owner java -j ACCEPT')).toMatch(/refused: .*Bad value "java".*group of this machine/);
  expect(lint('-m owner --uid-owner docker', machine)).toMatch(/refused: .*Bad value "docker"/);
  // without a database: Debian's base-passwd accounts
  expect(lint('-m owner --uid-owner nobody --gid-owner nogroup')).toBe('-m owner --uid-owner 65534 --gid-owner 65534');
});

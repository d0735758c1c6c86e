// The user and group names of this machine, as libxt_owner resolves them (getpwnam/getgrnam): lint and the
// parser-agreement measure read `-m owner` names through them, so that a name iptables refuses here ("owner:
// Bad value") is refused by lint too, and one it takes resolves to the same id (spec/modules.md).
import { readFileSync } from 'node:fs';
import { accountsFrom, BASE_ACCOUNTS, type Accounts } from '../model/index.ts';

let cached: Accounts | undefined;

/** /etc/passwd and /etc/group (NSS's files source); Debian's base-passwd accounts when they cannot be read */
export function systemAccounts(): Accounts {
  if (cached) return cached;
  try {
    cached = accountsFrom(readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'));
  } catch {
    cached = BASE_ACCOUNTS;
  }
  return cached;
}

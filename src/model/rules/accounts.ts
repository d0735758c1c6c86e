// User and group names, as libxt_owner resolves them (getpwnam/getgrnam on the machine iptables runs on):
// the account database is an input of the parser. Without one (the browser, tests), Debian's base-passwd
// accounts are used: their ids are the same on every Debian machine.

export interface Accounts {
  users: ReadonlyMap<string, number>;
  groups: ReadonlyMap<string, number>;
}

/** Debian's base-passwd: the static accounts (ids below 100, and nobody/nogroup) */
export const BASE_ACCOUNTS: Accounts = {
  users: new Map(
    Object.entries({
      root: 0,
      daemon: 1,
      bin: 2,
      sys: 3,
      sync: 4,
      games: 5,
      man: 6,
      lp: 7,
      mail: 8,
      news: 9,
      uucp: 10,
      proxy: 13,
      'www-data': 33,
      backup: 34,
      list: 38,
      irc: 39,
      nobody: 65534,
    }),
  ),
  groups: new Map(
    Object.entries({
      root: 0,
      daemon: 1,
      bin: 2,
      sys: 3,
      adm: 4,
      tty: 5,
      disk: 6,
      lp: 7,
      mail: 8,
      news: 9,
      uucp: 10,
      man: 12,
      proxy: 13,
      kmem: 15,
      dialout: 20,
      fax: 21,
      voice: 22,
      cdrom: 24,
      floppy: 25,
      tape: 26,
      sudo: 27,
      audio: 29,
      dip: 30,
      'www-data': 33,
      backup: 34,
      operator: 37,
      list: 38,
      irc: 39,
      src: 40,
      shadow: 42,
      utmp: 43,
      video: 44,
      sasl: 45,
      plugdev: 46,
      staff: 50,
      games: 60,
      users: 100,
      nogroup: 65534,
    }),
  ),
};

/** name -> id from /etc/passwd or /etc/group text ("name:x:id:..."); the first entry of a name wins, as
 *  getpwnam/getgrnam's files source reads them */
function readIds(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || f[0] === '' || f[0]!.startsWith('#') || !/^\d+$/.test(f[2]!)) continue;
    if (!out.has(f[0]!)) out.set(f[0]!, Number(f[2]));
  }
  return out;
}

/** The accounts of /etc/passwd and /etc/group texts */
export function accountsFrom(passwd: string, group: string): Accounts {
  return { users: readIds(passwd), groups: readIds(group) };
}

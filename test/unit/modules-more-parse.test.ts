// hashlimit, string, u32 and time read and printed as iptables 1.8.9 does (spec/modules.md). Every expectation
// below was measured with real iptables-restore + iptables-save, the same on both flavors, in `unshare -n`
// (null: refused, by iptables or by the kernel); the kernel project's parser property re-checks them.
import { test, expect } from 'vitest';
import { parseSave } from '../../src/model/rules/restore.ts';
import { printRuleSpec } from '../../src/model/rules/print.ts';
import { InputError } from '../../src/model/errors.ts';
import type { IptablesFlavor } from '../../src/model/rules/types.ts';

function lint(spec: string, backend: IptablesFlavor): string | null {
  try {
    const rs = parseSave(`*filter\n:INPUT ACCEPT [0:0]\n-A INPUT ${spec}\nCOMMIT\n`, { file: 'r', backend });
    const r = rs.tables.get('filter')!.chains.get('INPUT')!.rules;
    return r.map(printRuleSpec).join(' | ');
  } catch (e) {
    if (e instanceof InputError) return null;
    throw e;
  }
}

// [input after "-A INPUT", what iptables-save prints after "-A INPUT" (null: refused)]
const MEASURED: readonly (readonly [string, string | null])[] = [
  [
    '-m hashlimit --hashlimit-upto 1000/sec --hashlimit-burst 5 --hashlimit-name lb2',
    '-m hashlimit --hashlimit-upto 1000/sec --hashlimit-burst 5 --hashlimit-name lb2',
  ],
  [
    '-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 10 --hashlimit-mode srcip --hashlimit-name lograte',
    '-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 10 --hashlimit-mode srcip --hashlimit-name lograte',
  ],
  [
    '-m hashlimit --hashlimit 60/min --hashlimit-name a',
    '-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name a --hashlimit-htable-expire 60000',
  ],
  [
    '-m hashlimit ! --hashlimit-upto 5/s --hashlimit-name a',
    '-m hashlimit --hashlimit-above 5/sec --hashlimit-burst 5 --hashlimit-name a',
  ],
  [
    '-m hashlimit --hashlimit-above 5/h --hashlimit-name a --hashlimit-mode dstport,srcip|dstip',
    '-m hashlimit --hashlimit-above 5/hour --hashlimit-burst 5 --hashlimit-mode srcip,dstip,dstport --hashlimit-name a',
  ],
  [
    '-m hashlimit ! --hashlimit-above 5/d --hashlimit-name a --hashlimit-srcmask 24 --hashlimit-dstmask 32',
    '-m hashlimit --hashlimit-upto 5/day --hashlimit-burst 5 --hashlimit-name a --hashlimit-srcmask 24',
  ],
  [
    '-m hashlimit --hashlimit-upto 5 --hashlimit-name a --hashlimit-htable-expire 1000 ' +
      '--hashlimit-htable-gcinterval 1000 --hashlimit-htable-size 0 --hashlimit-htable-max 7',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name a --hashlimit-htable-max 7',
  ],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-burst 0', null],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-burst 10001',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 10001 --hashlimit-name a',
  ],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-burst 1000000',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 1000000 --hashlimit-name a',
  ],
  ['-m hashlimit --hashlimit-upto 1/day --hashlimit-name a --hashlimit-burst 1000000', null],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a/b', null],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name abcdefghijklmnopqrstuvwxyz',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name abcdefghijklmnopqrstuvwxyz',
  ],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-name .', null],
  ['-m hashlimit --hashlimit-upto 5/sec', null],
  ['-m hashlimit --hashlimit-upto 5kb/s --hashlimit-name a', '-m hashlimit --hashlimit-upto 5kb/s --hashlimit-name a'],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-mode ""',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name a',
  ],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-htable-expire 0', null],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-srcmask 33', null],
  [
    '-m hashlimit --hashlimit-upto 1000000/sec --hashlimit-name a',
    '-m hashlimit --hashlimit-upto 1000000/sec --hashlimit-burst 5 --hashlimit-name a',
  ],
  ['-m hashlimit --hashlimit-upto 1000001/sec --hashlimit-name a', null],
  [
    '-m hashlimit --hashlimit-upto 7/min --hashlimit-name a',
    '-m hashlimit --hashlimit-upto 7/min --hashlimit-burst 5 --hashlimit-name a',
  ],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-upto 6/sec --hashlimit-name a', null],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-burst 5k',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5120 --hashlimit-name a',
  ],
  ['-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-mode srcip --hashlimit-mode dstip', null],
  ['-m string --string abc --algo bm', '-m string --string "abc" --algo bm'],
  ['-m string --algo kmp --string "a b" --from 10 --to 100', '-m string --string "a b" --algo kmp --from 10 --to 100'],
  ['-m string ! --string abc --algo bm --icase', '-m string ! --string "abc" --algo bm --icase'],
  ['-m string --hex-string "|41 42|c" --algo bm', '-m string --string "ABc" --algo bm'],
  ['-m string --string "a|b" --algo bm', '-m string --string "a|b" --algo bm'],
  ['-m string --string abc', null],
  ['-m string --string abc --algo foo', null],
  ['-m string --algo bm --from 0 --to 65535', null],
  ['-m string --algo bm --string abc --to 65536', null],
  ['-m string --algo bm --string "\\x41"', '-m string --string "x41" --algo bm'],
  ['-m string --algo bm --hex-string "|00|"', '-m string --hex-string "|00|" --algo bm'],
  ['-m string --algo bm --string ""', null],
  ['-m string --algo bm --string abc --from 20 --to 10', null],
  ['-m string --algo bm --string abc --string def', null],
  ['-m string --algo bm --hex-string "|4142|"', '-m string --string "AB" --algo bm'],
  ['-m string --algo bm --string "é"', '-m string --hex-string "|c3a9|" --algo bm'],
  ['-m u32 --u32 "0>>22&0x3C@0>>16=80"', '-m u32 --u32 "0x0>>0x16&0x3c@0x0>>0x10=0x50"'],
  [
    '-m u32 --u32 "6&0xFF=6 && 0>>22&0x3C@12>>26&0x3C@0=0x47455420"',
    '-m u32 --u32 "0x6&0xff=0x6&&0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x47455420"',
  ],
  ['-m u32 ! --u32 "0=0x45000000:0x4500FFFF"', '-m u32 ! --u32 "0x0=0x45000000:0x4500ffff"'],
  ['-m u32 --u32 "12=0x0a000001 || 16=0x0a000002"', null],
  ['-m u32 --u32 "0 = 5"', '-m u32 --u32 "0x0=0x5"'],
  ['-m u32 --u32 "0&0xF0000000=0x40000000"', '-m u32 --u32 "0x0&0xf0000000=0x40000000"'],
  ['-m u32 --u32 "0>>24=0x45"', '-m u32 --u32 "0x0>>0x18=0x45"'],
  ['-m u32 --u32 "0<<8=0"', '-m u32 --u32 "0x0<<0x8=0x0"'],
  ['-m u32 --u32 "0=1,2,3:5"', '-m u32 --u32 "0x0=0x1,0x2,0x3:0x5"'],
  ['-m u32 --u32 "0=1&&4=2&&8=3&&12=4&&16=5&&20=6&&24=7&&28=8&&32=9&&36=10&&40=11"', null],
  [
    '-m u32 --u32 "0=1&&4=2&&8=3&&12=4&&16=5&&20=6&&24=7&&28=8&&32=9&&36=10"',
    '-m u32 --u32 "0x0=0x1&&0x4=0x2&&0x8=0x3&&0xc=0x4&&0x10=0x5&&0x14=0x6&&0x18=0x7&&0x1c=0x8&&0x20=0x9&&0x24=0xa"',
  ],
  ['-m u32 --u32 "0=0x10"', '-m u32 --u32 "0x0=0x10"'],
  ['-m u32 --u32 "0=010"', '-m u32 --u32 "0x0=0x8"'],
  ['-m u32 --u32 "0=5:3"', '-m u32 --u32 "0x0=0x5:0x3"'],
  ['-m u32 --u32 "0x10=1"', '-m u32 --u32 "0x10=0x1"'],
  ['-m u32 --u32 "0>>22&0x3C@4>>16&0xff@0=1"', '-m u32 --u32 "0x0>>0x16&0x3c@0x4>>0x10&0xff@0x0=0x1"'],
  [
    '-m time --timestart 08:00 --timestop 17:00',
    '-m time --timestart 08:00:00 --timestop 17:00:00 --datestop 2038-01-19T03:14:07',
  ],
  [
    '-m time --timestart 8:00:30 --timestop 17:00 --weekdays Mon,Tue --utc',
    '-m time --timestart 08:00:30 --timestop 17:00:00 --weekdays Mon,Tue --datestop 2038-01-19T03:14:07',
  ],
  ['-m time --weekdays 1,2,7 --kerneltz', '-m time --weekdays Mon,Tue,Sun --datestop 2038-01-19T03:14:07 --kerneltz'],
  ['-m time --monthdays 1,15,31 --contiguous', null],
  [
    '-m time --datestart 2020-01-01 --datestop 2030-12-31T23:59:59',
    '-m time --datestart 2020-01-01T00:00:00 --datestop 2030-12-31T23:59:59',
  ],
  ['-m time', '-m time --datestop 2038-01-19T03:14:07'],
  ['-m time ! --weekdays Sat,Sun', '-m time --weekdays Mon,Tue,Wed,Thu,Fri --datestop 2038-01-19T03:14:07'],
  // no day at all: an empty list, as iptables-save prints it on both flavors (and iptables-restore then refuses)
  ['-m time ! --weekdays Mon,Tue,Wed,Thu,Fri,Sat,Sun', '-m time --weekdays  --datestop 2038-01-19T03:14:07'],
  // libxt_time's time_print_date skips a date of 0: the --datestop is kept (nothing matches) but not saved (1.8.9)
  ['-m time --datestop 1970-01-01T00:00:00', '-m time'],
  ['-m time --datestart 1970 --datestop 1970', '-m time'],
  [
    '-m time --timestart 22:00 --timestop 06:00',
    '-m time --timestart 22:00:00 --timestop 06:00:00 --datestop 2038-01-19T03:14:07',
  ],
  [
    '-m time --timestart 22:00 --timestop 06:00 --contiguous',
    '-m time --timestart 22:00:00 --timestop 06:00:00 --datestop 2038-01-19T03:14:07 --contiguous',
  ],
  ['-m time --datestart 2020', '-m time --datestart 2020-01-01T00:00:00 --datestop 2038-01-19T03:14:07'],
  ['-m time --weekdays Mo', '-m time --weekdays Mon --datestop 2038-01-19T03:14:07'],
  ['-m time --monthdays 32', null],
  ['-m time --timestart 24:00', null],
  ['-m time --localtz', '-m time --datestop 2038-01-19T03:14:07 --kerneltz'],
  ['-m time --weekdays Sun,Mon,Tue,Wed,Thu,Fri,Sat', '-m time --datestop 2038-01-19T03:14:07'],
  [
    '-m time --monthdays 1 ! --weekdays Mon',
    '-m time --monthdays 1 --weekdays Tue,Wed,Thu,Fri,Sat,Sun --datestop 2038-01-19T03:14:07',
  ],
  [
    '-m time ! --monthdays 1',
    '-m time --monthdays 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31' +
      ' --datestop 2038-01-19T03:14:07',
  ],
  ['-m time --datestart 2038-01-20', '-m time --datestart 2038-01-20T00:00:00 --datestop 2038-01-19T03:14:07'],
  ['-m time --timestart 08:00', '-m time --timestart 08:00:00 --timestop 23:59:59 --datestop 2038-01-19T03:14:07'],
  ['-m time --timestop 23:59:59', '-m time --datestop 2038-01-19T03:14:07'],
  ['-m time --weekdays mon', null],
  ['-m time --weekdays Monday', '-m time --weekdays Mon --datestop 2038-01-19T03:14:07'],
  ['-m time --datestart 1969-12-31', null],
  ['-m time --datestop 2039-01-01', null],
  ['-m time ! --timestart 08:00', null],
  ['-m time --utc --kerneltz', null],
  ['-m time --kerneltz --utc', null],
  ['-m time --weekdays 0', null],
  ['-m time --datestart 2020-02-30', '-m time --datestart 2020-03-01T00:00:00 --datestop 2038-01-19T03:14:07'],
  ['-m time --datestart 2020-1-5T3', '-m time --datestart 2020-01-05T03:00:00 --datestop 2038-01-19T03:14:07'],
  ['-m time --timestart 8:5', '-m time --timestart 08:05:00 --timestop 23:59:59 --datestop 2038-01-19T03:14:07'],
  ['-m string --algo fsm --string abc --from 70000', null],
  // fsm patterns are token arrays (lib/ts_fsm.c fsm_init): text is refused, well-formed tokens load
  ['-m string --algo fsm --string abcd', null],
  ['-m string --algo fsm --hex-string "|00000041|"', '-m string --hex-string "|00000041|" --algo fsm'],
  ['-m string --algo fsm --hex-string "|00000041|" --icase', null],
  ['-m string --algo fsm --hex-string "|0d000041|"', '-m string --hex-string "|0d000041|" --algo fsm'],
  ['-m string --algo fsm --hex-string "|0e000041|"', null],
  ['-m string --algo fsm --hex-string "|00000441 00000042|"', '-m string --hex-string "|0000044100000042|" --algo fsm'],
  ['-m string --algo fsm --hex-string "|00000441|"', null],
  ['-m string --algo fsm --hex-string "|00000041 00000442|"', null],
  ['-m string --algo fsm --hex-string "|00000541|"', null],
  ['-m string --algo fsm --hex-string "|00010041|"', null],
  ['-m string --algo fsm --hex-string "|000000|"', null],
  ['-m string --algo bm --string abc --to 0', '-m string --string "abc" --algo bm --to 0'],
  ['-m string --algo bm --hex-string "a|5c|"', '-m string --hex-string "|615c|" --algo bm'],
  ['-m string --algo bm --string "a b\\\\"', '-m string --hex-string "|6120625c|" --algo bm'],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-htable-size 2000000',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name a --hashlimit-htable-size 1048576',
  ],
  [
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-name a --hashlimit-burst 5x',
    '-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name a',
  ],
];

test.each(MEASURED)('%s', (input, printed) => {
  for (const backend of ['nft', 'legacy'] as const) expect(lint(input, backend)).toBe(printed);
});

// `nfconform snapshot [--netns NAME] [-o FILE]`: a read-only snapshot of a live host (spec/snapshot.md).
import { readFlags, cmdline } from './args.ts';
import { writeOut } from './report.ts';
import { SNAPSHOT_USAGE } from './usage.ts';
import { hostNameProblem } from '../model/index.ts';

export async function snapshotCommand(argv: string[], write: (s: string) => void): Promise<number> {
  const { values } = readFlags(argv, {
    netns: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  // a namespace name reaches `ip netns exec` as one argument; still, refuse what is not a plain name
  if (values.netns !== undefined && hostNameProblem(values.netns))
    throw cmdline(`bad --netns ${JSON.stringify(values.netns)}: ${hostNameProblem(values.netns)}\n${SNAPSHOT_USAGE}`);
  const { takeSnapshot } = await import('../lab/snapshot.ts');
  const snap = await takeSnapshot(values.netns === undefined ? {} : { netns: values.netns });
  const text = `${JSON.stringify(snap, null, 2)}\n`;
  if (values.output) writeOut(values.output, text);
  else write(text);
  return 0;
}

// Can kernel tests run here? Otherwise they are reported as skipped, with the reason in the test name.
import { kernelSkipReason } from '../../src/lab/prereq.ts';

export const skipReason = kernelSkipReason();
export const kernelDescribe = (name: string) => (skipReason ? `${name} [skipped: ${skipReason}]` : name);

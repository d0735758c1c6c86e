// Which sides a run compares. Not the iptables flavor a ruleset is loaded with (model's `IptablesFlavor`)
// nor where a kernel lab runs (lab's `LabRuntime`): spec/equivalence.md.

/** model: the reference model only; kernel: the lab only; both: both, and every step compared. */
export type Sides = 'model' | 'kernel' | 'both';

export const SIDES: readonly Sides[] = ['model', 'kernel', 'both'];

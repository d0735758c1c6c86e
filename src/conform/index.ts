// The differential engine's public surface (nfconform/conform; README "Library"): the model against the
// kernel. A PairedLab runs each probe on both and judges the pair; runCases runs case files (suites/) as
// `nfconform run` does; validateNode checks a node's iptables-save dump against its Services.
export { PairedLab, type PairedProbe, type PairedApply } from './paired-lab.ts';
export { runCases, LabPool, type CaseReport, type RunOptions, type Mark } from './run-case.ts';
export type { Sides } from './sides.ts';
export { validateNode, type ValidateInput, type ValidationReport, type ServiceVerdict } from './validate.ts';
export { builtinImpl, commandImpl, implementationOf, type Implementation } from './impl.ts';
export { fuzz, type FuzzOptions, type FuzzResult } from './fuzz.ts';

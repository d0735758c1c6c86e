// The model's public surface: what kube, lab, conform and cli may import.
export { InputError, isInputError, type SourcePos } from './errors.ts';
export { parseRuleset, parseSave, parseCommands, detectFormat } from './rules/restore.ts';
export { printRuleset, printRuleSpec, printTable } from './rules/print.ts';
export type { Ruleset, Rule, Hook, TableName, Backend } from './rules/types.ts';
export { compileTopology, type TopologySpec, type HostSpec, type Network, type Host } from './net/topology.ts';
export { PRESETS, k8sNode } from './net/presets.ts';
export { makeLab, newWorld, cloneWorld, type ModelLab, type World } from './lab-model.ts';
export { runProbe, type Probe, type ProbeRun, type ProbeProto } from './probe.ts';
export type { Observation, Outcome, Weighted, DropPoint, ConntrackRecord } from './observation.ts';
export type { TraceEvent } from './trace.ts';

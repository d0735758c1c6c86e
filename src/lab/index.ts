// The lab's public surface (nfconform/lab): the real kernel in network namespaces, or in one Docker
// container. Needs root (or the container's capabilities); labSkipReason says why a lab cannot start here.
export {
  KernelLab,
  DEFAULT_PROBE_TIMEOUT_MS,
  type LabOptions,
  type ApplyResult,
  type KernelProbeOptions,
  type KernelObservation,
} from './kernel-lab.ts';
export { labSkipReason, kernelSkipReason, canCreateNetns } from './prereq.ts';
export { DockerLabError } from './docker-site.ts';
export { sctpSupport, sctpUnprobedWhy, type SctpSupport } from './sctp.ts';
export type { LabRuntime } from './site.ts';
export { PhaseTimes, PHASES, renderProfile, type Phase, type PhaseTime } from './profile.ts';

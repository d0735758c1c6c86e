// nfconform as a library (package.json "exports"; README "Library"). This entry loads neither fast-check,
// the lab nor Docker: the model (read, print and lint rulesets; topologies; one probe through the packet
// path, with its trace), the Kubernetes Service compiler and oracle, and case files.
//   nfconform/arbitraries  fast-check arbitraries for your own properties
//   nfconform/lab          the real-kernel lab in network namespaces (root)
//   nfconform/conform      the model against the kernel: paired labs, case runs, node validation
export * from './model/index.ts';
export { renderTrace, renderObservation, renderPlain } from './conform/render.ts';
export { readCluster, formatObjectWarning } from './kube/objects.ts';
export type { Cluster, Service, ServicePort, EndpointSlice, Endpoint, ServiceType, Protocol } from './kube/objects.ts';
export { compileNode, resolve as resolveServices, type NodeConfig, type ResolvedPort } from './kube/compile.ts';
export { predict, K8S_NODE_LAYOUT, type ClusterLayout, type OracleResult } from './kube/oracle.ts';
export { unexplainedRules, type RuleWarning } from './kube/explain-rules.ts';
export { MUTANTS, type CompilerMutant } from './kube/mutants.ts';
export { loadCase, checkCase, findCaseFiles, caseTopology, SUITES_DIR } from './conform/case-file.ts';
export type { CaseFile, Step, ProbeStep, Expectation } from './conform/case-file.ts';
export { compareObservation, judge, type FieldDiff, type Verdict } from './conform/compare.ts';

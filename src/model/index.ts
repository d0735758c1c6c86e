// The model's public surface: what kube, lab, conform and cli may import.
export { InputError, isInputError, quote, safeMessage, formatJsonPath, type SourcePos } from './errors.ts';
export {
  JsonChecker,
  loadJson,
  parseJson,
  locateJson,
  jsonPosition,
  parseFieldPath,
  type JsonPath,
  type JsonObject,
} from './json.ts';
export { limits, limitHint, LIMIT_ENV, type Limits } from './limits.ts';
export { checkTopology, checkSysctls, checkIfaceSysctls, SYSCTL_VALUES } from './net/check-topology.ts';
export { ifNameProblem, hostNameProblem } from './net/names.ts';
export {
  parseRuleset,
  parseSave,
  parseCommands,
  applyCommandLines,
  commandArgs,
  detectFormat,
  restoreOnto,
} from './rules/restore.ts';
export { printRuleset, printRuleSpec, printTable } from './rules/print.ts';
export { accountsFrom, BASE_ACCOUNTS, type Accounts } from './rules/accounts.ts';
export { opaqueRules, unsupportedProblems, type OpaqueRule } from './rules/opaque.ts';
export { UNMODELLED_TARGETS } from './rules/descriptors.ts';
export type { Ruleset, Rule, Hook, TableName, IptablesFlavor } from './rules/types.ts';
export { TABLE_HOOKS, TABLES, isBuiltinChain } from './rules/types.ts';
export { protocolName, parseProtocolName, PROTOCOLS, SERVICES } from './rules/netdb.ts';
export { nfacctNames } from './rules/objects.ts';
export { ipsetRestoreText, parseIpsets, type Ipset } from './net/ipsets.ts';
export { EXTENSIONS, type ExtensionDesc, type OptionDesc } from './rules/descriptors.ts';
export {
  KINDS,
  REJECT_TYPES,
  type Kind,
  type KindName,
  type OptValue,
  type NumRange,
  type NatRange,
} from './rules/kinds.ts';
export {
  parseIp,
  parseCidr,
  parseIfAddr,
  maskOf,
  formatIp,
  formatCidr,
  cidrContains,
  type U32,
  type Cidr,
} from './ip.ts';
export {
  compileTopology,
  ifaceConf,
  DEFAULT_SYSCTLS,
  STANDARD_SERVERS,
  type TopologySpec,
  type HostSpec,
  type RouteSpec,
  type Network,
  type Host,
  type Sysctls,
  type IfaceSysctls,
} from './net/topology.ts';
export { PRESETS, k8sNode, K8S_NODE_CLUSTER_CIDR } from './net/presets.ts';
export { K8S_NODE, topologyFacts, type TopologyFacts, type NodeFacts } from './net/preset-facts.ts';
export {
  topologyFromSnapshots,
  type HostSnapshot,
  type SnapshotTopology,
  type SnapshotRulesets,
  type FromSnapshotOptions,
} from './net/from-snapshot.ts';
export { nativeNftTables } from './net/snapshot-nft.ts';
export {
  topologyFromIpJson,
  checkIpCapture,
  isIpCapture,
  readSysctlText,
  IP_JSON_HOST,
  type IpJson,
  type IpJsonTopology,
} from './net/from-ip-json.ts';
export { rulesetWarnings, type TopologyWarning } from './net/ruleset-warnings.ts';
export { lookupRoute } from './net/routing.ts';
export { checkSnapshot, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type Snapshot, type CommandRecord } from './net/snapshot.ts';
export {
  makeLab,
  newWorld,
  cloneWorld,
  LOAD_KINDS,
  type ModelLab,
  type World,
  type LoadKind,
  type LabRules,
} from './lab-model.ts';
export { KERNEL, type Semantics } from './semantics.ts';
export { MUTATIONS, modelMutant, type Mutation, type ModelMutant } from './mutants.ts';
export { sourceFor } from './path.ts';
export { runProbe, type Probe, type ProbeRun, type ProbeProto } from './probe.ts';
export type {
  Observation,
  Outcome,
  ExactOutcome,
  Indeterminate,
  UnknownRule,
  Weighted,
  DropPoint,
  ConntrackRecord,
  ErrorReport,
} from './observation.ts';
export type { TraceEvent } from './trace.ts';
export {
  parseNft,
  parseNftCommands,
  parseNftJson,
  lintNft,
  printNft,
  detectLanguage,
  isNftJson,
  printRuleBody as printNftRuleBody,
  printElementKey as printNftElementKey,
  nftTransaction,
  followedNftOutcome,
  type NftTxOutcome,
  type NftRuleset,
  type NftTable,
  type NftRule,
  type Element as NftElement,
  type Verdict as NftVerdict,
  type Value as NftValue,
  type RuleLanguage,
} from './nft/index.ts';
export { lex as lexNft } from './nft/lex.ts';
export {
  SELECTORS as NFT_SELECTORS,
  DTYPES as NFT_DTYPES,
  NAMED_PRIORITIES as NFT_NAMED_PRIORITIES,
  CHAIN_TYPE_HOOKS as NFT_CHAIN_TYPE_HOOKS,
  LOG_LEVELS as NFT_LOG_LEVELS,
  REJECT_ICMP as NFT_REJECT_ICMP,
  REJECT_ICMPX as NFT_REJECT_ICMPX,
  type SelectorDesc as NftSelectorDesc,
  type DtypeName as NftDtypeName,
  type NftHook,
} from './nft/index.ts';
export {
  conntrackDelete,
  recentWrite,
  carryRuleState,
  restartTables,
  recentListsOf,
  pruneRecentLists,
  type ConntrackFilter,
} from './world-commands.ts';
export { ruleComment } from './eval/options.ts';

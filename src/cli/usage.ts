// Every command's usage line, apart from the commands themselves: `nfconform --help` prints them all
// without loading any command (each command throws its own line on a bad command line).

export const RUN_USAGE =
  'usage: nfconform run [SUITE...] [--tags a,b] [--sides model|kernel|both] [--runtime' +
  ' netns|docker] [--iptables nft|legacy|both] [--mode iptables|nftables [--kube-proxy-version 1.36|1.35]] [--impl' +
  ' builtin|mutant:NAME|COMMAND] [--allow-path DIR ...] [--junit FILE] [--json FILE] [--html DIR]';

export const CHECK_USAGE =
  'usage: nfconform check FILE... [--sides model|kernel|both] [--runtime netns|docker]' +
  ' [--iptables nft|legacy|both] [--mode iptables|nftables [--kube-proxy-version 1.36|1.35]] [--impl' +
  ' builtin|mutant:NAME|COMMAND] [--allow-path DIR ...] [--json] [--junit FILE] [--html DIR]';

export const FUZZ_USAGE =
  'usage: nfconform fuzz [--runs N | --time 10m] [--seed S] [--iptables nft|legacy]' +
  ' [--runtime netns|docker] [--out DIR] [--replay SEED:PATH] [--shrink-time 2m] [--timeout' +
  ' 150ms] [--services [--mode iptables|nftables [--kube-proxy-version 1.36|1.35]]] [--json FILE] [--coverage]' +
  ' [--labs N] [--profile]';

export const COMPILE_USAGE =
  'usage: nfconform compile --services FILE --node NAME [--mode iptables|nftables [--existing NODE.nft]' +
  ' [--kube-proxy-version 1.36|1.35]]' +
  ' [--node-ip IP ...] [--cluster-cidr CIDR] [--detect-local-mode' +
  ' ClusterCIDR|NodeCIDR|BridgeInterface|InterfaceNamePrefix|None] [--pod-cidr CIDR]' +
  ' [--pod-bridge-interface NAME] [--pod-interface-name-prefix PREFIX] [--masquerade-all]' +
  ' [--nodeport-address CIDR|IP|primary ...] [--localhost-nodeports] [--zone ZONE] [--nfacct]' +
  ' [--canary] [--no-random-fully] [--strict]   (kubectl get svc,endpointslices -A -o json)';

export const VALIDATE_USAGE =
  'usage: nfconform validate --services FILE (--ruleset NODE.iptables-save|NODE.nft --node-ip IP' +
  ' [--node-ip IP ...] | --snapshot FILE) [--node NAME] [--pod-cidr CIDR] [--cluster-cidr' +
  ' CIDR] [--sides model|kernel|both] [--runtime netns|docker] [--iptables nft|legacy]' +
  ' [--mode iptables|nftables] [--strict] [--json] [--junit FILE]';

export const TRACE_USAGE =
  'usage: nfconform trace (--topology k8s-node|FILE --ruleset HOST=FILE [--ruleset HOST=FILE ...]' +
  ' [--lang iptables|nft] | --snapshot FILE)\n                      --from HOST|ADDR|IFACE (tcp|udp|icmp) DST[:PORT]' +
  ' [--src IP]' +
  ' [--sport N] [--json] [--verbose] [--diagram] [--html FILE] [--kernel [--runtime netns|docker]]';

export const LINT_USAGE =
  'usage: nfconform lint FILE [--lang iptables|nft] [--iptables nft|legacy] [--noflush]' +
  ' [--strict]   (prints the canonical form, or every error as file:line:col; --strict:' +
  ' unsupported features are errors too)';

export const SNAPSHOT_USAGE =
  'usage: nfconform snapshot [--netns NAME] [-o FILE]   (reads, read-only, the rules,' +
  ' addresses, links, routes and sysctls of this host or of namespace NAME: spec/snapshot.md)';

export const DOCTOR_USAGE =
  'usage: nfconform doctor [--cleanup]   (checks root, netns and tools; --cleanup removes labs of dead runs)';

export const LAB_USAGE = `usage: nfconform lab up [--topology k8s-node|FILE] [--ruleset HOST=FILE ...]
                    lab status | lab down [RUNID] | lab exec HOST [--lab RUNID] -- CMD...`;

export const USAGE = `nfconform: property-based conformance for netfilter and Kubernetes Services

commands:
  ${RUN_USAGE}
  ${CHECK_USAGE}
  ${FUZZ_USAGE}
  ${COMPILE_USAGE}
  ${VALIDATE_USAGE}
  ${TRACE_USAGE.replace(/\n/g, '\n  ')}
  ${LINT_USAGE}
  ${SNAPSHOT_USAGE}
  ${DOCTOR_USAGE}
  ${LAB_USAGE.replace(/\n/g, '\n  ')}
`;

/** Each command's usage, for `nfconform CMD --help` and `nfconform help CMD`. */
export const COMMAND_USAGE: ReadonlyMap<string, string> = new Map([
  ['run', RUN_USAGE],
  ['check', CHECK_USAGE],
  ['fuzz', FUZZ_USAGE],
  ['compile', COMPILE_USAGE],
  ['validate', VALIDATE_USAGE],
  ['trace', TRACE_USAGE],
  ['lint', LINT_USAGE],
  ['snapshot', SNAPSHOT_USAGE],
  ['doctor', DOCTOR_USAGE],
  ['lab', LAB_USAGE],
]);

/** `--help`/`-h` before a `--` asks for the usage (after `--`, as in `lab exec H -- ls -h`, it is not ours). */
export function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

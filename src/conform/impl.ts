// Implementations under test (spec/impl-contract.md): what turns a cluster's Services
// and EndpointSlices into one node's ruleset (iptables-save, or nft in nftables mode). The built-in compiler,
// a compiler mutant, or any external command speaking the contract on stdin/stdout.
import { execa } from 'execa';
import { existsSync, statSync, accessSync, constants } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { InputError } from '../model/index.ts';
import { readCluster } from '../kube/objects.ts';
import { compileNodeIn, type ProxyMode } from '../kube/proxy-mode.ts';
import type { NftNodeState } from '../kube/compile-nft.ts';
import type { KubeProxyVersion } from '../kube/kube-proxy-version.ts';
import { MUTANTS, type CompilerMutant } from '../kube/mutants.ts';

/** What an implementation reads on stdin (spec/impl-contract.md §2). */
export interface ImplInput {
  apiVersion: 'nfconform/v1';
  node: { name: string; addresses: string[] };
  clusterCIDR: string;
  masqueradeAll: boolean;
  localhostNodePorts: boolean;
  /** false: no local-traffic detector (kube-proxy without --cluster-cidr); absent: detect by clusterCIDR */
  localTrafficDetector?: boolean;
  /** kube-proxy's --nodeport-addresses (absent: every local address) */
  nodePortAddresses?: string[];
  /** kube-proxy's mode to write: iptables-save text, or the `kube-proxy` nft table (`nft -f` text) */
  proxyMode: ProxyMode;
  /** nftables mode: the kube-proxy release whose table shape to write ("1.36", "1.35"; absent: the newest) */
  kubeProxyVersion?: KubeProxyVersion;
  /** `kubectl get svc,endpointslices -A -o json` output, as given */
  cluster: unknown;
  /** nftables mode, a resync: what the node's `kube-proxy` table holds now (its chains with their rule counts,
   *  its sets), so that what went away is deleted as kube-proxy deletes it (absent: a first sync) */
  existing?: NftNodeState;
}

export interface Implementation {
  /** for reports: "builtin", "mutant:NAME" or the command's path */
  name: string;
  /** the node's ruleset: iptables-save text, or nft text in nftables mode */
  compile(input: ImplInput, clusterText: string, file: string): Promise<string>;
}

export function builtinImpl(mutant?: CompilerMutant): Implementation {
  return {
    name: mutant ? `mutant:${mutant.name}` : 'builtin',
    compile: async (input, text, file) => {
      const read = readCluster(text, file, { strict: true });
      const cluster = mutant?.services ? mutant.services(read) : read;
      const rules = compileNodeIn(
        input.proxyMode,
        cluster,
        {
          nodeName: input.node.name,
          ...(input.localTrafficDetector === false ? {} : { clusterCIDR: input.clusterCIDR }),
          ...(input.masqueradeAll ? { masqueradeAll: true } : {}),
          ...(input.localhostNodePorts ? { localhostNodePorts: true } : {}),
          ...(input.kubeProxyVersion ? { kubeProxyVersion: input.kubeProxyVersion } : {}),
          // the CIDRs are matched against the node's addresses (kube-proxy's NodePortAddresses)
          ...(input.nodePortAddresses
            ? { nodePortAddresses: input.nodePortAddresses, nodeIPs: input.node.addresses }
            : {}),
        },
        input.existing,
      );
      const bug = input.proxyMode === 'nftables' ? mutant?.nftRules : mutant?.rules;
      return bug ? bug(rules) : rules;
    },
  };
}

const bad = (reason: string) => new InputError('invalid', reason, { file: '<command line>', line: 1, col: 1 });

/** An external command: an executable, or a .mjs/.js file run with this Node.js. Argument arrays, no shell. */
export function commandImpl(path: string): Implementation {
  const file = resolvePath(path);
  if (!existsSync(file) || !statSync(file).isFile())
    throw bad(`--impl ${path}: no such file (use "builtin", "mutant:NAME" or the path of a command)`);
  const viaNode = /\.(mjs|cjs|js)$/.test(file);
  if (!viaNode) {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      throw bad(`--impl ${path}: not executable (chmod +x it)`);
    }
  }
  return {
    name: path,
    compile: async (input) => {
      const [cmd, args] = viaNode ? [process.execPath, [file]] : [file, []];
      const r = await execa(cmd, args, { input: JSON.stringify(input), reject: false, timeout: 60_000 });
      if (r.exitCode !== 0) {
        throw new InputError(
          'invalid',
          `the implementation failed for node ${input.node.name} (exit ${r.exitCode ?? r.signal}):` +
            ` ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`,
          { file: path, line: 1, col: 1 },
        );
      }
      return String(r.stdout);
    },
  };
}

/** "builtin" (or nothing), "mutant:NAME", or a command's path. */
export function implementationOf(spec: string | undefined): Implementation {
  if (!spec || spec === 'builtin') return builtinImpl();
  if (spec.startsWith('mutant:')) {
    const m = MUTANTS.find((x) => x.name === spec.slice('mutant:'.length));
    if (!m) throw bad(`--impl ${spec}: no such mutant (known: ${MUTANTS.map((x) => x.name).join(', ')})`);
    return builtinImpl(m);
  }
  return commandImpl(spec);
}

// The rules a node runs beside kube-proxy's (spec/kube.md §6, spec/snapshot.md "nftables"): in nftables mode its
// iptables rules (a CNI's, a firewall's: iptables-nft or -legacy tables), in iptables mode its native nft tables.
// The kernel evaluates them on the same hooks, so validate evaluates them too: read here, loaded beside the dump
// on the model and the kernel, and named in the warnings (no Service explains them).
import { isInputError, type Ruleset, type NftRuleset } from '../model/index.ts';
import type { RuleWarning } from '../kube/explain-rules.ts';
import { unexplainedRules } from '../kube/explain-rules.ts';
import type { Cluster } from '../kube/objects.ts';
import { readNftDump } from './validate-nft.ts';
import { parseLeniently } from './validate-xt.ts';

export interface BesidesInput {
  text: string;
  file: string;
}

export interface Besides {
  file: string;
  /** iptables rules (beside an nft dump) */
  xt?: Ruleset;
  /** native nft tables (beside an iptables dump) */
  nft?: NftRuleset;
  /** what the kernel loads (nft: the text as given, or the model's listing of JSON) */
  kernelText: string;
  /** why every Service's verdict may hinge on these rules the model cannot read or evaluate, if so */
  unsupported?: string;
  warnings: RuleWarning[];
}

/** The other language's rules, read as validate reads a dump: unsupported items left out and named. */
export function readBesides(b: BesidesInput, nftMode: boolean, cluster: Cluster, nodeName: string): Besides {
  try {
    if (nftMode) {
      const { ruleset, unsupported } = parseLeniently(b.text, b.file);
      const left = unsupported.find((u) => u.reason.endsWith('(left out)'));
      const warnings = unexplainedRules(ruleset, cluster, nodeName).map((w) => ({
        ...w,
        why: `${w.why} (iptables, beside kube-proxy's nft table)`,
      }));
      return {
        file: b.file,
        xt: ruleset,
        kernelText: b.text,
        warnings,
        ...(left ? { unsupported: `${b.file} line ${left.line}: ${left.reason}` } : {}),
      };
    }
    const dump = readNftDump(b.text, b.file);
    const left = dump.unsupported[0];
    const warnings: RuleWarning[] = [...dump.ruleset.tables.values()].map((t) => ({
      table: `${t.family} ${t.name}`,
      chain: '',
      text: `table ${t.family} ${t.name}`,
      why: "a native nft table beside kube-proxy's iptables rules (evaluated with them)",
    }));
    return {
      file: b.file,
      nft: dump.ruleset,
      kernelText: dump.kernelText,
      warnings,
      ...(left ? { unsupported: `${b.file} line ${left.line}: ${left.reason}` } : {}),
    };
  } catch (e) {
    // outside the model's subset as a whole: not evaluated, and no Service can be judged without them
    if (!isInputError(e) || e.kind !== 'unsupported') throw e;
    return { file: b.file, kernelText: b.text, unsupported: `${b.file}: ${e.message}`, warnings: [] };
  }
}

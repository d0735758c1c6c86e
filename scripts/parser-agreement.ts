// Parser against real iptables: 10,000 generated rules per backend (spec/iptables.md §8).
// usage: tsx scripts/parser-agreement.ts [--n 10000] [--seed S] [--backend nft|legacy|both] [--show K] [--json FILE]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { measureAgreement } from '../src/conform/parser-agreement.ts';
import type { IptablesFlavor } from '../src/model/rules/types.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '20261201' },
    backend: { type: 'string', default: 'both' },
    show: { type: 'string', default: '20' },
    json: { type: 'string' },
  },
});
const backends: IptablesFlavor[] = values.backend === 'both' ? ['nft', 'legacy'] : [values.backend as IptablesFlavor];
const out: unknown[] = [];
for (const b of backends) {
  const t0 = Date.now();
  const r = await measureAgreement(b, Number(values.n), Number(values.seed));
  const pct = (100 * r.agreed) / r.checked;
  console.log(
    `iptables-${b}: ${r.agreed}/${r.checked} agree (${pct.toFixed(2)}%), ${r.accepted} accepted by both, ` +
      `${r.disagreements.length} differ, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  for (const d of r.disagreements.slice(0, Number(values.show))) {
    const where = `${d.item.table} ${d.item.builtin ?? (d.item.via ? `user<-${d.item.via}` : 'user')}`;
    console.log(`  [${d.kind}] ${where}: ${d.item.spec}`);
    console.log(`     lint:     ${d.lint.ok ? d.lint.rules.join(' | ') : `REFUSED ${d.lint.message}`}`);
    console.log(
      `     iptables: ${d.iptables.ok ? d.iptables.rules.join(' | ') : `REFUSED ${d.iptables.message.split('\n')[0]}`}`,
    );
  }
  out.push({ backend: b, checked: r.checked, agreed: r.agreed, accepted: r.accepted, disagreements: r.disagreements });
}
if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2));

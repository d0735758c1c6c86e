// Pearson's chi-square goodness-of-fit test: do observed counts fit the model's
// exact probabilities? Used for statistic rules (spec/equivalence.md §3).

/** ln Γ(x), Lanczos approximation (g = 7, n = 9). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series below a+1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
  }
  let b = x + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

export interface ChiSquare {
  statistic: number;
  dof: number;
  pValue: number;
  /** categories observed that the model gives probability 0: an outright divergence */
  impossible: string[];
}

/** Observed counts against expected probabilities (keys are categories). */
export function chiSquare(observed: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>): ChiSquare {
  const n = [...observed.values()].reduce((a, b) => a + b, 0);
  const impossible = [...observed.keys()].filter((k) => !(expected.get(k)! > 0));
  let stat = 0;
  let cats = 0;
  for (const [k, p] of expected) {
    if (p <= 0) continue;
    cats++;
    const e = n * p;
    const o = observed.get(k) ?? 0;
    stat += ((o - e) * (o - e)) / e;
  }
  const dof = Math.max(1, cats - 1);
  return { statistic: stat, dof, pValue: cats <= 1 ? 1 : gammaQ(dof / 2, stat / 2), impossible };
}

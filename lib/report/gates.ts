import type { ClassificationMetrics } from '../model/metrics';
import type { GateConfig } from '../spec/pipeline-spec';

export interface GateResult {
  passed: boolean;
  /** One line per gate, "ok" or why it failed. */
  checks: { gate: string; passed: boolean; detail: string }[];
}

/** Promotion gates: absolute floors, no regression beyond a tolerance, per-class recall floors. */
export function applyGates(gates: GateConfig, challenger: ClassificationMetrics, champion: ClassificationMetrics | null): GateResult {
  const checks: GateResult['checks'] = [];
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  checks.push({ gate: 'minAccuracy', passed: challenger.accuracy >= gates.minAccuracy, detail: `accuracy ${pct(challenger.accuracy)} vs floor ${pct(gates.minAccuracy)}` });
  checks.push({ gate: 'minMacroF1', passed: challenger.macroF1 >= gates.minMacroF1, detail: `macro-F1 ${pct(challenger.macroF1)} vs floor ${pct(gates.minMacroF1)}` });
  const weakest = challenger.perClass.filter((c) => c.support > 0).sort((a, b) => a.recall - b.recall)[0];
  checks.push({
    gate: 'minClassRecall',
    passed: !weakest || weakest.recall >= gates.minClassRecall,
    detail: weakest ? `lowest recall ${pct(weakest.recall)} (${weakest.label}) vs floor ${pct(gates.minClassRecall)}` : 'no classes',
  });
  if (champion) {
    const floor = champion.accuracy - gates.maxRegression;
    checks.push({
      gate: 'maxRegression',
      passed: challenger.accuracy >= floor,
      detail: `accuracy ${pct(challenger.accuracy)} vs champion ${pct(champion.accuracy)} - tolerance ${pct(gates.maxRegression)}`,
    });
  } else {
    checks.push({ gate: 'maxRegression', passed: true, detail: 'no champion to compare with' });
  }
  return { passed: checks.every((c) => c.passed), checks };
}

import type { ClassificationMetrics } from '../model/metrics';
import type { EpochRecord } from '../model/train';
import type { GateResult } from './gates';

export interface ReportInput {
  title: string;
  datasetVersion: string;
  challenger: { label: string; metrics: ClassificationMetrics };
  champion: { label: string; metrics: ClassificationMetrics } | null;
  championNote?: string;
  gates: GateResult;
  history: EpochRecord[];
  classes: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(2)}`;

/** Human-readable validation report, stored next to the metrics and linked from the run. */
export function renderReport(r: ReportInput): string {
  const lines: string[] = [];
  lines.push(`# ${r.title}`, '', `Dataset version: \`${r.datasetVersion}\``, '');
  lines.push(`**Gates: ${r.gates.passed ? 'PASSED' : 'FAILED'}**`, '');
  for (const c of r.gates.checks) lines.push(`- ${c.passed ? '✅' : '❌'} \`${c.gate}\`: ${c.detail}`);
  lines.push('', '## Challenger vs champion (held-out test split)', '');
  lines.push('| model | windows | accuracy % | macro-F1 % |', '|---|---|---|---|');
  const row = (label: string, m: ClassificationMetrics) => lines.push(`| ${label} | ${m.count} | ${pct(m.accuracy)} | ${pct(m.macroF1)} |`);
  row(`challenger ${r.challenger.label}`, r.challenger.metrics);
  if (r.champion) row(`champion ${r.champion.label}`, r.champion.metrics);
  else lines.push(`| champion | – | – | – |`, '', r.championNote ?? 'No production model yet.');
  lines.push('', '## Per class (challenger)', '', '| class | support | precision % | recall % | F1 % |', '|---|---|---|---|---|');
  for (const c of r.challenger.metrics.perClass) lines.push(`| ${c.label} | ${c.support} | ${pct(c.precision)} | ${pct(c.recall)} | ${pct(c.f1)} |`);
  lines.push('', '## Confusion matrix (challenger; rows = true, columns = predicted)', '');
  lines.push(`| true \\ pred | ${r.classes.map((_, i) => String(i)).join(' | ')} |`, `|---|${r.classes.map(() => '---').join('|')}|`);
  r.challenger.metrics.confusion.forEach((rowVals, i) => lines.push(`| ${i} ${r.classes[i]} | ${rowVals.join(' | ')} |`));
  if (r.history.length) {
    lines.push('', '## Training history', '', '| epoch | phase | loss | acc % | val loss | val acc % | s |', '|---|---|---|---|---|---|---|');
    for (const h of r.history) {
      lines.push(`| ${h.epoch} | ${h.phase} | ${h.loss.toFixed(4)} | ${pct(h.accuracy)} | ${h.valLoss.toFixed(4)} | ${pct(h.valAccuracy)} | ${h.seconds.toFixed(1)} |`);
    }
  }
  return lines.join('\n') + '\n';
}

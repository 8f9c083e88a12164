import type { DataArrivalState } from '../workflows/data-arrival';

/**
 * Why a run started, from its memo (`trigger`, and for data-arrival runs the object keys) and its
 * Trigger search attribute; Temporal itself sets TemporalScheduledById on scheduled runs.
 */
export function describeTrigger(memo: Record<string, unknown>, searchAttributes: Record<string, unknown>): string {
  const trigger = typeof memo.trigger === 'string' ? memo.trigger : typeof searchAttributes.Trigger === 'string' ? searchAttributes.Trigger : undefined;
  const scheduledBy = typeof memo.scheduleId === 'string' ? memo.scheduleId : typeof searchAttributes.TemporalScheduledById === 'string' ? searchAttributes.TemporalScheduledById : undefined;
  switch (trigger) {
    case 'schedule':
      return `schedule${scheduledBy ? ` ${scheduledBy}` : ''}`;
    case 'data-arrival': {
      const keys = Array.isArray(memo.objectKeys) ? (memo.objectKeys as unknown[]).map(String) : [];
      const count = typeof memo.objectCount === 'number' ? memo.objectCount : keys.length;
      const shown = keys.slice(0, 5).join(', ');
      const more = count > 5 ? `, … (${count - 5} more)` : '';
      return `data arrival: ${count} new object(s)${shown ? `: ${shown}${more}` : ''}${typeof memo.dataArrivalWorkflowId === 'string' ? ` (via ${memo.dataArrivalWorkflowId})` : ''}`;
    }
    case 'poll':
      return `polling sensor${scheduledBy ? ` (schedule ${scheduledBy})` : ''}`;
    case 'manual':
      return 'manual (pdmctl)';
    case undefined:
      return scheduledBy ? `schedule ${scheduledBy}` : 'unknown (no trigger recorded)';
    default:
      return trigger;
  }
}

/** `pdmctl status data-arrival-<asset>`: what the trigger holds and what it last started. */
export function formatDataArrivalState(s: DataArrivalState): string {
  const lines = [
    `  pending: ${s.pending} object(s), ${s.pendingBytes} bytes${s.pendingKeys.length ? `: ${s.pendingKeys.slice(0, 5).join(', ')}${s.pending > 5 ? ', …' : ''}` : ''}`,
    `  running retrain: ${s.running ?? 'none'}`,
    `  reports: ${s.reports} (${s.duplicates} duplicate), batches started: ${s.batches}`,
  ];
  const l = s.lastRetrain;
  if (l) lines.push(`  last retrain: ${l.workflowId} ${l.status}, ${l.objects} object(s), waited ${(l.waitedMs / 1000).toFixed(1)} s${l.error ? `, error: ${l.error}` : ''}${l.promoted !== undefined ? `, promoted: ${l.promoted}` : ''}`);
  return lines.join('\n');
}

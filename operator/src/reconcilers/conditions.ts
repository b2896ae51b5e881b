import type { Condition } from '../api/v1alpha1.js';

/**
 * Sets a condition, keeping lastTransitionTime when the status did not change, so that
 * `kubectl describe` shows when things last flipped rather than when the operator last looked.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const old = i >= 0 ? list[i] : undefined;
  const condition: Condition = {
    ...next,
    lastTransitionTime:
      old && old.status === next.status ? old.lastTransitionTime : now.toISOString(),
  };
  if (i >= 0) list[i] = condition;
  else list.push(condition);
  return list;
}

export function removeCondition(conditions: Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export function getCondition(
  conditions: Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

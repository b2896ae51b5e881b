import type { Condition, KafScaleCluster, KafScaleTopic } from '../api/v1alpha1.js';
import { formatIssues, ResourceValidator, type ValidationIssue } from './validator.js';

export {
  ResourceValidator,
  formatIssues,
  type ValidationIssue,
  type ValidationResult,
} from './validator.js';
export {
  loadCrd,
  crdSchema,
  crdDirectory,
  CRD_FILES,
  type CrdKind,
  type CustomResourceDefinition,
  type OpenApiSchema,
} from './crd.js';

let cluster: ResourceValidator<KafScaleCluster> | undefined;
let topic: ResourceValidator<KafScaleTopic> | undefined;

export function clusterValidator(): ResourceValidator<KafScaleCluster> {
  cluster ??= new ResourceValidator<KafScaleCluster>('KafScaleCluster');
  return cluster;
}

export function topicValidator(): ResourceValidator<KafScaleTopic> {
  topic ??= new ResourceValidator<KafScaleTopic>('KafScaleTopic');
  return topic;
}

/**
 * The Ready condition of a resource the schema rejected. The API server normally refuses such
 * objects already; this catches what slipped past (CEL disabled, a CRD older than the operator,
 * an immutable field changed while the CRD was not installed).
 */
export function invalidSpecCondition(
  issues: ValidationIssue[],
  generation: number | undefined,
  now: Date,
): Condition {
  return {
    type: 'Ready',
    status: 'False',
    observedGeneration: generation,
    lastTransitionTime: now.toISOString(),
    reason: 'InvalidSpec',
    message: `spec rejected: ${formatIssues(issues)}`.slice(0, 32768),
  };
}

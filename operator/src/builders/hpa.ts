import type { V2HorizontalPodAutoscaler, V2MetricSpec } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { objectMeta, resourceNames } from './metadata.js';

function utilization(name: 'cpu' | 'memory', percent: number): V2MetricSpec {
  return {
    type: 'Resource',
    resource: { name, target: { type: 'Utilization', averageUtilization: percent } },
  };
}

/** The autoscaler of the broker Deployment, when autoscaling is enabled. */
export function buildBrokerHpa(cluster: KafScaleCluster): V2HorizontalPodAutoscaler | undefined {
  const { autoscaling } = cluster.spec;
  if (!autoscaling.enabled) {
    return undefined;
  }
  const metrics: V2MetricSpec[] = [];
  if (autoscaling.targetCPUUtilizationPercentage !== undefined) {
    metrics.push(utilization('cpu', autoscaling.targetCPUUtilizationPercentage));
  }
  if (autoscaling.targetMemoryUtilizationPercentage !== undefined) {
    metrics.push(utilization('memory', autoscaling.targetMemoryUtilizationPercentage));
  }
  const name = resourceNames(cluster).broker;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: objectMeta(cluster, name, 'broker'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics,
      behavior: {
        // Every removed broker hands its partitions over: remove one at a time.
        scaleDown: {
          stabilizationWindowSeconds: autoscaling.scaleDownStabilizationSeconds,
          policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
        },
      },
    },
  };
}

import type { KubeConfig, KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { AppsV1Api } from '@kubernetes/client-node';
import { GROUP, VERSION } from './api/v1alpha1.js';
import type { BuildOptions } from './builders/index.js';
import { ClusterReconciler, type SnapshotSink } from './reconcilers/cluster.js';
import { EventRecorder } from './reconcilers/events.js';
import { CLUSTERS, CustomResources, TOPICS } from './reconcilers/resources.js';
import { TopicReconciler } from './reconcilers/topic.js';
import { Controller } from './runtime/controller.js';
import { Informer, objectKey, type ListResult } from './runtime/informer.js';
import { Manager, type ManagerOptions } from './runtime/manager.js';
import type { ReconcileHandler } from './runtime/work-queue.js';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  build: BuildOptions;
  /** Empty: every namespace. The operator watches only one namespace in tests. */
  namespace?: string;
  /** Several namespaces (`--watch-namespaces`): informers and controllers per namespace. */
  namespaces?: string[];
  leaderElection?: ManagerOptions['leaderElection'];
  onLeadershipChange?: ManagerOptions['onLeadershipChange'];
  resyncMs?: number;
  watchTimeoutSeconds?: number;
  /** Wraps every reconcile (metrics, logs). */
  instrument?: (controller: string, handler: ReconcileHandler) => ReconcileHandler;
  onError?: (source: string, error: unknown) => void;
  /** How long a deleted topic waits for an unreachable etcd before dropping its finalizer. */
  topicEtcdGraceMs?: number;
  /** etcd snapshot observations of the cluster reconciler (metrics). */
  onSnapshot?: SnapshotSink;
  snapshotTimeoutMs?: number;
  snapshotCheckIntervalMs?: number;
}

const MANAGED_BY = 'app.kubernetes.io/managed-by=kafscale-operator';

/** Wires informers, controllers and leader election into one Manager. */
export function createOperator(options: OperatorOptions): Manager {
  const manager = new Manager({
    leaderElection: options.leaderElection,
    onLeadershipChange: options.onLeadershipChange,
  });
  const namespaces = options.namespaces?.length
    ? [...new Set(options.namespaces)]
    : [options.namespace ?? ''];
  for (const namespace of namespaces) addControllers(manager, options, namespace || undefined);
  return manager;
}

function addControllers(
  manager: Manager,
  options: OperatorOptions,
  namespace: string | undefined,
): void {
  const { kubeConfig } = options;
  const crs = new CustomResources(kubeConfig);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const nsPath = namespace ? `/namespaces/${namespace}` : '';
  const instrument = options.instrument ?? ((_c: string, h: ReconcileHandler) => h);
  const onError = (source: string) => (e: unknown) => options.onError?.(source, e);

  const clusters = manager.addInformer(
    new Informer<KubernetesObject>({
      name: CLUSTERS,
      kubeConfig,
      path: `/apis/${GROUP}/${VERSION}${nsPath}/${CLUSTERS}`,
      list: async () =>
        (await crs.list(CLUSTERS, namespace)) as unknown as ListResult<KubernetesObject>,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      onError: onError(`informer ${CLUSTERS}`),
    }),
  );
  const deployments = manager.addInformer(
    new Informer<V1Deployment>({
      name: 'deployments',
      kubeConfig,
      path: `/apis/apps/v1${nsPath}/deployments`,
      labelSelector: MANAGED_BY,
      list: async () => {
        const l = namespace
          ? await apps.listNamespacedDeployment({ namespace, labelSelector: MANAGED_BY })
          : await apps.listDeploymentForAllNamespaces({ labelSelector: MANAGED_BY });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
      },
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      onError: onError('informer deployments'),
    }),
  );
  const events = new EventRecorder(kubeConfig, 'kafscale-operator', onError('events'));
  const cluster = new ClusterReconciler({
    kubeConfig,
    build: options.build,
    events,
    onSnapshot: options.onSnapshot,
    snapshotTimeoutMs: options.snapshotTimeoutMs,
    snapshotCheckIntervalMs: options.snapshotCheckIntervalMs,
  });
  manager.addController(
    new Controller({
      name: 'kafscalecluster',
      reconcile: instrument('kafscalecluster', cluster.reconcile),
      resyncMs: options.resyncMs,
      queue: { onError: (key, e) => options.onError?.(`reconcile kafscalecluster ${key}`, e) },
    })
      .watchPrimary(clusters, objectKey)
      .watchRelated(deployments, ownerKeys('KafScaleCluster')),
  );

  const topics = manager.addInformer(
    new Informer<KubernetesObject>({
      name: TOPICS,
      kubeConfig,
      path: `/apis/${GROUP}/${VERSION}${nsPath}/${TOPICS}`,
      list: async () =>
        (await crs.list(TOPICS, namespace)) as unknown as ListResult<KubernetesObject>,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      onError: onError(`informer ${TOPICS}`),
    }),
  );
  const topic = new TopicReconciler({
    kubeConfig,
    build: options.build,
    events,
    etcdGraceMs: options.topicEtcdGraceMs,
  });
  clusters.on((event, c) => {
    if (event === 'delete') void topic.forgetCluster(objectKey(c));
  });
  manager.onStop(() => topic.close());
  manager.addController(
    new Controller({
      name: 'kafscaletopic',
      reconcile: instrument('kafscaletopic', topic.reconcile),
      resyncMs: options.resyncMs,
      queue: { onError: (key, e) => options.onError?.(`reconcile kafscaletopic ${key}`, e) },
    })
      .watchPrimary(topics, objectKey)
      // A cluster appearing, changing or going away: its topics follow.
      .watchRelated(clusters, (c) =>
        topics
          .list()
          .filter(
            (t) =>
              t.metadata?.namespace === c.metadata?.namespace &&
              (t as unknown as { spec?: { clusterRef?: { name?: string } } }).spec?.clusterRef
                ?.name === c.metadata?.name,
          )
          .map(objectKey),
      ),
  );
}

/** Keys of the owners of `kind` an owned object points at. */
export function ownerKeys(kind: string) {
  return (o: KubernetesObject): string[] =>
    (o.metadata?.ownerReferences ?? [])
      .filter((r) => r.kind === kind && r.apiVersion.startsWith(`${GROUP}/`))
      .map((r) => `${o.metadata?.namespace}/${r.name}`);
}

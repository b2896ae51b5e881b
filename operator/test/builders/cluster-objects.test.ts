import type {
  KubernetesObject,
  V1ConfigMap,
  V1CronJob,
  V1Deployment,
  V1Service,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import type { KafScaleCluster } from '../../src/api/v1alpha1.js';
import {
  brokerConfigData,
  brokerSelector,
  buildBrokerDeployment,
  buildClusterObjects,
  CONFIG_HASH_ANNOTATION,
  configHash,
  DEFAULT_BUILD_OPTIONS,
  type TlsMaterial,
} from '../../src/builders/index.js';
import { validateManifest } from '../support/k8s-schema.js';
import { sampleCluster } from '../support/samples.js';

const options = DEFAULT_BUILD_OPTIONS;
// Fixed stand-ins: the builders only place the PEM text, the tls/ tests cover real certificates.
const material: TlsMaterial = {
  caCertPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  caKeyPem: '-----BEGIN PRIVATE KEY-----\nCAKEY\n-----END PRIVATE KEY-----\n',
  certPem: '-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n',
  keyPem: '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n',
  notAfter: new Date('2027-01-01T00:00:00Z'),
};

const SAMPLES = {
  minimal: 'kafscale_v1alpha1_kafscalecluster_minimal.yaml',
  production: 'kafscale_v1alpha1_kafscalecluster_production.yaml',
  external: 'kafscale_v1alpha1_kafscalecluster_external.yaml',
};

function find<T extends KubernetesObject>(
  objects: KubernetesObject[],
  kind: string,
  name: string,
): T {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) {
    throw new Error(`no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata?.name}`)}`);
  }
  return found as T;
}

function kinds(objects: KubernetesObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata?.name}`);
}

describe.each(Object.entries(SAMPLES))('objects of the %s sample', (_label, file) => {
  const cluster = sampleCluster(file);
  const objects = buildClusterObjects(cluster, options, material);

  test('match the committed snapshot', () => {
    expect(objects).toMatchSnapshot();
  });

  test('are valid Kubernetes objects', () => {
    for (const object of objects) {
      expect({
        object: `${object.kind}/${object.metadata?.name}`,
        errors: validateManifest(object),
      }).toEqual({
        object: `${object.kind}/${object.metadata?.name}`,
        errors: [],
      });
    }
  });

  test('are namespaced, labelled and owned by the cluster', () => {
    for (const object of objects) {
      expect(object.metadata?.namespace).toBe('streaming');
      expect(object.metadata?.labels).toMatchObject({
        'app.kubernetes.io/name': 'kafscale',
        'app.kubernetes.io/instance': cluster.metadata.name,
        'app.kubernetes.io/managed-by': 'kafscale-operator',
      });
      expect(object.metadata?.ownerReferences).toEqual([
        {
          apiVersion: 'kafscale.io/v1alpha1',
          kind: 'KafScaleCluster',
          name: cluster.metadata.name,
          uid: cluster.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  test('run broker pods under the restricted pod security standard', () => {
    const pods = objects.flatMap((o) => {
      if (o.kind === 'Deployment') return [(o as V1Deployment).spec!.template.spec!];
      if (o.kind === 'StatefulSet') return [(o as V1StatefulSet).spec!.template.spec!];
      if (o.kind === 'CronJob') return [(o as V1CronJob).spec!.jobTemplate.spec!.template.spec!];
      return [];
    });
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });
});

describe('the minimal cluster', () => {
  const cluster = sampleCluster(SAMPLES.minimal);
  const objects = buildClusterObjects(cluster, options);

  test('gets a managed 3-member etcd, broker Services, a PDB and no HPA or external Service', () => {
    expect(kinds(objects)).toEqual([
      'ServiceAccount/minimal-broker',
      'ConfigMap/minimal-broker-config',
      'Service/minimal-etcd',
      'Service/minimal-etcd-client',
      'PodDisruptionBudget/minimal-etcd',
      'StatefulSet/minimal-etcd',
      'Service/minimal-brokers',
      'Service/minimal-bootstrap',
      'Deployment/minimal-broker',
      'PodDisruptionBudget/minimal-broker',
    ]);
    const etcd = find<V1StatefulSet>(objects, 'StatefulSet', 'minimal-etcd');
    expect(etcd.spec!.replicas).toBe(3);
    expect(etcd.spec!.template.spec!.containers[0].args).toContain(
      '--initial-cluster=' +
        [0, 1, 2]
          .map(
            (i) =>
              `minimal-etcd-${i}=http://minimal-etcd-${i}.minimal-etcd.streaming.svc.cluster.local:2380`,
          )
          .join(','),
    );
  });

  test('sets the broker environment from the spec and the defaults of the CRD', () => {
    const data = find<V1ConfigMap>(objects, 'ConfigMap', 'minimal-broker-config').data!;
    expect(data).toEqual({
      KAFSCALE_BROKER_ADDR: '0.0.0.0:9092',
      KAFSCALE_CLUSTER_NAME: 'streaming.minimal',
      KAFSCALE_DATA_DIR: '/var/lib/kafscale',
      KAFSCALE_ETCD_ENDPOINTS: [0, 1, 2]
        .map((i) => `http://minimal-etcd-${i}.minimal-etcd.streaming.svc.cluster.local:2379`)
        .join(','),
      KAFSCALE_METRICS_ADDR: '0.0.0.0:9093',
      KAFSCALE_S3_BUCKET: 'my-kafscale-segments',
      KAFSCALE_S3_NAMESPACE: 'kafscale',
      KAFSCALE_S3_PATH_STYLE: 'false',
      KAFSCALE_S3_REGION: 'eu-west-1',
      KAFSCALE_SASL_ENABLED: 'false',
      KAFSCALE_TLS_ENABLED: 'false',
    });
  });

  test('the Deployment has probes, a graceful stop, secrets by reference and a fixed replica count', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'minimal-broker');
    expect(deployment.spec!.replicas).toBe(3);
    const pod = deployment.spec!.template.spec!;
    const broker = pod.containers[0];
    expect(broker.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(broker.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(broker.ports).toContainEqual({ name: 'metrics', containerPort: 9093, protocol: 'TCP' });
    expect(broker.lifecycle!.preStop!.exec!.command).toEqual(['sleep', '5']);
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(pod.enableServiceLinks).toBe(false);
    expect(broker.env).toContainEqual({
      name: 'KAFSCALE_S3_SECRET_KEY',
      valueFrom: { secretKeyRef: { name: 'kafscale-s3', key: 'AWS_SECRET_ACCESS_KEY' } },
    });
    expect(broker.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/kafscale' });
    expect(pod.volumes).toContainEqual({ name: 'data', emptyDir: {} });
    expect(broker.command![2]).toContain(
      '.minimal-brokers.streaming.svc.cluster.local"\nexport KAFSCALE_BROKER_HOST\nexec kafscale-broker',
    );
  });

  test('the headless Service publishes brokers before they are ready; bootstrap only ready ones', () => {
    expect(find<V1Service>(objects, 'Service', 'minimal-brokers').spec).toMatchObject({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
    });
    expect(
      find<V1Service>(objects, 'Service', 'minimal-bootstrap').spec!.publishNotReadyAddresses,
    ).toBeUndefined();
  });

  test('the selector of the status is the Deployment selector', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'minimal-broker');
    const labels = deployment.spec!.selector.matchLabels!;
    expect(brokerSelector(cluster)).toBe(
      Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    );
  });
});

describe('the production cluster', () => {
  const cluster = sampleCluster(SAMPLES.production);
  const objects = buildClusterObjects(cluster, options, material);

  test('leaves Deployment replicas to the HPA', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'production-broker');
    expect('replicas' in deployment.spec!).toBe(false);
    const hpa = find<V2HorizontalPodAutoscaler>(
      objects,
      'HorizontalPodAutoscaler',
      'production-broker',
    );
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'production-broker' },
      minReplicas: 3,
      maxReplicas: 12,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 65 } },
        },
      ],
    });
  });

  test('mounts the generated TLS Secret and configures the listener for it', () => {
    const deployment = find<V1Deployment>(objects, 'Deployment', 'production-broker');
    const pod = deployment.spec!.template.spec!;
    expect(pod.volumes).toContainEqual({
      name: 'tls',
      secret: { secretName: 'production-tls', defaultMode: 0o440 },
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: 'tls',
      mountPath: '/etc/kafscale/tls',
      readOnly: true,
    });
    const data = find<V1ConfigMap>(objects, 'ConfigMap', 'production-broker-config').data!;
    expect(data).toMatchObject({
      KAFSCALE_TLS_ENABLED: 'true',
      KAFSCALE_TLS_CERT_FILE: '/etc/kafscale/tls/tls.crt',
      KAFSCALE_TLS_KEY_FILE: '/etc/kafscale/tls/tls.key',
      KAFSCALE_TLS_CLIENT_AUTH: 'none',
      KAFSCALE_SASL_ENABLED: 'true',
      KAFSCALE_SASL_MECHANISMS: 'SCRAM-SHA-512',
      KAFSCALE_CACHE_BYTES: String(768 * 2 ** 20),
      KAFSCALE_PRODUCE_BUFFER_BYTES: String(512 * 2 ** 20),
      KAFSCALE_S3_SSE: 'aws:kms',
      KAFSCALE_ALLOW_ADMIN_APIS: 'false',
    });
    expect(data.KAFSCALE_TLS_CA_FILE).toBeUndefined();
    const secret = find<KubernetesObject & { type: string; data: Record<string, string> }>(
      objects,
      'Secret',
      'production-tls',
    );
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(Buffer.from(secret.data['tls.crt'], 'base64').toString()).toBe(material.certPem);
  });

  test('snapshots etcd to the backup bucket with the retention of the spec', () => {
    const cron = find<V1CronJob>(objects, 'CronJob', 'production-etcd-snapshot');
    expect(cron.spec!.schedule).toBe('15 * * * *');
    expect(cron.spec!.concurrencyPolicy).toBe('Forbid');
    const pod = cron.spec!.jobTemplate.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe('production-broker');
    expect(pod.containers[0].command).toEqual([
      'kafscale',
      'snapshot',
      'create',
      '--bucket',
      'acme-kafscale-backups',
      '--prefix',
      'etcd/streaming/production',
      '--retention',
      '72',
    ]);
    expect(pod.containers[0].envFrom).toEqual([
      { configMapRef: { name: 'production-broker-config' } },
    ]);
  });

  test('fills the broker selector into topology spread constraints', () => {
    const pod = find<V1Deployment>(objects, 'Deployment', 'production-broker').spec!.template.spec!;
    expect(pod.topologySpreadConstraints![0]).toEqual({
      labelSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'kafscale',
          'app.kubernetes.io/instance': 'production',
          'app.kubernetes.io/component': 'broker',
        },
      },
      maxSkew: 1,
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'ScheduleAnyway',
    });
  });

  test('does not build the TLS Secret without material, or when the user brings one', () => {
    expect(
      kinds(buildClusterObjects(cluster, options)).filter((k) => k.startsWith('Secret/')),
    ).toEqual([]);
    const own: KafScaleCluster = structuredClone(cluster);
    own.spec.tls.secretRef = { name: 'from-cert-manager' };
    const built = buildClusterObjects(own, options, material);
    expect(kinds(built).filter((k) => k.startsWith('Secret/'))).toEqual([]);
    const pod = find<V1Deployment>(built, 'Deployment', 'production-broker').spec!.template.spec!;
    expect(pod.volumes).toContainEqual({
      name: 'tls',
      secret: { secretName: 'from-cert-manager', defaultMode: 0o440 },
    });
  });
});

describe('the external cluster', () => {
  const cluster = sampleCluster(SAMPLES.external);
  const objects = buildClusterObjects(cluster, options);

  test('gets a LoadBalancer Service and uses the given etcd', () => {
    expect(kinds(objects)).not.toContain('StatefulSet/edge-etcd');
    const svc = find<V1Service>(objects, 'Service', 'edge-external');
    expect(svc.metadata!.annotations).toEqual({
      'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
    });
    expect(svc.spec).toMatchObject({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      loadBalancerSourceRanges: ['203.0.113.0/24'],
      ports: [{ name: 'kafka', port: 9094, targetPort: 'kafka', protocol: 'TCP' }],
    });
    const data = find<V1ConfigMap>(objects, 'ConfigMap', 'edge-broker-config').data!;
    expect(data).toMatchObject({
      KAFSCALE_BROKER_HOST: 'kafka.example.com',
      KAFSCALE_ADVERTISED_PORT: '9094',
      KAFSCALE_ETCD_ENDPOINTS:
        'http://etcd-0.etcd.infra.svc:2379,http://etcd-1.etcd.infra.svc:2379,http://etcd-2.etcd.infra.svc:2379',
      KAFSCALE_S3_ENDPOINT: 'http://minio.storage.svc:9000',
      KAFSCALE_S3_PATH_STYLE: 'true',
    });
    const broker = find<V1Deployment>(objects, 'Deployment', 'edge-broker').spec!.template.spec!
      .containers[0];
    expect(broker.command).toEqual(['/bin/sh', '-c', 'exec kafscale-broker']);
  });

  test('a NodePort Service takes the fixed node port and no source ranges', () => {
    const nodePort: KafScaleCluster = structuredClone(cluster);
    nodePort.spec.brokers.service = {
      ...nodePort.spec.brokers.service,
      type: 'NodePort',
      nodePorts: { kafka: 31092 },
    };
    const svc = find<V1Service>(buildClusterObjects(nodePort, options), 'Service', 'edge-external');
    expect(svc.spec!.type).toBe('NodePort');
    expect(svc.spec!.ports![0].nodePort).toBe(31092);
    expect(svc.spec!.loadBalancerSourceRanges).toBeUndefined();
    expect(validateManifest(svc)).toEqual([]);
  });
});

describe('the config hash', () => {
  const cluster = sampleCluster(SAMPLES.minimal);
  const hashOf = (c: KafScaleCluster) =>
    buildBrokerDeployment(c, options, configHash(brokerConfigData(c, options))).spec!.template
      .metadata!.annotations![CONFIG_HASH_ANNOTATION];

  test('changes with settings the broker reads at start', () => {
    const changed: KafScaleCluster = structuredClone(cluster);
    changed.spec.config.flushIntervalMs = 50;
    expect(hashOf(changed)).not.toBe(hashOf(cluster));
  });

  test('ignores changes that need no new pods', () => {
    const scaled: KafScaleCluster = structuredClone(cluster);
    scaled.spec.brokers.replicas = 7;
    scaled.spec.autoscaling.maxReplicas = 20;
    expect(hashOf(scaled)).toBe(hashOf(cluster));
  });
});

import { clusterValidator, invalidSpecCondition, topicValidator } from '../../src/schema/index.js';

function cluster(spec: Record<string, unknown>, name = 'c1') {
  return {
    apiVersion: 'kafscale.io/v1alpha1',
    kind: 'KafScaleCluster',
    metadata: { name, namespace: 'ns' },
    spec,
  };
}

function topic(spec: Record<string, unknown>) {
  return {
    apiVersion: 'kafscale.io/v1alpha1',
    kind: 'KafScaleTopic',
    metadata: { name: 't', namespace: 'ns' },
    spec,
  };
}

describe('KafScaleCluster validation', () => {
  test('applies the schema defaults, nested ones included', () => {
    const result = clusterValidator().validate(cluster({ s3: { bucket: 'segments' } }));
    expect(result.issues).toEqual([]);
    expect(result.object.spec.brokers).toEqual({
      replicas: 3,
      imagePullPolicy: 'IfNotPresent',
      service: { type: 'ClusterIP' },
      terminationGracePeriodSeconds: 60,
    });
    expect(result.object.spec.s3).toEqual({
      bucket: 'segments',
      region: 'us-east-1',
      pathStyle: false,
      namespace: 'kafscale',
    });
    expect(result.object.spec.autoscaling).toMatchObject({
      enabled: false,
      minReplicas: 1,
      maxReplicas: 10,
    });
    expect(result.object.spec.tls).toEqual({ enabled: false, clientAuth: 'none' });
    expect(result.object.spec.etcd).toEqual({});
  });

  test('does not change its input', () => {
    const input = cluster({ s3: { bucket: 'segments' } });
    clusterValidator().validate(input);
    expect(input.spec).toEqual({ s3: { bucket: 'segments' } });
  });

  test('reports schema violations with their paths', () => {
    const result = clusterValidator().validate(
      cluster({
        brokers: { replicas: -1, service: { type: 'Ingress' } },
        s3: { region: 'eu-west-1' },
        sasl: { enabled: true, mechanisms: ['GSSAPI'] },
        config: { cacheSize: '1 gigabyte', flushIntervalMs: 1.5 },
      }),
    );
    expect(result.valid).toBe(false);
    expect(result.issues).toEqual(
      expect.arrayContaining([
        { path: 'spec.brokers.replicas', message: 'should be >= 0' },
        {
          path: 'spec.brokers.service.type',
          message:
            'should be equal to one of the allowed values: ClusterIP, NodePort, LoadBalancer',
        },
        { path: 'spec.s3.bucket', message: 'Required value' },
        {
          path: 'spec.sasl.mechanisms[0]',
          message:
            'should be equal to one of the allowed values: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN',
        },
        { path: 'spec.config.flushIntervalMs', message: 'should be integer' },
      ]),
    );
    expect(result.issues.some((i) => i.path === 'spec.config.cacheSize')).toBe(true);
  });

  test('enforces the CEL rules on create', () => {
    const bad = clusterValidator().validate(
      cluster(
        {
          s3: { bucket: 'segments', kmsKeyArn: 'alias/kafscale', sse: 'AES256' },
          autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 },
          etcd: { endpoints: ['http://etcd:2379'], managed: { replicas: 3 } },
          config: { s3LatencyWarnMs: 3000, s3LatencyCritMs: 2000 },
        },
        '1-starts-with-a-digit',
      ),
    );
    expect(bad.issues.map((i) => `${i.path}: ${i.message}`).sort()).toEqual([
      ': metadata.name must be a DNS label of at most 38 characters starting with a letter (it prefixes the names of Services, the etcd StatefulSet and the snapshot CronJob)',
      'spec.autoscaling: autoscaling.minReplicas must not exceed autoscaling.maxReplicas',
      'spec.config: config.s3LatencyWarnMs must be below config.s3LatencyCritMs',
      'spec.etcd: etcd.endpoints and etcd.managed are mutually exclusive',
      'spec.s3: s3.kmsKeyArn needs s3.sse aws:kms',
    ]);
    expect(
      clusterValidator().validate(cluster({ s3: { bucket: 'b1-x' } }, 'x'.repeat(39))).valid,
    ).toBe(false);
    expect(
      clusterValidator().validate(cluster({ s3: { bucket: 'b1-x' } }, 'x'.repeat(38))).valid,
    ).toBe(true);
  });

  test('refuses changes of immutable fields on update, with the messages of the CRD', () => {
    const old = cluster({ s3: { bucket: 'segments' }, etcd: { managed: { replicas: 3 } } });
    const changed = cluster({
      s3: { bucket: 'other', namespace: 'x' },
      etcd: { endpoints: ['http://e:2379'] },
    });
    const result = clusterValidator().validate(changed, old);
    expect(result.issues.map((i) => i.message).sort()).toEqual([
      'etcd cannot switch between endpoints and managed',
      's3.bucket is immutable',
      's3.namespace is immutable',
    ]);
    // Without the old object (a create) the same spec is fine.
    expect(clusterValidator().validate(changed).valid).toBe(true);
  });

  test('managed etcd size and members cannot change, other fields can', () => {
    const old = cluster({
      s3: { bucket: 'segments' },
      etcd: { managed: { storage: { size: '10Gi' } } },
    });
    const grown = cluster({
      s3: { bucket: 'segments' },
      etcd: { managed: { replicas: 5, storage: { size: '20Gi' } } },
    });
    expect(
      clusterValidator()
        .validate(grown, old)
        .issues.map((i) => i.message)
        .sort(),
    ).toEqual(['etcd.managed.replicas is immutable', 'etcd.managed.storage is immutable']);
    const scaled = cluster({
      s3: { bucket: 'segments' },
      brokers: { replicas: 9 },
      etcd: { managed: { storage: { size: '10Gi' } } },
    });
    expect(clusterValidator().validate(scaled, old).issues).toEqual([]);
  });

  test('builds the Ready condition of an invalid resource', () => {
    const result = clusterValidator().validate(cluster({ s3: {} }));
    const condition = invalidSpecCondition(result.issues, 4, new Date('2025-01-01T00:00:00Z'));
    expect(condition).toEqual({
      type: 'Ready',
      status: 'False',
      observedGeneration: 4,
      lastTransitionTime: '2025-01-01T00:00:00.000Z',
      reason: 'InvalidSpec',
      message: 'spec rejected: spec.s3.bucket: Required value',
    });
  });
});

describe('KafScaleTopic validation', () => {
  const base = { clusterRef: { name: 'c1' }, partitions: 6 };

  test('defaults partitions and accepts the documented topic configs', () => {
    const result = topicValidator().validate(
      topic({ clusterRef: { name: 'c1' }, config: { 'max.message.bytes': '2097152' } }),
    );
    expect(result.issues).toEqual([]);
    expect(result.object.spec.partitions).toBe(1);
  });

  test('refuses unknown topic configs and retention below -1', () => {
    const result = topicValidator().validate(
      topic({
        ...base,
        retentionMs: -2,
        config: { 'cleanup.policy': 'delete', 'min.insync.replicas': '2' },
      }),
    );
    expect(result.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'spec.retentionMs: should be >= -1',
    ]);
    const rule = topicValidator().validate(
      topic({ ...base, config: { 'min.insync.replicas': '2' } }),
    );
    expect(rule.issues.map((i) => i.path)).toEqual(['spec.config']);
  });

  test('partitions grow but never shrink; clusterRef and topicName are immutable', () => {
    const old = topic(base);
    expect(topicValidator().validate(topic({ ...base, partitions: 12 }), old).valid).toBe(true);
    const result = topicValidator().validate(
      topic({ clusterRef: { name: 'c2' }, topicName: 'renamed', partitions: 3 }),
      old,
    );
    expect(result.issues.map((i) => i.message).sort()).toEqual([
      'clusterRef is immutable',
      'partitions cannot be decreased',
      'topicName is immutable',
    ]);
  });
});

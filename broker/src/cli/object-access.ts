import type { BrokerConfig } from '../config.js';
import { createObjectStore } from '../storage/create-object-store.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * An S3 object store with the broker's S3 settings (KAFSCALE_S3_REGION, _ENDPOINT, _PATH_STYLE,
 * credentials, server-side encryption) on `bucket`, which may differ from the brokers' bucket.
 */
export function openBucket(config: BrokerConfig, bucket: string): ObjectStore {
  const { s3 } = config;
  return createObjectStore({
    kind: 's3',
    bucket,
    region: s3.region,
    endpoint: s3.endpoint ?? undefined,
    forcePathStyle: s3.pathStyle,
    credentials:
      s3.accessKeyId && s3.secretAccessKey
        ? {
            accessKeyId: s3.accessKeyId,
            secretAccessKey: s3.secretAccessKey,
            sessionToken: s3.sessionToken ?? undefined,
          }
        : undefined,
    sse: s3.sse ?? undefined,
    kmsKeyId: s3.kmsKeyArn ?? undefined,
    // A maintenance job fails fast and is retried by its scheduler.
    maxAttempts: 3,
  });
}

/** Runs fn with the bucket open, closing it afterwards. */
export async function withBucket<T>(
  config: BrokerConfig,
  bucket: string,
  fn: (objects: ObjectStore) => Promise<T>,
): Promise<T> {
  const objects = openBucket(config, bucket);
  try {
    return await fn(objects);
  } finally {
    await objects.close();
  }
}

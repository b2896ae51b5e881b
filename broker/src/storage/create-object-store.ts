import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore, ObjectStoreObserver } from './object-store.js';
import { S3ObjectStore, type S3ObjectStoreConfig } from './s3-object-store.js';

export type ObjectStoreConfig =
  | { kind: 'local'; rootDir: string; onRequest?: ObjectStoreObserver }
  | ({ kind: 's3' } & S3ObjectStoreConfig);

export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  switch (config.kind) {
    case 'local':
      return new LocalObjectStore(config.rootDir, { onRequest: config.onRequest });
    case 's3': {
      const { kind: _kind, ...s3 } = config;
      return new S3ObjectStore(s3);
    }
  }
}

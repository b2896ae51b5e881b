import path from 'node:path';
import { loadConfig } from '../config.js';
import { ClusterMetadata } from '../metadata/cluster-metadata.js';
import { EmbeddedMetadataStore } from '../metadata/embedded-metadata-store.js';
import { EtcdMetadataStore } from '../metadata/etcd-metadata-store.js';
import type { MetadataStore } from '../metadata/metadata-store.js';

/**
 * Runs fn against the cluster metadata the broker configured by the same environment uses: etcd
 * with KAFSCALE_ETCD_ENDPOINTS, else the embedded store in KAFSCALE_DATA_DIR (which one process
 * may open at a time, so the broker must be stopped).
 */
export async function withClusterMetadata<T>(
  env: Record<string, string | undefined>,
  fn: (metadata: ClusterMetadata) => Promise<T>,
): Promise<T> {
  const config = loadConfig(env);
  let store: MetadataStore;
  if (config.etcd.endpoints.length > 0) {
    store = new EtcdMetadataStore({
      endpoints: config.etcd.endpoints,
      username: config.etcd.username ?? undefined,
      password: config.etcd.password ?? undefined,
    });
  } else {
    store = await EmbeddedMetadataStore.open(path.resolve(config.dataDir, 'metadata'));
  }
  try {
    let metadata: ClusterMetadata;
    try {
      metadata = await ClusterMetadata.open(store, config.clusterName);
    } catch (err) {
      const where =
        config.etcd.endpoints.length > 0
          ? `etcd ${config.etcd.endpoints.join(',')}`
          : `the embedded store in ${path.resolve(config.dataDir, 'metadata')}`;
      throw new Error(
        `cannot read the metadata store (${where}): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    try {
      return await fn(metadata);
    } finally {
      await metadata.close();
    }
  } finally {
    await store.close();
  }
}

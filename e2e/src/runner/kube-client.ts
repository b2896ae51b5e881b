// The pod runner's view of the API: plain JSON over HTTP to the emulator, the way a kubelet or
// the controller manager talks to a real server. Writes of status retry on 409 with a fresh read.
import type { KObject } from '../apiserver/types.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ResourcePath {
  /** `v1`, `apps/v1`, `batch/v1`... */
  apiVersion: string;
  plural: string;
}

export const PODS: ResourcePath = { apiVersion: 'v1', plural: 'pods' };
export const SERVICES: ResourcePath = { apiVersion: 'v1', plural: 'services' };
export const SECRETS: ResourcePath = { apiVersion: 'v1', plural: 'secrets' };
export const CONFIGMAPS: ResourcePath = { apiVersion: 'v1', plural: 'configmaps' };
export const DEPLOYMENTS: ResourcePath = { apiVersion: 'apps/v1', plural: 'deployments' };
export const STATEFULSETS: ResourcePath = { apiVersion: 'apps/v1', plural: 'statefulsets' };
export const JOBS: ResourcePath = { apiVersion: 'batch/v1', plural: 'jobs' };
export const CRONJOBS: ResourcePath = { apiVersion: 'batch/v1', plural: 'cronjobs' };

function collectionPath(r: ResourcePath, namespace?: string): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export class KubeClient {
  constructor(private readonly server: string) {}

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(this.server + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new ApiError(res.status, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  async list(r: ResourcePath, namespace?: string): Promise<KObject[]> {
    const list = (await this.request('GET', collectionPath(r, namespace))) as { items: KObject[] };
    return list.items;
  }

  async get(r: ResourcePath, namespace: string, name: string): Promise<KObject | undefined> {
    try {
      return (await this.request('GET', `${collectionPath(r, namespace)}/${name}`)) as KObject;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  async create(r: ResourcePath, obj: KObject): Promise<KObject> {
    return (await this.request('POST', collectionPath(r, obj.metadata.namespace), obj)) as KObject;
  }

  async delete(r: ResourcePath, namespace: string, name: string): Promise<void> {
    try {
      await this.request('DELETE', `${collectionPath(r, namespace)}/${name}`, {
        propagationPolicy: 'Background',
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  /**
   * Sets `status` through the /status subresource from a fresh read, so a concurrent writer of the
   * object's spec or metadata is never overwritten. Returns false when the object is gone.
   */
  async writeStatus(
    r: ResourcePath,
    namespace: string,
    name: string,
    status: (current: KObject) => unknown,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(r, namespace, name);
      if (!current) return false;
      const next = status(current);
      if (JSON.stringify(next) === JSON.stringify(current.status ?? {})) return true;
      try {
        await this.request('PUT', `${collectionPath(r, namespace)}/${name}/status`, {
          ...current,
          status: next,
        });
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return false;
        if (!(e instanceof ApiError && e.code === 409) || attempt >= 5) throw e;
      }
    }
  }
}

// Turning a Pod's spec into what a process needs on this host: volumes as directories and files,
// the environment as the kubelet resolves it, and the command line. Mount paths in the pod's
// environment and arguments are rewritten to the directories that stand in for them, because
// every pod shares the host's file system.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KObject } from '../apiserver/types.js';
import { CONFIGMAPS, SECRETS, type KubeClient } from './kube-client.js';

export type Obj = Record<string, unknown>;

export interface Mount {
  /** Path inside the container. */
  path: string;
  /** The host directory that stands in for it. */
  hostPath: string;
}

/** A problem the pod's owner must fix (missing Secret, unknown image...): shown in pod status. */
export class PodSpecError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const decode = (data: Record<string, string> | undefined, base64: boolean) =>
  Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [
      k,
      base64 ? Buffer.from(v, 'base64') : Buffer.from(v),
    ]),
  );

async function sourceData(
  kube: KubeClient,
  namespace: string,
  kind: 'configMap' | 'secret',
  name: string,
  optional: boolean,
): Promise<Record<string, Buffer> | undefined> {
  const obj = await kube.get(kind === 'secret' ? SECRETS : CONFIGMAPS, namespace, name);
  if (!obj) {
    if (optional) return undefined;
    throw new PodSpecError(
      kind === 'secret' ? 'SecretNotFound' : 'ConfigMapNotFound',
      `${kind} "${name}" not found`,
    );
  }
  return kind === 'secret'
    ? decode(obj.data as Record<string, string>, true)
    : {
        ...decode(obj.binaryData as Record<string, string>, true),
        ...decode(obj.data as Record<string, string>, false),
      };
}

function writeIfChanged(file: string, content: Buffer): void {
  try {
    if (readFileSync(file).equals(content)) return;
  } catch {
    // Not there yet.
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/**
 * Creates or refreshes the pod's volumes under `podDir` and returns their host directories by
 * volume name. Called again while the pod runs, so Secret and ConfigMap changes reach the files
 * as the kubelet's periodic sync delivers them.
 */
export async function materialiseVolumes(
  kube: KubeClient,
  pod: KObject,
  podDir: string,
  claimDir: (claimName: string) => string,
): Promise<Map<string, string>> {
  const namespace = pod.metadata.namespace!;
  const volumes = ((pod.spec as Obj).volumes ?? []) as Obj[];
  const dirs = new Map<string, string>();
  for (const v of volumes) {
    const name = v.name as string;
    let dir = join(podDir, 'volumes', name);
    if (v.emptyDir) {
      mkdirSync(dir, { recursive: true });
    } else if (v.persistentVolumeClaim) {
      dir = claimDir((v.persistentVolumeClaim as Obj).claimName as string);
      mkdirSync(dir, { recursive: true });
    } else if (v.configMap || v.secret) {
      const kind = v.secret ? 'secret' : 'configMap';
      const source = (v.secret ?? v.configMap) as Obj;
      const sourceName = (source.secretName ?? source.name) as string;
      const data = await sourceData(kube, namespace, kind, sourceName, source.optional === true);
      mkdirSync(dir, { recursive: true });
      const items = source.items as { key: string; path: string }[] | undefined;
      for (const [key, path] of items
        ? items.map((i) => [i.key, i.path])
        : Object.keys(data ?? {}).map((k) => [k, k])) {
        const content = data?.[key];
        if (content === undefined) {
          if (items && source.optional !== true) {
            throw new PodSpecError('InvalidVolume', `key "${key}" not in ${kind} "${sourceName}"`);
          }
          continue;
        }
        writeIfChanged(join(dir, path), content);
      }
    } else {
      throw new PodSpecError(
        'UnsupportedVolume',
        `volume "${name}": only emptyDir, configMap, secret and persistentVolumeClaim run here`,
      );
    }
    dirs.set(name, dir);
  }
  return dirs;
}

export function containerMounts(container: Obj, volumeDirs: Map<string, string>): Mount[] {
  const mounts = ((container.volumeMounts ?? []) as Obj[]).map((m) => {
    const dir = volumeDirs.get(m.name as string);
    if (!dir)
      throw new PodSpecError('InvalidVolume', `volumeMount "${String(m.name)}" names no volume`);
    return {
      path: m.mountPath as string,
      hostPath: m.subPath ? join(dir, m.subPath as string) : dir,
    };
  });
  // Longest first, so /etc/kafscale/tls wins over /etc/kafscale.
  return mounts.sort((a, b) => b.path.length - a.path.length);
}

/** `$(VAR)` references as Kubernetes expands them in env values, command and args. */
export function expandReferences(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g,
    (whole, name: string | undefined) => {
      if (whole === '$$') return '$';
      return name !== undefined && name in env ? env[name] : whole;
    },
  );
}

/** Container paths under a mount, and the wildcard listen address, as this host sees them. */
export function rewriteForHost(value: string, mounts: Mount[], podIp: string): string {
  let out = value;
  if (mounts.length > 0) {
    // One pass over every mount (longest first wins the alternation): a host path written in
    // is never rewritten again when it starts with another mount's path, such as /tmp.
    const byPath = new Map(mounts.map((m) => [m.path, m.hostPath]));
    const paths = mounts.map((m) => m.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    out = out.replace(
      new RegExp(`(^|[=:,\\s'"])(${paths})(?=$|[/,\\s'"])`, 'g'),
      (_, lead: string, path: string) => `${lead}${byPath.get(path)}`,
    );
  }
  return out.replace(/(^|[/=@,\s])0\.0\.0\.0(?=:)/g, `$1${podIp}`);
}

function fieldRef(pod: KObject, podIp: string, path: string): string {
  const labels = pod.metadata.labels ?? {};
  const annotations = pod.metadata.annotations ?? {};
  const spec = pod.spec as Obj;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? labels : annotations)[m[2]] ?? '';
  const fields: Record<string, string> = {
    'metadata.name': pod.metadata.name!,
    'metadata.namespace': pod.metadata.namespace!,
    'metadata.uid': pod.metadata.uid ?? '',
    'spec.nodeName': (spec.nodeName as string) ?? 'emulated-node',
    'spec.serviceAccountName': (spec.serviceAccountName as string) ?? 'default',
    'status.podIP': podIp,
    'status.hostIP': '127.0.0.1',
  };
  if (!(path in fields)) throw new PodSpecError('InvalidEnv', `fieldRef ${path} is not supported`);
  return fields[path];
}

/** The container's environment as the kubelet builds it: envFrom, then env in order. */
export async function containerEnv(
  kube: KubeClient,
  pod: KObject,
  container: Obj,
  podIp: string,
): Promise<Record<string, string>> {
  const namespace = pod.metadata.namespace!;
  const env: Record<string, string> = {};
  for (const from of (container.envFrom ?? []) as Obj[]) {
    const ref = (from.configMapRef ?? from.secretRef) as Obj;
    const kind = from.secretRef ? 'secret' : 'configMap';
    const data = await sourceData(kube, namespace, kind, ref.name as string, ref.optional === true);
    for (const [k, v] of Object.entries(data ?? {}))
      env[`${(from.prefix as string) ?? ''}${k}`] = v.toString();
  }
  for (const e of (container.env ?? []) as Obj[]) {
    const name = e.name as string;
    if (e.valueFrom === undefined) {
      env[name] = expandReferences((e.value as string) ?? '', env);
      continue;
    }
    const from = e.valueFrom as Obj;
    if (from.fieldRef) {
      env[name] = fieldRef(pod, podIp, (from.fieldRef as Obj).fieldPath as string);
    } else if (from.secretKeyRef || from.configMapKeyRef) {
      const ref = (from.secretKeyRef ?? from.configMapKeyRef) as Obj;
      const kind = from.secretKeyRef ? 'secret' : 'configMap';
      const data = await sourceData(
        kube,
        namespace,
        kind,
        ref.name as string,
        ref.optional === true,
      );
      const value = data?.[ref.key as string];
      if (value === undefined) {
        if (ref.optional === true) continue;
        throw new PodSpecError(
          'CreateContainerConfigError',
          `key "${String(ref.key)}" not in ${kind} "${String(ref.name)}"`,
        );
      }
      env[name] = value.toString();
    } else {
      throw new PodSpecError(
        'InvalidEnv',
        `env ${name}: only value, fieldRef, secretKeyRef and configMapKeyRef are supported`,
      );
    }
  }
  return env;
}

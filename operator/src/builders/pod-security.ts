import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

/** uid and gid of the `node` user in the broker image; etcd runs as the same unprivileged ids. */
export const RUN_AS_USER = 1000;

/** The "restricted" Pod Security Standard, so clusters can enforce it on the namespace. */
export function restrictedPodSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    fsGroup: RUN_AS_USER,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function restrictedContainerSecurityContext(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
}

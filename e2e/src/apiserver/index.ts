export { ApiServer, type ApiServerOptions, type RequestRecord } from './server.js';
export { kubeconfigYaml, writeKubeconfig } from './kubeconfig.js';
export type { KObject, ResourceDef } from './types.js';

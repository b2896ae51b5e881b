import { KubeConfig } from '@kubernetes/client-node';
import { ApiServer, type ApiServerOptions } from '../../../e2e/src/apiserver/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { eventually } from '../../../e2e/test/support/emulated-cluster.js';

export async function startApi(
  options: ApiServerOptions = {},
): Promise<{ api: ApiServer; kc: KubeConfig; kubeconfig: string }> {
  const api = await ApiServer.start(options);
  const kubeconfig = api.writeKubeconfig(
    join(mkdtempSync(join(tmpdir(), 'kafscale-op-')), 'kubeconfig'),
  );
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { api, kc, kubeconfig };
}

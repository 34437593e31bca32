import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * Starts `server` on a free loopback port and returns a kubeconfig that
 * points at it over plain HTTP: a fake API server for informer and
 * cluster-view tests.
 */
export async function loopbackKubeConfig(server: Server): Promise<KubeConfig> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'loopback', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'test', cluster: 'loopback', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

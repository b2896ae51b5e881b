// How a container's paths and listen addresses are rewritten for the host that runs it.
import { containerMounts, rewriteForHost } from '../../src/runner/pod-spec.js';

const volumes = new Map([
  ['tmp', '/tmp/pods/p1/volumes/tmp'],
  ['config', '/tmp/pods/p1/volumes/config'],
  ['tls', '/tmp/pods/p1/volumes/tls'],
]);
const mounts = containerMounts(
  {
    volumeMounts: [
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'config', mountPath: '/etc/kafscale' },
      { name: 'tls', mountPath: '/etc/kafscale/tls' },
    ],
  },
  volumes,
);

test('a path under the longest matching mount goes to that volume', () => {
  expect(rewriteForHost('/etc/kafscale/tls/tls.crt', mounts, '127.1.0.5')).toBe(
    '/tmp/pods/p1/volumes/tls/tls.crt',
  );
  expect(rewriteForHost('/etc/kafscale/broker.yaml', mounts, '127.1.0.5')).toBe(
    '/tmp/pods/p1/volumes/config/broker.yaml',
  );
});

test('a rewritten host path under /tmp is not rewritten again by the /tmp mount', () => {
  expect(rewriteForHost('--cert=/etc/kafscale/tls/tls.crt,/tmp/x', mounts, '127.1.0.5')).toBe(
    '--cert=/tmp/pods/p1/volumes/tls/tls.crt,/tmp/pods/p1/volumes/tmp/x',
  );
});

test('paths that only share a prefix with a mount, and other text, stay as they are', () => {
  expect(rewriteForHost('/etc/kafscale-other/file', mounts, '127.1.0.5')).toBe(
    '/etc/kafscale-other/file',
  );
  expect(rewriteForHost('/tmpfile', mounts, '127.1.0.5')).toBe('/tmpfile');
  expect(rewriteForHost('plain value', [], '127.1.0.5')).toBe('plain value');
});

test('the wildcard listen address becomes the pod address', () => {
  expect(rewriteForHost('http://0.0.0.0:2379', mounts, '127.1.0.5')).toBe('http://127.1.0.5:2379');
  expect(rewriteForHost('PLAINTEXT://0.0.0.0:9092', [], '127.1.0.5')).toBe(
    'PLAINTEXT://127.1.0.5:9092',
  );
});

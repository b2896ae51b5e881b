import { ConfigError, loadConfig } from '../../src/config.js';

test('TLS and SASL are off by default, with all mechanisms listed', () => {
  const config = loadConfig({});
  expect(config.tls).toEqual({
    enabled: false,
    certFile: null,
    keyFile: null,
    caFile: null,
    clientAuth: 'none',
    reloadIntervalSec: 30,
  });
  expect(config.sasl).toEqual({
    enabled: false,
    mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'],
  });
});

test('mechanisms are parsed in order, case-insensitively, without duplicates', () => {
  const config = loadConfig({
    KAFSCALE_SASL_ENABLED: 'true',
    KAFSCALE_SASL_MECHANISMS: ' plain, SCRAM-SHA-256,PLAIN ',
  });
  expect(config.sasl).toEqual({ enabled: true, mechanisms: ['PLAIN', 'SCRAM-SHA-256'] });
});

test.each([
  [{ KAFSCALE_TLS_ENABLED: 'true' }, 'KAFSCALE_TLS_CERT_FILE is required'],
  [{ KAFSCALE_TLS_ENABLED: 'true', KAFSCALE_TLS_CERT_FILE: 'c' }, 'KAFSCALE_TLS_KEY_FILE'],
  [
    {
      KAFSCALE_TLS_ENABLED: 'true',
      KAFSCALE_TLS_CERT_FILE: 'c',
      KAFSCALE_TLS_KEY_FILE: 'k',
      KAFSCALE_TLS_CLIENT_AUTH: 'required',
    },
    'KAFSCALE_TLS_CA_FILE is required with client auth required',
  ],
  [{ KAFSCALE_TLS_CLIENT_AUTH: 'want' }, 'KAFSCALE_TLS_CLIENT_AUTH must be none'],
  [{ KAFSCALE_TLS_RELOAD_INTERVAL_SEC: '0' }, 'KAFSCALE_TLS_RELOAD_INTERVAL_SEC'],
  [{ KAFSCALE_SASL_MECHANISMS: 'GSSAPI' }, 'KAFSCALE_SASL_MECHANISMS may list'],
  [{ KAFSCALE_SASL_MECHANISMS: ' , ' }, 'KAFSCALE_SASL_MECHANISMS is empty'],
  [{ KAFSCALE_SASL_ENABLED: 'maybe' }, 'KAFSCALE_SASL_ENABLED must be true or false'],
])('%j is refused naming the variable', (env, message) => {
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfig(env)).toThrow(message);
});

#!/usr/bin/env node
import path from 'node:path';
import { loadConfig, ConfigError } from '../config.js';
import { Broker } from '../broker.js';
import { createLogger } from '../logger.js';

// The broker process: configured only by KAFSCALE_* environment variables.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`kafscale-broker: invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let broker: Broker;
  try {
    broker = await Broker.start(config, logger);
  } catch (err) {
    console.error(
      `kafscale-broker: failed to start: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exit(1);
  }
  const storage = config.s3.bucket
    ? `s3://${config.s3.bucket}/${config.namespace}`
    : path.resolve(config.dataDir);
  const meta = config.etcd.endpoints.length
    ? `etcd ${config.etcd.endpoints.join(',')}`
    : 'embedded';
  const metrics =
    broker.metricsPort === null || !config.metrics
      ? 'off'
      : `http://${config.metrics.host}:${broker.metricsPort}/metrics`;
  console.log(
    `KafScale broker ${broker.context.self.nodeId} listening on ${config.listenHost}:${broker.port} (data: ${storage}, metadata: ${meta}, metrics: ${metrics})`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    broker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();

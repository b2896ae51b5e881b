import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Apache Kafka's message definitions, shipped beside the project in ../shared. */
export const DEFINITIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/kafka-protocol/message',
);

export const definitionsPresent = fs.existsSync(DEFINITIONS_DIR);

if (!definitionsPresent) {
  console.warn(`skipping schema-driven protocol tests: ${DEFINITIONS_DIR} is absent`);
}

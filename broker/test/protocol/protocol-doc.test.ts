import fs from 'node:fs';
import { PROTOCOL_DOC, PROTOCOL_NOTES, renderProtocolDoc } from '../../scripts/protocol-doc.js';
import { buildRegistry } from '../../src/handlers/registry.js';
import type { BrokerContext } from '../../src/broker-context.js';
import { HandlerRegistry } from '../../src/server/handler-registry.js';
import { apiVersionsHandler } from '../../src/handlers/api-versions.js';
import { API_DEFINITIONS } from '../../src/protocol/generated/index.js';

function section(doc: string, heading: string | null): string[] {
  const lines = doc.split('\n');
  const start = heading === null ? 0 : lines.indexOf(heading);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start, end < 0 ? undefined : end).filter((l) => /^\| \d/.test(l));
}

describe('renderProtocolDoc', () => {
  const registry = new HandlerRegistry();
  registry.register(apiVersionsHandler(registry));
  const doc = renderProtocolDoc(registry);

  test('lists every registered API with its advertised versions and flexible version', () => {
    expect(section(doc, null)).toEqual(['| 18 | ApiVersions | 0–4 | v3 |']);
  });

  test('advertised versions come from the handler, not the codec', () => {
    const narrow = new HandlerRegistry();
    narrow.register({ apiKey: 3, minVersion: 1, maxVersion: 9, handle: () => null });
    narrow.register({ apiKey: 17, minVersion: 0, maxVersion: 1, handle: () => null });
    expect(section(renderProtocolDoc(narrow), null)).toEqual([
      '| 3 | Metadata | 1–9 | v9 |',
      '| 17 | SaslHandshake | 0–1 | never |',
    ]);
  });

  test('lists every generated API that is not served, in key order', () => {
    const rows = section(doc, '## Generated but not served');
    expect(rows).toHaveLength(API_DEFINITIONS.length - 1);
    expect(rows[0]).toBe('| 0 | Produce | 0–11 | v9 |');
    expect(rows).toContain('| 3 | Metadata | 0–12 | v9 |');
    expect(rows).toContain('| 47 | OffsetDelete | 0–0 | never |');
    expect(rows.some((r) => r.includes('ApiVersions'))).toBe(false);
    const keys = rows.map((r) => Number(r.split('|')[1]));
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });

  test('is a markdown document with table headers', () => {
    expect(doc.startsWith('# Kafka protocol support\n')).toBe(true);
    expect(doc).toContain('| Key | API | Versions | Flexible from |\n| ---: | --- | --- | --- |');
    expect(doc.endsWith('\n')).toBe(true);
  });
});

test('docs/protocol.md is in sync with the broker registry (run: npx tsx broker/scripts/protocol-doc.ts)', () => {
  const registry = buildRegistry({} as BrokerContext);
  expect(fs.readFileSync(PROTOCOL_DOC, 'utf8')).toBe(renderProtocolDoc(registry, PROTOCOL_NOTES));
});

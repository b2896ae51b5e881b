import { API_DEFINITIONS, type ApiDefinition } from '../protocol/generated/index.js';
import type { AnyHandler } from '../handlers/handler.js';

export interface RegisteredApi {
  definition: ApiDefinition;
  handler: AnyHandler;
  minVersion: number;
  maxVersion: number;
}

/** The APIs this broker answers; ApiVersions and docs/protocol.md are built from it. */
export class HandlerRegistry {
  private readonly byKey = new Map<number, RegisteredApi>();

  register(handler: AnyHandler): this {
    const definition = API_DEFINITIONS.find((d) => d.apiKey === handler.apiKey);
    if (!definition) throw new Error(`no generated codec for api key ${handler.apiKey}`);
    if (handler.minVersion < definition.minVersion || handler.maxVersion > definition.maxVersion) {
      throw new Error(`${definition.name}: handler versions outside the generated codec's`);
    }
    this.byKey.set(handler.apiKey, {
      definition,
      handler,
      minVersion: handler.minVersion,
      maxVersion: handler.maxVersion,
    });
    return this;
  }

  get(apiKey: number): RegisteredApi | undefined {
    return this.byKey.get(apiKey);
  }

  /** Registered APIs in api-key order. */
  list(): RegisteredApi[] {
    return [...this.byKey.values()].sort((a, b) => a.definition.apiKey - b.definition.apiKey);
  }
}

// The HTTP front of the emulator: routing, content negotiation and the write pipeline shared by
// create, update, patch, apply and the subresources. Plain HTTP on loopback, no authn/authz.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { recordUpdate, serverSideApply, type ListKeys, type Scope } from './apply.js';
import { builtinResources, normaliseBuiltin } from './builtins.js';
import {
  acceptedStatus,
  applyDefaults,
  celCauses,
  prune,
  resourcesOfCrd,
  schemaCauses,
  schemaListKeys,
  validateCrd,
} from './crd.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, VERSION_INFO } from './discovery.js';
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  invalid,
  methodNotAllowed,
  notFound,
  type StatusCause,
} from './errors.js';
import {
  collectGarbage,
  CRD_CLEANUP_FINALIZER,
  type ClusterOps,
  type Entry,
  type Propagation,
} from './gc.js';
import { writeKubeconfig } from './kubeconfig.js';
import { openApiDocument, openApiIndex } from './openapi.js';
import { jsonPatch, mergePatch, strategicMergeKey, strategicMergePatch } from './patch.js';
import { formatLabelSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { Storage } from './storage.js';
import { toTable, type IncludeObject } from './table.js';
import { apiVersionOf, type KObject, type ResourceDef } from './types.js';
import { serveWatch, type ActiveWatch } from './watch.js';

export interface ApiServerOptions {
  host?: string;
  port?: number;
  /** Events kept for resuming watches; older resourceVersions get 410 Expired. */
  historyLimit?: number;
  /** Longest a watch may stay open (the real server's --min-request-timeout). */
  watchTimeoutSeconds?: number;
  bookmarkIntervalSeconds?: number;
}

export interface RequestRecord {
  method: string;
  url: string;
  contentType?: string;
  accept?: string;
  status?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const resourceKey = (def: { group: string; plural: string }): string =>
  `${def.group}/${def.plural}`;
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const INITIAL_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

interface Route {
  group: string;
  version: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

interface WriteContext {
  manager: string;
  dryRun: boolean;
  fieldValidation: string;
  warnings: string[];
  subresource?: string;
}

export class ApiServer {
  readonly storage: Storage;
  readonly requests: RequestRecord[] = [];
  private readonly builtins = builtinResources();
  private customDefs: ResourceDef[] = [];
  private readonly watches = new Set<ActiveWatch>();
  private gcScheduled = false;
  private stopped = false;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: Required<ApiServerOptions>,
  ) {
    this.storage = new Storage(options.historyLimit);
  }

  static async start(options: ApiServerOptions = {}): Promise<ApiServer> {
    const opts: Required<ApiServerOptions> = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      historyLimit: options.historyLimit ?? 1000,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? 1800,
      bookmarkIntervalSeconds: options.bookmarkIntervalSeconds ?? 60,
    };
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const api = new ApiServer(server, `http://${opts.host}:${port}`, opts);
    server.on('request', (req, res) => void api.handle(req, res));
    api.storage.subscribe(() => api.scheduleControllers());
    for (const name of INITIAL_NAMESPACES) {
      api.create(
        api.def('', 'v1', 'namespaces')!,
        undefined,
        { metadata: { name } },
        api.context('system'),
      );
    }
    return api;
  }

  /** Writes a kubeconfig for this server and returns its path. */
  writeKubeconfig(file?: string, namespace?: string): string {
    return writeKubeconfig(this.url, file, namespace);
  }

  /** Ends every open watch as a server-side timeout would; clients re-watch. */
  closeWatches(): void {
    for (const w of [...this.watches]) w.close();
  }

  /** Ends every open watch with 410 Expired and forgets history; clients must relist. */
  expireWatches(): void {
    this.storage.compact();
    for (const w of [...this.watches]) w.expire();
  }

  activeWatchCount(): number {
    return this.watches.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closeWatches();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- registry ----

  resources(): ResourceDef[] {
    return [...this.builtins, ...this.customDefs];
  }

  private def(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.resources().find(
      (d) => d.group === group && d.version === version && d.plural === plural,
    );
  }

  /** The version objects of a resource are stored in (the CRD's storage version). */
  private storageDef(def: ResourceDef): ResourceDef {
    if (!def.custom) return def;
    return (
      this.customDefs.find(
        (d) => d.group === def.group && d.plural === def.plural && d.custom?.storage,
      ) ?? def
    );
  }

  private refreshCustomResources(): void {
    this.customDefs = this.storage
      .list('apiextensions.k8s.io/customresourcedefinitions')
      .flatMap((crd) => resourcesOfCrd(crd));
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
    };
    this.requests.push(record);
    if (this.requests.length > 2000) this.requests.splice(0, 1000);
    const warnings: string[] = [];
    try {
      const body = await readBody(req);
      if (body.length > 0 && /protobuf|cbor/.test(req.headers['content-type'] ?? '')) {
        // Typed client-go clients (kubectl create <kind>, kubectl run) send protobuf bodies.
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the emulator only decodes JSON and YAML request bodies, not ${req.headers['content-type']}`,
        );
      }
      const out = this.route(req, res, body, warnings);
      if (out === undefined) return;
      record.status = out.status;
      this.send(res, out.status, out.body, warnings);
    } catch (e) {
      const err =
        e instanceof ApiError
          ? e
          : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      if (!(e instanceof ApiError)) console.error(e);
      record.status = err.code;
      if (!res.headersSent) this.send(res, err.code, err.toStatus(), warnings);
      else res.end();
    }
  }

  private send(res: ServerResponse, status: number, body: unknown, warnings: string[]): void {
    const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json' };
    if (warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
    res.writeHead(status, headers);
    res.end(JSON.stringify(body));
  }

  private route(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    warnings: string[],
  ): { status: number; body: unknown } | undefined {
    const url = new URL(req.url ?? '/', this.url);
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const segs = url.pathname.split('/').filter((s) => s !== '');
    const defs = this.resources();
    const ok = (b: unknown): { status: number; body: unknown } => ({ status: 200, body: b });

    if (url.pathname === '/version') return ok(VERSION_INFO);
    if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') {
      return ok('ok');
    }
    if (url.pathname === '/openapi/v3') return ok(openApiIndex(defs));
    if (segs[0] === 'openapi' && segs[1] === 'v3' && segs.length > 2) {
      const gv = segs.slice(2).join('/');
      const list = defs.filter(
        (d) => (d.group ? `apis/${d.group}/${d.version}` : `api/${d.version}`) === gv,
      );
      if (list.length === 0)
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return ok(openApiDocument(list));
    }
    if (url.pathname === '/api') return ok(apiVersions(new URL(this.url).host));
    if (url.pathname === '/apis') return ok(apiGroupList(defs));

    let route: Route;
    if (segs[0] === 'api' && segs.length >= 2) {
      route = this.parseRoute('', segs[1], segs.slice(2));
    } else if (segs[0] === 'apis' && segs.length === 2) {
      const group = apiGroup(defs, segs[1]);
      if (!group)
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return ok(group);
    } else if (segs[0] === 'apis' && segs.length >= 3) {
      route = this.parseRoute(segs[1], segs[2], segs.slice(3));
    } else {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (!route.plural) {
      const gv = route.group ? `${route.group}/${route.version}` : route.version;
      const list = defs.filter((d) => d.group === route.group && d.version === route.version);
      if (list.length === 0)
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      return ok(apiResourceList(list, gv));
    }
    const def = this.def(route.group, route.version, route.plural);
    if (
      !def ||
      (route.namespace !== undefined && !def.namespaced) ||
      (def.namespaced && route.name && route.namespace === undefined)
    ) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (route.subresource && !this.hasSubresource(def, route.subresource)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const ctx = this.context(
      q.get('fieldManager') ?? (req.headers['user-agent'] ?? 'unknown').split('/')[0],
      q,
      warnings,
      route.subresource,
    );
    const accept = req.headers.accept ?? '';
    const ns = route.namespace;

    if (!route.name) {
      switch (method) {
        case 'GET':
          if (q.get('watch') === 'true' || q.get('watch') === '1') {
            this.watch(def, ns, q, accept, res);
            return undefined;
          }
          return ok(this.list(def, ns, q, accept));
        case 'POST': {
          const created = this.create(def, ns, parseJson(body), ctx);
          return { status: 201, body: this.output(def, created, accept, q) };
        }
        case 'DELETE':
          return ok(this.deleteCollection(def, ns, q, parseJsonOptional(body)));
        default:
          throw methodNotAllowed();
      }
    }

    const name = route.name;
    switch (method) {
      case 'GET': {
        const obj = this.mustGet(def, ns, name);
        if (route.subresource === 'scale') return ok(this.toScale(def, obj));
        return ok(this.output(def, obj, accept, q));
      }
      case 'PUT': {
        const payload = parseJson(body);
        if (route.subresource === 'scale')
          return ok(this.writeScale(def, ns, name, () => payload, ctx));
        const updated = this.update(def, ns, name, payload, ctx);
        return ok(this.output(def, updated, accept, q));
      }
      case 'PATCH': {
        const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
        if (route.subresource === 'scale') {
          return ok(
            this.writeScale(
              def,
              ns,
              name,
              (current) => this.applyPatch(def, type, current, body, true),
              ctx,
            ),
          );
        }
        const result = this.patch(def, ns, name, type, body, ctx, q.get('force') === 'true');
        return {
          status: result.created ? 201 : 200,
          body: this.output(def, result.obj, accept, q),
        };
      }
      case 'DELETE': {
        const opts = { ...parseJsonOptional(body) };
        if (q.get('propagationPolicy')) opts.propagationPolicy = q.get('propagationPolicy');
        if (q.get('dryRun')) opts.dryRun = [q.get('dryRun')];
        const out = this.delete(def, ns, name, opts);
        return ok(this.output(def, out, accept, q));
      }
      default:
        throw methodNotAllowed();
    }
  }

  private parseRoute(group: string, version: string, rest: string[]): Route {
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const namespaced = this.resources().some(
        (d) => d.group === group && d.version === version && d.plural === rest[2] && d.namespaced,
      );
      if (namespaced) {
        return {
          group,
          version,
          namespace: rest[1],
          plural: rest[2],
          name: rest[3],
          subresource: rest[4],
        };
      }
    }
    return { group, version, plural: rest[0] ?? '', name: rest[1], subresource: rest[2] };
  }

  private hasSubresource(def: ResourceDef, sub: string): boolean {
    if (sub === 'status') return def.status;
    if (sub === 'scale') return def.scale !== undefined;
    return sub === 'finalize' && def.plural === 'namespaces' && def.group === '';
  }

  private context(
    manager: string,
    q?: URLSearchParams,
    warnings: string[] = [],
    subresource?: string,
  ): WriteContext {
    return {
      manager,
      dryRun: q?.get('dryRun') === 'All',
      fieldValidation: q?.get('fieldValidation') ?? 'Warn',
      warnings,
      subresource,
    };
  }

  // ---- output ----

  /** The object as the requested version, or as a Table / PartialObjectMetadata if asked. */
  private output(def: ResourceDef, obj: KObject, accept: string, q: URLSearchParams): unknown {
    const shaped = this.versioned(def, obj);
    const as = negotiate(accept);
    if (as === 'Table')
      return toTable(def, [shaped], includeOf(q), {
        resourceVersion: obj.metadata.resourceVersion,
      });
    if (as === 'PartialObjectMetadata') return partial(shaped);
    return shaped;
  }

  private versioned(def: ResourceDef, obj: KObject): KObject {
    return { ...obj, apiVersion: apiVersionOf(def), kind: def.kind };
  }

  private mustGet(def: ResourceDef, ns: string | undefined, name: string): KObject {
    const obj = this.storage.get(resourceKey(def), ns, name);
    if (!obj) throw notFound(def.group, def.plural, name);
    return obj;
  }

  // ---- list & watch ----

  private selector(q: URLSearchParams): (o: KObject) => boolean {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'));
    return (o) => labels(o) && fields(o);
  }

  private list(
    def: ResourceDef,
    ns: string | undefined,
    q: URLSearchParams,
    accept: string,
  ): unknown {
    const matches = this.selector(q);
    let items = this.storage.list(resourceKey(def), ns).filter(matches);
    const rv = String(this.storage.currentRV());
    const meta: Obj = { resourceVersion: rv };
    const token = q.get('continue');
    if (token) {
      let after: string;
      try {
        after = (JSON.parse(Buffer.from(token, 'base64').toString()) as { start: string }).start;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > after);
    }
    const limit = Number(q.get('limit') ?? '0');
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1];
      meta.continue = Buffer.from(
        JSON.stringify({ rv, start: `${last.metadata.namespace ?? ''}/${last.metadata.name}` }),
      ).toString('base64');
      meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    const shaped = items.map((o) => this.versioned(def, o));
    const as = negotiate(accept);
    if (as === 'Table') return toTable(def, shaped, includeOf(q), meta);
    if (as === 'PartialObjectMetadata') {
      return {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: meta,
        items: shaped.map(partial),
      };
    }
    return { kind: def.listKind, apiVersion: apiVersionOf(def), metadata: meta, items: shaped };
  }

  private watch(
    def: ResourceDef,
    ns: string | undefined,
    q: URLSearchParams,
    accept: string,
    res: ServerResponse,
  ): void {
    const sendInitialEvents = q.get('sendInitialEvents') === 'true';
    const allowBookmarks = q.get('allowWatchBookmarks') === 'true';
    if (
      sendInitialEvents &&
      (!allowBookmarks || q.get('resourceVersionMatch') !== 'NotOlderThan')
    ) {
      throw invalid('ListOptions', 'meta.k8s.io', '', [
        {
          reason: 'FieldValueForbidden',
          field: 'sendInitialEvents',
          message:
            'Forbidden: sendInitialEvents requires allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan',
        },
      ]);
    }
    const requested = Number(q.get('timeoutSeconds') ?? '0');
    const max = this.options.watchTimeoutSeconds;
    const timeout = requested > 0 ? Math.min(requested, max) : max;
    const asTable = negotiate(accept) === 'Table';
    const include = includeOf(q);
    let watch: ActiveWatch | undefined = undefined;
    watch = serveWatch(
      res,
      {
        storage: this.storage,
        resource: resourceKey(def),
        namespace: ns,
        matches: this.selector(q),
        resourceVersion: q.get('resourceVersion') ?? undefined,
        sendInitialEvents,
        allowBookmarks,
        timeoutMs: timeout * 1000,
        bookmarkIntervalMs: this.options.bookmarkIntervalSeconds * 1000,
        render: (o) => {
          const shaped = this.versioned(def, o);
          return asTable
            ? toTable(def, [shaped], include, { resourceVersion: o.metadata.resourceVersion })
            : shaped;
        },
        bookmark: (rv, end) => ({
          kind: def.kind,
          apiVersion: apiVersionOf(def),
          metadata: {
            resourceVersion: rv,
            ...(end ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}),
          },
        }),
      },
      () => {
        if (watch) this.watches.delete(watch);
      },
    );
    if (watch) this.watches.add(watch);
  }

  // ---- writes ----

  private scopeOf(def: ResourceDef, subresource?: string): Scope {
    const listKeys: ListKeys = def.custom
      ? (names, field) =>
          names[0] === 'metadata'
            ? builtinListKeys(names, field)
            : schemaListKeys(def.custom?.schema)(names, field)
      : builtinListKeys;
    return {
      listKeys,
      ignoreTop: (field) =>
        subresource === 'status'
          ? field !== 'status' && field !== 'metadata'
          : def.status && field === 'status',
    };
  }

  private checkNamespace(
    def: ResourceDef,
    ns: string | undefined,
    kind: string,
    name: string,
  ): void {
    if (!def.namespaced || ns === undefined) return;
    const namespace = this.storage.get('/namespaces', undefined, ns);
    if (!namespace) throw notFound('', 'namespaces', ns);
    if (namespace.metadata.deletionTimestamp) {
      throw new ApiError(
        403,
        'Forbidden',
        `${def.plural}${def.group ? '.' + def.group : ''} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        {
          name,
          group: def.group || undefined,
          kind,
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: `namespace ${ns} is being terminated`,
              field: 'metadata.namespace',
            },
          ],
        },
      );
    }
  }

  create(
    def: ResourceDef,
    ns: string | undefined,
    body: unknown,
    ctx: WriteContext,
    applied?: boolean,
  ): KObject {
    if (!isObj(body)) throw badRequest('the body of the request was not a JSON object');
    const obj = structuredClone(body) as KObject;
    this.checkKind(def, obj);
    obj.metadata = isObj(obj.metadata) ? obj.metadata : {};
    const meta = obj.metadata;
    if (def.namespaced) {
      if (meta.namespace && meta.namespace !== ns) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = ns;
    } else delete meta.namespace;
    if (!meta.name && meta.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++)
        suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
      meta.name = `${meta.generateName}${suffix}`;
    }
    const name = meta.name ?? '';
    if (!name) {
      throw invalid(def.kind, def.group, '', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ]);
    }
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
      throw invalid(def.kind, def.group, name, [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ]);
    }
    this.checkNamespace(def, ns, def.kind, name);
    const key = resourceKey(def);
    if (this.storage.get(key, ns, name)) throw alreadyExists(def.group, def.plural, name);
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    meta.generation = 1;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (!applied) delete meta.managedFields;
    if (def.status && def.plural !== 'customresourcedefinitions') delete obj.status;
    obj.apiVersion = apiVersionOf(this.storageDef(def));
    obj.kind = def.kind;

    if (def.group === '' && def.plural === 'namespaces') {
      obj.spec = { ...(isObj(obj.spec) ? obj.spec : {}), finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      meta.labels = { ...(meta.labels ?? {}), 'kubernetes.io/metadata.name': name };
    }
    if (def.group === 'apiextensions.k8s.io' && def.plural === 'customresourcedefinitions') {
      validateCrd(obj);
      this.checkCrdNames(obj);
      meta.finalizers = [...new Set([...(meta.finalizers ?? []), CRD_CLEANUP_FINALIZER])];
      obj.status = acceptedStatus(obj, now());
    }
    normaliseBuiltin(def, obj);
    this.admitCustom(def, obj, undefined, ctx);
    if (!applied)
      recordUpdate(
        undefined,
        obj,
        ctx.manager,
        apiVersionOf(def),
        ctx.subresource,
        this.scopeOf(def, ctx.subresource),
      );
    if (ctx.dryRun) return obj;
    const stored = this.storage.put(key, obj, 'ADDED');
    if (def.plural === 'customresourcedefinitions') this.refreshCustomResources();
    return stored;
  }

  private checkKind(def: ResourceDef, obj: KObject): void {
    if (obj.kind !== undefined && obj.kind !== def.kind) {
      throw badRequest(
        `the object provided is unrecognized (kind ${String(obj.kind)} does not match ${def.kind})`,
      );
    }
    const group = obj.apiVersion?.includes('/') ? obj.apiVersion.split('/')[0] : '';
    if (obj.apiVersion !== undefined && group !== def.group) {
      throw badRequest(
        `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(def)})`,
      );
    }
  }

  private checkCrdNames(crd: KObject): void {
    const spec = crd.spec as { group: string; names: { plural: string; kind: string } };
    const clash = this.resources().find(
      (d) => d.group === spec.group && d.kind === spec.names.kind && d.plural !== spec.names.plural,
    );
    if (clash) {
      throw invalid('CustomResourceDefinition', 'apiextensions.k8s.io', crd.metadata.name ?? '', [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.names.kind',
          message: `Invalid value: "${spec.names.kind}": is already in use`,
        },
      ]);
    }
  }

  /** Prune, default and validate a custom resource (and, on update, its transition rules). */
  private admitCustom(
    def: ResourceDef,
    obj: KObject,
    old: KObject | undefined,
    ctx: WriteContext,
  ): void {
    const schema = def.custom?.schema;
    if (!def.custom || !schema) return;
    const dropped = prune(obj, schema);
    if (dropped.length > 0) {
      if (ctx.fieldValidation === 'Strict') {
        const list = dropped.map((d) => `unknown field "${d}"`);
        throw badRequest(
          `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${list.join(', ')}`,
        );
      }
      if (ctx.fieldValidation === 'Warn')
        for (const d of dropped) ctx.warnings.push(`unknown field "${d}"`);
    }
    applyDefaults(obj, schema);
    const causes: StatusCause[] = [...schemaCauses(obj, schema)];
    if (causes.length === 0) causes.push(...celCauses(obj, old, schema));
    if (causes.length > 0) throw invalid(def.kind, def.group, obj.metadata.name ?? '', causes);
  }

  update(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    body: unknown,
    ctx: WriteContext,
  ): KObject {
    if (!isObj(body)) throw badRequest('the body of the request was not a JSON object');
    const next = structuredClone(body) as KObject;
    this.checkKind(def, next);
    next.metadata = isObj(next.metadata) ? next.metadata : {};
    if (next.metadata.name && next.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const old = this.mustGet(def, ns, name);
    const rv = next.metadata.resourceVersion;
    if (!rv && def.custom) {
      throw invalid(def.kind, def.group, name, [
        {
          reason: 'FieldValueInvalid',
          field: 'metadata.resourceVersion',
          message: 'Invalid value: 0x0: must be specified for an update',
        },
      ]);
    }
    if (rv && rv !== old.metadata.resourceVersion) {
      throw conflict(
        def.group,
        def.plural,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    return this.commit(def, old, next, ctx);
  }

  /** The shared tail of every update: subresource rules, generation, admission, ownership. */
  private commit(
    def: ResourceDef,
    old: KObject,
    incoming: KObject,
    ctx: WriteContext,
    applied?: boolean,
  ): KObject {
    const sub = ctx.subresource;
    let next: KObject;
    if (sub === 'status') {
      next = { ...structuredClone(old), status: incoming.status };
      if (applied) next.metadata.managedFields = incoming.metadata.managedFields;
    } else {
      next = incoming;
      if (def.status || def.plural === 'customresourcedefinitions') {
        if (old.status === undefined) delete next.status;
        else next.status = structuredClone(old.status);
      }
    }
    const meta = next.metadata;
    for (const k of [
      'uid',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
    ] as const) {
      if (old.metadata[k] === undefined) delete meta[k];
      else meta[k] = old.metadata[k] as never;
    }
    meta.name = old.metadata.name;
    if (def.namespaced) meta.namespace = old.metadata.namespace;
    else delete meta.namespace;
    meta.resourceVersion = old.metadata.resourceVersion;
    if (!applied) meta.managedFields = old.metadata.managedFields;
    next.apiVersion = old.apiVersion;
    next.kind = def.kind;
    if (def.group === '' && def.plural === 'namespaces' && sub !== 'finalize') {
      next.spec = old.spec;
    }
    if (old.metadata.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter(
        (f) => !(old.metadata.finalizers ?? []).includes(f),
      );
      if (added.length > 0) {
        throw invalid(def.kind, def.group, meta.name ?? '', [
          {
            reason: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
      }
    }
    if (def.plural === 'customresourcedefinitions') {
      validateCrd(next);
      next.status = { ...(isObj(next.status) ? next.status : {}), ...acceptedStatus(next, now()) };
    }
    normaliseBuiltin(def, next);
    this.admitCustom(def, next, old, ctx);
    omitEmptyMeta(next);
    const specOf = (o: KObject): string => {
      const { metadata: _m, status, ...rest } = o;
      return JSON.stringify(def.status || def.custom ? rest : { ...rest, status });
    };
    if (specOf(old) !== specOf(next)) meta.generation = (old.metadata.generation ?? 0) + 1;
    if (!applied)
      recordUpdate(old, next, ctx.manager, apiVersionOf(def), sub, this.scopeOf(def, sub));
    if (sameContent(old, next)) return old;
    if (ctx.dryRun) return next;
    const stored = this.storage.put(resourceKey(def), next, 'MODIFIED');
    if (def.plural === 'customresourcedefinitions') this.refreshCustomResources();
    return this.finishDeletionIfDone(def, stored);
  }

  private finishDeletionIfDone(def: ResourceDef, obj: KObject): KObject {
    if (!obj.metadata.deletionTimestamp || (obj.metadata.finalizers ?? []).length > 0) return obj;
    if (def.plural === 'namespaces' && def.group === '') {
      if (((obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).length > 0)
        return obj;
    }
    const gone =
      this.storage.remove(resourceKey(def), obj.metadata.namespace, obj.metadata.name!) ?? obj;
    if (def.plural === 'customresourcedefinitions') this.refreshCustomResources();
    return gone;
  }

  private applyPatch(
    def: ResourceDef,
    type: string,
    current: KObject,
    body: Buffer,
    isScale = false,
  ): KObject {
    switch (type) {
      case 'application/merge-patch+json':
        return mergePatch(current, parseJson(body)) as KObject;
      case 'application/json-patch+json':
        return jsonPatch(current, parseJson(body)) as KObject;
      case 'application/strategic-merge-patch+json':
        if (def.custom && !isScale) throw unsupportedPatch();
        return strategicMergePatch(current, parseJson(body)) as KObject;
      default:
        throw unsupportedPatch();
    }
  }

  patch(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    type: string,
    body: Buffer,
    ctx: WriteContext,
    force: boolean,
  ): { obj: KObject; created: boolean } {
    if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+json') {
      return this.apply(def, ns, name, body, ctx, force);
    }
    const old = this.mustGet(def, ns, name);
    const patched = this.applyPatch(def, type, old, body);
    if (!isObj(patched) || !isObj(patched.metadata))
      throw badRequest('the patch produced an object without metadata');
    const rv = patched.metadata.resourceVersion;
    if (rv !== undefined && rv !== old.metadata.resourceVersion) {
      throw conflict(
        def.group,
        def.plural,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    return { obj: this.commit(def, old, patched, ctx), created: false };
  }

  private apply(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    body: Buffer,
    ctx: WriteContext,
    force: boolean,
  ): { obj: KObject; created: boolean } {
    if (!ctx.manager || ctx.manager === 'unknown')
      throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set');
    let applied: unknown;
    try {
      applied = parseYaml(body.toString('utf8'));
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
    if (!isObj(applied)) throw badRequest('apply configuration must be an object');
    const cfg = applied as KObject;
    if (!cfg.apiVersion || !cfg.kind)
      throw badRequest('invalid object type: apiVersion and kind must be set');
    this.checkKind(def, cfg);
    cfg.metadata = isObj(cfg.metadata) ? cfg.metadata : {};
    if (cfg.metadata.name && cfg.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${cfg.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    cfg.metadata.name = name;
    const live = this.storage.get(resourceKey(def), ns, name);
    if (
      live &&
      cfg.metadata.resourceVersion &&
      cfg.metadata.resourceVersion !== live.metadata.resourceVersion
    ) {
      throw conflict(
        def.group,
        def.plural,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    const scope = this.scopeOf(def, ctx.subresource);
    const merged = serverSideApply({
      live,
      applied: cfg,
      manager: ctx.manager,
      force,
      apiVersion: apiVersionOf(def),
      subresource: ctx.subresource,
      scope,
    });
    if (!live) {
      if (ctx.subresource) throw notFound(def.group, def.plural, name);
      return { obj: this.create(def, ns, merged, ctx, true), created: true };
    }
    return { obj: this.commit(def, live, merged, ctx, true), created: false };
  }

  // ---- scale ----

  private toScale(def: ResourceDef, obj: KObject): Record<string, unknown> {
    const paths = def.scale!;
    const read = (path: string | undefined): unknown => (path ? getPath(obj, path) : undefined);
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: Number(read(paths.specReplicasPath) ?? (def.custom ? 0 : 1)) },
      status: {
        replicas: Number(read(paths.statusReplicasPath) ?? 0),
        ...(paths.labelSelectorPath
          ? { selector: formatLabelSelector(read(paths.labelSelectorPath)) }
          : {}),
      },
    };
  }

  private writeScale(
    def: ResourceDef,
    ns: string | undefined,
    name: string,
    change: (current: KObject) => unknown,
    ctx: WriteContext,
  ): unknown {
    const obj = this.mustGet(def, ns, name);
    const current = this.toScale(def, obj) as unknown as KObject;
    const next = change(structuredClone(current)) as KObject;
    const rv = next?.metadata?.resourceVersion;
    if (rv && rv !== obj.metadata.resourceVersion) {
      throw conflict(
        def.group,
        def.plural,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    const replicas = (next?.spec as { replicas?: unknown } | undefined)?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid('Scale', 'autoscaling', name, [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.replicas',
          message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
        },
      ]);
    }
    const updated = structuredClone(obj);
    setPath(updated, def.scale!.specReplicasPath, replicas);
    const saved = this.commit(def, obj, updated, { ...ctx, subresource: undefined });
    return this.toScale(def, saved);
  }

  // ---- delete ----

  delete(def: ResourceDef, ns: string | undefined, name: string, options: Obj): KObject {
    const obj = this.mustGet(def, ns, name);
    const pre = isObj(options.preconditions) ? options.preconditions : {};
    if (pre.uid && pre.uid !== obj.metadata.uid) {
      throw conflict(
        def.group,
        def.plural,
        name,
        `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${obj.metadata.uid}`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
      throw conflict(
        def.group,
        def.plural,
        name,
        `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
      );
    }
    const dryRun = Array.isArray(options.dryRun) && options.dryRun.includes('All');
    const policy = (options.propagationPolicy ??
      (options.orphanDependents === true ? 'Orphan' : 'Background')) as Propagation;
    if (!['Background', 'Foreground', 'Orphan'].includes(policy)) {
      throw invalid('DeleteOptions', 'meta.k8s.io', name, [
        {
          reason: 'FieldValueNotSupported',
          field: 'propagationPolicy',
          message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
        },
      ]);
    }
    if (obj.metadata.deletionTimestamp) return obj;
    const finalizers = [...(obj.metadata.finalizers ?? [])];
    if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion'))
      finalizers.push('foregroundDeletion');
    const isNamespace = def.group === '' && def.plural === 'namespaces';
    if (dryRun) return obj;
    if (finalizers.length > 0 || isNamespace) {
      const next = structuredClone(obj);
      next.metadata.finalizers = finalizers.length > 0 ? finalizers : undefined;
      if (!next.metadata.finalizers) delete next.metadata.finalizers;
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (isNamespace)
        next.status = { ...(isObj(next.status) ? next.status : {}), phase: 'Terminating' };
      return this.storage.put(resourceKey(def), next, 'MODIFIED');
    }
    const gone = this.storage.remove(resourceKey(def), ns, name) ?? obj;
    if (def.plural === 'customresourcedefinitions') this.refreshCustomResources();
    return gone;
  }

  private deleteCollection(
    def: ResourceDef,
    ns: string | undefined,
    q: URLSearchParams,
    options: Obj,
  ): unknown {
    const matches = this.selector(q);
    const items = this.storage
      .list(resourceKey(def), ns)
      .filter(matches)
      .map((o) =>
        this.versioned(def, this.delete(def, o.metadata.namespace, o.metadata.name!, options)),
      );
    return {
      kind: def.listKind,
      apiVersion: apiVersionOf(def),
      metadata: { resourceVersion: String(this.storage.currentRV()) },
      items,
    };
  }

  // ---- controllers ----

  private scheduleControllers(): void {
    if (this.gcScheduled || this.stopped) return;
    this.gcScheduled = true;
    setTimeout(() => {
      this.gcScheduled = false;
      if (!this.stopped) collectGarbage(this.clusterOps());
    }, 5);
  }

  private clusterOps(): ClusterOps {
    const entries = (): Entry[] => {
      const out: Entry[] = [];
      const seen = new Set<string>();
      for (const def of this.resources()) {
        const key = resourceKey(def);
        if (seen.has(key)) continue;
        seen.add(key);
        const sdef = this.storageDef(def);
        for (const obj of this.storage.list(key)) out.push({ def: sdef, obj });
      }
      return out;
    };
    return {
      entries,
      delete: (def, obj, policy) => {
        try {
          this.delete(def, obj.metadata.namespace, obj.metadata.name!, {
            propagationPolicy: policy,
          });
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      },
      mutate: (def, obj, change) => {
        const current = this.storage.get(
          resourceKey(def),
          obj.metadata.namespace,
          obj.metadata.name!,
        );
        if (!current || current.metadata.uid !== obj.metadata.uid) return;
        const next = structuredClone(current);
        change(next);
        this.commitSystem(def, current, next);
      },
      instancesOf: (crd) => {
        const spec = crd.spec as { group: string; names: { plural: string } };
        const def = this.customDefs.find(
          (d) => d.group === spec.group && d.plural === spec.names.plural,
        );
        if (!def) return [];
        const sdef = this.storageDef(def);
        return this.storage.list(resourceKey(def)).map((obj) => ({ def: sdef, obj }));
      },
    };
  }

  /** Controller writes skip admission: they only touch metadata the server manages. */
  private commitSystem(def: ResourceDef, old: KObject, next: KObject): void {
    omitEmptyMeta(next);
    if (sameContent(old, next)) return;
    const stored = this.storage.put(resourceKey(def), next, 'MODIFIED');
    this.finishDeletionIfDone(def, stored);
  }
}

// ---- helpers ----

function builtinListKeys(names: string[], field: string): string[] | 'set' | undefined {
  const key = strategicMergeKey(names, field);
  return key === undefined || key === 'set' ? key : [key];
}

/** Go's omitempty: empty metadata lists and maps are not serialised, so they do not exist. */
function omitEmptyMeta(o: KObject): void {
  for (const k of ['finalizers', 'ownerReferences', 'labels', 'annotations'] as const) {
    const v = o.metadata[k];
    if (
      v === null ||
      (Array.isArray(v) && v.length === 0) ||
      (isObj(v) && Object.keys(v).length === 0)
    ) {
      delete o.metadata[k];
    }
  }
}

function sameContent(a: KObject, b: KObject): boolean {
  const strip = (o: KObject): string => {
    const { managedFields: _mf, resourceVersion: _rv, ...meta } = o.metadata;
    return stableJson({ ...o, metadata: meta });
  };
  return strip(a) === strip(b) && stableJson(managedSets(a)) === stableJson(managedSets(b));
}

function managedSets(o: KObject): string[] {
  return (o.metadata.managedFields ?? [])
    .map((e) => stableJson([e.manager, e.operation, e.subresource ?? '', e.fieldsV1]))
    .sort();
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function partial(o: KObject): KObject {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

function negotiate(accept: string): 'Table' | 'PartialObjectMetadata' | 'Object' {
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split('=').map((s) => s.trim())));
    if (type !== 'application/json' && type !== '*/*' && type !== 'application/*') continue;
    if (!p.as) return 'Object';
    if (p.g !== 'meta.k8s.io') continue;
    if (p.as === 'Table') return 'Table';
    if (p.as === 'PartialObjectMetadata' || p.as === 'PartialObjectMetadataList')
      return 'PartialObjectMetadata';
  }
  return 'Object';
}

function includeOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function unsupportedPatch(): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw badRequest(`the body of the request could not be decoded: ${(e as Error).message}`);
  }
}

function parseJsonOptional(body: Buffer): Obj {
  if (body.length === 0) return {};
  const v = parseJson(body);
  return isObj(v) ? v : {};
}

function splitPath(path: string): string[] {
  return path
    .replace(/^\./, '')
    .split('.')
    .filter((s) => s !== '');
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const seg of splitPath(path)) cur = isObj(cur) ? cur[seg] : undefined;
  return cur;
}

function setPath(obj: Obj, path: string, value: unknown): void {
  const segs = splitPath(path);
  let cur = obj;
  for (const seg of segs.slice(0, -1)) {
    if (!isObj(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Obj;
  }
  cur[segs[segs.length - 1]] = value;
}

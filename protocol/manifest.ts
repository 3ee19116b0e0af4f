/** The shape of protocol/methods.json (the manifest). */
export type JsonSchema = Record<string, unknown>;

export interface RestMapping {
  /** HTTP verb. */
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path under the server root, with `{field}` placeholders named after params fields. */
  path: string;
  /** Success status; default 200. */
  status?: number;
  /** Status when the request asked `Prefer: respond-async`. */
  asyncStatus?: number;
}

export interface MethodEntry {
  kind: 'request' | 'notification';
  direction: 'clientToServer' | 'serverToClient';
  group: string;
  /** Definition name of the params schema. */
  params: string;
  /** Definition name of the result schema (requests only). */
  result?: string;
  summary: string;
  rest?: RestMapping;
  /** Error names (protocol/errors.json) this method raises beyond the manifest's `commonErrors`. */
  errors?: string[];
  /** Needs an admin API key (or the local user: stdio, loopback without keys); other keys get Forbidden. */
  admin?: boolean;
}

/** A /v1 route that is not one method call: an SSE stream or one of the bridge's own documents. */
export interface HttpRoute {
  method: 'GET';
  path: string;
  /** For SSE routes: the method whose params (path parameters + query + Last-Event-ID as `since`) start the stream. */
  stream?: string;
  /** For SSE routes: the params fields a client may give in the query string. */
  query?: string[];
  /** For SSE routes: what the `id:` field carries, the per-session `seq` or the server-wide event `id`. */
  position?: 'seq' | 'id';
  /** Definition name of a JSON result. */
  result?: string;
  summary: string;
  /** Error names this route raises beyond `commonErrors`. */
  errors?: string[];
  /** Served without an API key (it holds no secret). */
  public?: boolean;
}

export interface Manifest {
  /** Error names any request can get (bad input, auth, limits, shutdown). */
  commonErrors?: string[];
  methods: Record<string, MethodEntry>;
  /** Event type → definition name of its data. */
  events: Record<string, string>;
  /** Bridge-only routes by name. */
  http: Record<string, HttpRoute | string>;
}

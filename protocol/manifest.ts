/** The shape of protocol/methods.json (the manifest). */
export type JsonSchema = Record<string, unknown>;

export interface RestMapping {
  /** HTTP verb. */
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
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
}

export interface Manifest {
  methods: Record<string, MethodEntry>;
  /** Event type → definition name of its data. */
  events: Record<string, string>;
}

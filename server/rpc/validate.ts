/**
 * Run-time validation against the protocol's own schemas (the generated bundle), with ajv.
 * Validators compile lazily, once per definition, so start-up pays only for what is used.
 */
import type { ErrorObject as AjvError, ValidateFunction } from 'ajv';
import { compileValidator, errorsText } from './ajv-backend.js';
import { RpcError } from './errors.js';

const cache = new Map<string, ValidateFunction>();

export function validatorFor(definition: string): ValidateFunction {
  let v = cache.get(definition);
  if (!v) {
    v = compileValidator(definition);
    if (!v) throw new Error(`no schema definition ${definition}`);
    cache.set(definition, v);
  }
  return v;
}

/** The field an ajv error is about, as a dotted path (`content`, `clientInfo.name`, `content[0].type`). */
function fieldOf(e: AjvError): string {
  let path = e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[');
  const extra = (e.params as { missingProperty?: string; additionalProperty?: string }).missingProperty
    ?? (e.params as { additionalProperty?: string }).additionalProperty;
  if (extra) path = path ? `${path}.${extra}` : extra;
  return path || '(params)';
}

function reasonOf(e: AjvError): string {
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'additionalProperties') return 'is not allowed';
  return e.message ?? 'is invalid';
}

/** Validates `value` against a definition; throws InvalidParams naming the first bad field. */
export function validateParams(definition: string, value: unknown): void {
  const v = validatorFor(definition);
  if (v(value)) return;
  const errors = (v.errors ?? []).slice(0, 5);
  const first = errors[0];
  throw RpcError.invalidParams(first ? fieldOf(first) : '(params)', first ? reasonOf(first) : 'is invalid',
    errors.map((e) => ({ field: fieldOf(e), reason: reasonOf(e) })));
}

/** True when value matches the definition (used to check results in tests and debug mode). */
export function matches(definition: string, value: unknown): { ok: boolean; errors?: string } {
  const v = validatorFor(definition);
  return v(value) ? { ok: true } : { ok: false, errors: errorsText(v.errors) };
}

/**
 * Where validate.ts gets its compiled validators: here, ajv compiles them at run time from the
 * protocol's schema bundle. The esbuild bundle (server/bundle.mjs) replaces this module with
 * validators precompiled at build time (ajv standalone code), so `agentd` neither loads ajv's
 * compiler nor compiles at start (cold start and idle memory, bench/).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as formatsModule from 'ajv-formats';
import { schemaBundle } from '../../protocol/index.js';

type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats = ((formatsModule as unknown as { default: FormatsPlugin }).default ?? formatsModule) as FormatsPlugin;

/** The ajv options; the bundle's precompiled validators are built with the same. */
export const AJV_OPTIONS = { allErrors: false, strict: false, validateFormats: true } as const;

let ajv: Ajv | undefined;
function instance(): Ajv {
  if (!ajv) {
    ajv = new Ajv(AJV_OPTIONS);
    addFormats(ajv);
    ajv.addSchema(schemaBundle as object, 'agentd');
  }
  return ajv;
}

/** The validator of one definition of the schema bundle, or undefined if there is none. */
export function compileValidator(definition: string): ValidateFunction | undefined {
  return instance().getSchema(`agentd#/definitions/${definition}`);
}

export function errorsText(errors: ErrorObject[] | null | undefined): string {
  return instance().errorsText(errors);
}

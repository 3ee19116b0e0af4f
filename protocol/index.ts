/** The wire contract: generated types, method/event/error constants and the schema bundle. */
export * from './generated/types.js';
export * from './generated/methods.js';
export { schemaBundle } from './generated/schema.js';

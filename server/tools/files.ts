/**
 * The built-in file tools: read_file, write_file, edit_file, list_files, grep. Every path goes
 * through resolveInWorkspace and every file is opened without following a symlink from a
 * directory pinned on the way down from the root (workspace.ts); writes go through a temp file
 * and a rename. list_files and grep run in a worker thread with a time limit (search.ts), and
 * their results are checked against the root there.
 */
import { stat } from 'node:fs/promises';
import type { BuiltinContext, BuiltinTool } from './builtin-tool.js';
import { runSearch } from './search.js';
import { checkPattern, display, readInWorkspace, resolveInWorkspace, ToolError, writeInWorkspace } from './workspace.js';

/** Largest file read_file / edit_file will load. */
const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** Largest text read_file returns (the rest is cut with a note). */
const MAX_READ_CHARS = 256 * 1024;
const MAX_LIST = 1000;
const DEFAULT_GREP_MATCHES = 200;
const MAX_GREP_MATCHES = 2000;

/** A file's text: from the client serving the session's files (still checked against the root), else the disk. */
async function loadText({ root, hidden, files, signal }: BuiltinContext, path: string): Promise<{ file: string; text: string }> {
  if (files?.read) {
    const file = resolveInWorkspace(root, path, hidden);
    return { file, text: await files.read(file, signal) };
  }
  const { file, data } = await readInWorkspace(root, path, MAX_FILE_BYTES, hidden);
  if (data.includes(0)) throw new ToolError(`${display(root, file)} is a binary file`);
  return { file, text: data.toString('utf8') };
}

/** Writes a file: through the client serving the session's files, else to the disk. Returns the real path. */
async function saveText({ root, hidden, files, signal }: BuiltinContext, path: string, content: string): Promise<string> {
  if (files?.write) {
    const file = resolveInWorkspace(root, path, hidden);
    await files.write(file, content, signal);
    return file;
  }
  return writeInWorkspace(root, path, content, hidden);
}

const count = (hay: string, needle: string) => {
  let n = 0;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
};

export const readFileTool: BuiltinTool = {
  name: 'read_file',
  description: 'Read a text file in the workspace. Optional 1-based inclusive line range (start_line, end_line).',
  readOnly: true,
  inputSchema: {
    type: 'object', additionalProperties: false, required: ['path'],
    properties: {
      path: { type: 'string', description: 'File path, relative to the workspace root.' },
      start_line: { type: 'integer', minimum: 1, description: 'First line to return (1-based). Default 1.' },
      end_line: { type: 'integer', minimum: 1, description: 'Last line to return (inclusive). Default: the last line.' },
    },
  },
  async run(input, ctx) {
    const { text } = await loadText(ctx, input.path as string);
    const start = (input.start_line as number | undefined) ?? 1;
    const end = input.end_line as number | undefined;
    if (end !== undefined && end < start) throw new ToolError(`end_line (${end}) is before start_line (${start})`);
    let out = text;
    if (input.start_line !== undefined || end !== undefined) {
      const lines = text.split('\n');
      if (start > lines.length) throw new ToolError(`start_line ${start} is past the end of the file (${lines.length} lines)`);
      out = lines.slice(start - 1, end ?? lines.length).join('\n');
    }
    if (out.length > MAX_READ_CHARS) out = `${out.slice(0, MAX_READ_CHARS)}\n[truncated: ${out.length - MAX_READ_CHARS} more characters; read a line range]`;
    return out;
  },
};

export const writeFileTool: BuiltinTool = {
  name: 'write_file',
  description: 'Create or overwrite a file in the workspace with the given content (parent directories are created).',
  readOnly: false,
  inputSchema: {
    type: 'object', additionalProperties: false, required: ['path', 'content'],
    properties: {
      path: { type: 'string', description: 'File path, relative to the workspace root.' },
      content: { type: 'string', description: 'The whole new content.' },
    },
  },
  async run(input, ctx) {
    const content = input.content as string;
    const file = await saveText(ctx, input.path as string, content);
    return `Wrote ${Buffer.byteLength(content)} bytes to ${display(ctx.root, file)}`;
  },
};

export const editFileTool: BuiltinTool = {
  name: 'edit_file',
  description: 'Replace an exact string in a file. Fails if old_string occurs zero times, or more than once unless replace_all is true.',
  readOnly: false,
  inputSchema: {
    type: 'object', additionalProperties: false, required: ['path', 'old_string', 'new_string'],
    properties: {
      path: { type: 'string', description: 'File path, relative to the workspace root.' },
      old_string: { type: 'string', minLength: 1, description: 'The exact text to replace (whitespace included).' },
      new_string: { type: 'string', description: 'The replacement.' },
      replace_all: { type: 'boolean', description: 'Replace every occurrence. Default false.' },
    },
  },
  async run(input, ctx) {
    const { root } = ctx;
    const { file, text } = await loadText(ctx, input.path as string);
    const oldStr = input.old_string as string;
    const newStr = input.new_string as string;
    const n = count(text, oldStr);
    const name = display(root, file);
    if (n === 0) throw new ToolError(`old_string not found in ${name}; nothing changed`);
    if (n > 1 && !input.replace_all) throw new ToolError(`old_string occurs ${n} times in ${name}; give more context to make it unique, or set replace_all; nothing changed`);
    const next = input.replace_all ? text.split(oldStr).join(newStr) : text.replace(oldStr, () => newStr);
    await saveText(ctx, display(root, file), next);
    return `Replaced ${n} occurrence${n === 1 ? '' : 's'} in ${name}`;
  },
};

export const listFilesTool: BuiltinTool = {
  name: 'list_files',
  description: `List files in the workspace matching a glob (default **/*), sorted; node_modules and .git are skipped; at most ${MAX_LIST}.`,
  readOnly: true,
  inputSchema: {
    type: 'object', additionalProperties: false,
    properties: {
      pattern: { type: 'string', description: 'Glob, e.g. `src/**/*.ts`. Default `**/*`.' },
      path: { type: 'string', description: 'Directory to list from, relative to the workspace root. Default `.`.' },
    },
  },
  async run(input, { root, hidden, signal, limits }) {
    const dir = resolveInWorkspace(root, (input.path as string | undefined) ?? '.', hidden);
    const pattern = (input.pattern as string | undefined) ?? '**/*';
    checkPattern(pattern, 'pattern');
    return runSearch({ kind: 'list', root, hidden, dir, pattern, max: MAX_LIST }, limits().searchTimeoutMs, signal);
  },
};

export const grepTool: BuiltinTool = {
  name: 'grep',
  description: `Search files in the workspace for a regular expression (JavaScript syntax). Prints path:line:text; output is bounded (max_results, default ${DEFAULT_GREP_MATCHES}).`,
  readOnly: true,
  inputSchema: {
    type: 'object', additionalProperties: false, required: ['pattern'],
    properties: {
      pattern: { type: 'string', minLength: 1, description: 'Regular expression.' },
      path: { type: 'string', description: 'File or directory to search, relative to the workspace root. Default `.`.' },
      glob: { type: 'string', description: 'Only files matching this glob, e.g. `**/*.ts`.' },
      ignore_case: { type: 'boolean', description: 'Case-insensitive. Default false.' },
      max_results: { type: 'integer', minimum: 1, maximum: MAX_GREP_MATCHES, description: `Stop after this many matching lines. Default ${DEFAULT_GREP_MATCHES}.` },
    },
  },
  async run(input, { root, hidden, signal, limits }) {
    const pattern = input.pattern as string;
    const flags = input.ignore_case ? 'i' : '';
    try {
      new RegExp(pattern, flags); // compiling is cheap; matching is what runs in the worker
    } catch (err) {
      throw new ToolError(`Invalid regular expression: ${(err as Error).message}`);
    }
    if (input.glob !== undefined) checkPattern(input.glob as string, 'glob');
    const max = (input.max_results as number | undefined) ?? DEFAULT_GREP_MATCHES;
    const target = resolveInWorkspace(root, (input.path as string | undefined) ?? '.', hidden);
    const st = await stat(target).catch(() => undefined);
    if (!st) throw new ToolError(`Not found: ${input.path as string}`);
    return runSearch({ kind: 'grep', root, hidden, target, isDir: st.isDirectory(), pattern, flags, glob: input.glob as string | undefined, max }, limits().searchTimeoutMs, signal);
  },
};

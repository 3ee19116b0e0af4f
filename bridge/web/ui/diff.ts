/**
 * The diff of a file edit, from the tool call's own input: `edit_file` replaces old_string with
 * new_string; `write_file` sets the whole content (shown as added lines: the old content is not in
 * the call). The unified diff is made by jsdiff and drawn by diff2html, then sanitized like the
 * model's text (file names and lines are the model's).
 */
import DOMPurify from 'dompurify';
import { createTwoFilesPatch } from 'diff';
import { html as diffHtml } from 'diff2html';

/** Inputs larger than this are not diffed (characters of old + new). */
const DIFF_MAX = 200_000;

export interface EditDiff { path: string; patch: string; note?: string }

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The diff a write_file / edit_file call makes (or would make), or undefined for other tools. */
export function editDiff(tool: string, input: unknown): EditDiff | undefined {
  const i = (input ?? {}) as Record<string, unknown>;
  const path = str(i.path);
  if (!path) return undefined;
  let before: string;
  let after: string;
  let note: string | undefined;
  if (tool === 'edit_file' && str(i.old_string) !== undefined && str(i.new_string) !== undefined) {
    before = i.old_string as string;
    after = i.new_string as string;
    if (i.replace_all) note = 'every occurrence';
  } else if (tool === 'write_file' && str(i.content) !== undefined) {
    before = '';
    after = i.content as string;
    note = 'whole file content';
  } else return undefined;
  if (before.length + after.length > DIFF_MAX) return { path, patch: '', note: `too large to show (${before.length + after.length} characters)` };
  const nl = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);
  const patch = createTwoFilesPatch(`a/${path}`, `b/${path}`, nl(before), nl(after), '', '', { context: 3 });
  return { path, patch, note };
}

/** A file of session/diff (the workspace's snapshots: what any tool, run_command included, changed) as an EditDiff. */
export function snapshotDiff(f: { path: string; status: string; patch?: string; binary?: boolean; patchTruncated?: boolean }): EditDiff {
  const note = f.binary ? `binary file ${f.status}` : f.patchTruncated ? 'diff cut at 256 KiB' : f.patch ? undefined : `${f.status}, no content change`;
  return { path: f.path, patch: f.patch ?? '', ...(note ? { note } : {}) };
}

/** The diff drawn as a sanitized element (class `diff`). */
export function renderDiff(d: EditDiff): HTMLElement {
  const box = document.createElement('div');
  box.className = 'diff';
  if (d.note) {
    const n = document.createElement('div');
    n.className = 'diff-note';
    n.textContent = `${d.path}: ${d.note}`;
    box.appendChild(n);
  }
  if (d.patch) {
    const html = diffHtml(d.patch, { drawFileList: false, outputFormat: 'line-by-line', matching: 'none', colorScheme: 'auto' as never });
    box.appendChild(DOMPurify.sanitize(html, {
      FORBID_TAGS: ['script', 'style', 'iframe', 'object', 'embed', 'form', 'img', 'svg', 'math', 'a', 'input', 'button'],
      FORBID_ATTR: ['style', 'href', 'src'], ALLOW_DATA_ATTR: false, RETURN_DOM_FRAGMENT: true,
    }) as unknown as DocumentFragment);
  }
  return box;
}

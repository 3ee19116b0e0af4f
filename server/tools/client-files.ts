/**
 * Sessions whose file reads and writes a client serves (session/files; ACP's fs/read_text_file and
 * fs/write_text_file): the built-in file tools then ask that connection (`file/read`,
 * `file/write`) instead of the disk, so the model reads the editor's unsaved buffers and its
 * edits land in them. Paths are resolved and checked against the workspace root (and the hidden
 * data directory) here before the client sees them; the client only holds the contents. A binding
 * lasts while its connection is open; every request is bounded in time and size.
 */
import { CLIENT_FILE_TIMEOUT_MS } from '../config/defaults.js';
import { ToolError } from './workspace.js';

/** Largest text a client may answer to file/read (as read_file's own limit on disk). */
const MAX_CLIENT_FILE_CHARS = 10 * 1024 * 1024;

/** What a file tool reads and writes through, when a client serves the session's files. */
export interface FileAccess {
  read?(path: string, signal: AbortSignal): Promise<string>;
  write?(path: string, content: string, signal: AbortSignal): Promise<void>;
}

/** The connection that serves the files (a Peer). */
export interface FilePeer {
  readonly id: string;
  readonly closed: boolean;
  request?(method: string, params: unknown, signal?: AbortSignal): Promise<unknown>;
  onClose(fn: () => void): void;
}

interface Binding { peer: FilePeer; read: boolean; write: boolean }

const messageOf = (err: unknown) => String((err as { message?: unknown })?.message ?? err).slice(0, 500);

export class ClientFiles {
  private bound = new Map<string, Binding>();
  private watched = new Set<string>();

  /** Binds (or, with both false, unbinds) the session's files to `peer`. */
  set(sessionId: string, peer: FilePeer, read: boolean, write: boolean): { sessionId: string; read: boolean; write: boolean } {
    const current = this.bound.get(sessionId);
    if (!read && !write) {
      if (current?.peer === peer || !current) this.bound.delete(sessionId);
      return { sessionId, read: false, write: false };
    }
    this.bound.set(sessionId, { peer, read, write });
    if (!this.watched.has(peer.id)) {
      this.watched.add(peer.id);
      peer.onClose(() => {
        this.watched.delete(peer.id);
        for (const [id, b] of this.bound) if (b.peer === peer) this.bound.delete(id);
      });
    }
    return { sessionId, read, write };
  }

  /** The session's FileAccess, or undefined: the local disk. */
  access(sessionId: string): FileAccess | undefined {
    const b = this.bound.get(sessionId);
    if (!b || b.peer.closed || !b.peer.request) return undefined;
    const call = (method: string, params: Record<string, unknown>, signal: AbortSignal, what: string) => {
      const limit = AbortSignal.any([signal, AbortSignal.timeout(CLIENT_FILE_TIMEOUT_MS)]);
      return new Promise<unknown>((resolve, reject) => {
        const onAbort = () => reject(new ToolError(signal.aborted ? `${what}: cancelled` : `${what}: the client did not answer within ${CLIENT_FILE_TIMEOUT_MS} ms`));
        if (limit.aborted) return onAbort();
        limit.addEventListener('abort', onAbort, { once: true });
        b.peer.request!(method, params, limit).then(resolve, (err) => reject(new ToolError(`${what} failed in the client: ${messageOf(err)}`)))
          .finally(() => limit.removeEventListener('abort', onAbort));
      });
    };
    return {
      ...(b.read ? {
        read: async (path: string, signal: AbortSignal) => {
          const r = await call('file/read', { sessionId, path }, signal, `Reading ${path}`) as { content?: unknown } | null;
          if (typeof r?.content !== 'string') throw new ToolError(`Reading ${path}: the client's answer has no text content`);
          if (r.content.length > MAX_CLIENT_FILE_CHARS) throw new ToolError(`Reading ${path}: larger than ${MAX_CLIENT_FILE_CHARS} characters`);
          return r.content;
        },
      } : {}),
      ...(b.write ? {
        write: async (path: string, content: string, signal: AbortSignal) => {
          await call('file/write', { sessionId, path, content }, signal, `Writing ${path}`);
        },
      } : {}),
    };
  }
}

/**
 * The chat UI's two message types: what a host posts to the UI (ToView) and what the UI posts back
 * (FromView). The UI (bridge/web/ui/index.ts) runs in the page at `/` and in the VS Code webview;
 * the hosts (bridge/web/main.ts in the browser, extension/src/chatView.ts + controller.ts in VS Code)
 * answer FromView with the client library, mostly through the shared ChatSessionHost (host.ts).
 */
import type {
  FileDiff, ImagePart, McpServer, Message, PermissionAnswerer, PermissionDecision, PermissionRequestParams, Provider, Session,
  SnapshotSkipped, TypedEvent,
} from '../../../protocol/client/index.js';

/** Messages the host posts to the UI. */
export type ToView =
  | { type: 'state'; state: string; detail?: string }
  | { type: 'history'; session: Session; messages: Message[]; messagesCursor?: string | null }
  | { type: 'event'; event: TypedEvent }
  | { type: 'permission'; request: PermissionRequestParams }
  | { type: 'permissionClosed'; permissionId: string; decision?: string; by?: PermissionAnswerer | 'you' }
  | { type: 'sessions'; sessions: Session[]; currentId?: string; search?: string }
  | { type: 'providers'; providers: Provider[]; selected?: string }
  /** What the server offers: its methods, the approval decisions it takes, whether snapshots work. */
  | { type: 'capabilities'; methods: string[]; decisions?: PermissionDecision[]; snapshots?: boolean }
  /** session/diff: of one turn (turnId) or of the whole session. */
  | { type: 'diff'; sessionId: string; turnId?: string; files: FileDiff[]; skipped?: SnapshotSkipped[] }
  /** An older page of the transcript (session/messages with `before`), oldest first. */
  | { type: 'older'; sessionId: string; messages: Message[]; nextCursor: string | null }
  /** The MCP servers (mcp/list), for the sidebar's sign-in. */
  | { type: 'mcp'; servers: McpServer[] }
  | { type: 'noSession' }
  | { type: 'error'; message: string };

/** Messages the UI posts to the host. */
export type FromView =
  | { type: 'ready' }
  | { type: 'send'; text: string; images?: Array<Pick<ImagePart, 'mediaType' | 'data'>> }
  | { type: 'cancel' }
  | { type: 'newSession' }
  | { type: 'listSessions'; search?: string }
  | { type: 'openSession'; sessionId: string }
  | { type: 'renameSession'; sessionId: string; name: string }
  | { type: 'deleteSession'; sessionId: string }
  | { type: 'forkSession'; sessionId: string; messageId: string }
  | { type: 'revertSession'; sessionId: string; messageId: string }
  | { type: 'unrevertSession'; sessionId: string }
  | { type: 'compactSession'; sessionId: string }
  | { type: 'diff'; sessionId: string; turnId?: string }
  | { type: 'loadOlder'; sessionId: string; before: string }
  | { type: 'listMcp' }
  | { type: 'mcpSignIn'; name: string }
  | { type: 'selectModel'; provider: string; model: string }
  | { type: 'approve'; permissionId: string; decision: PermissionDecision; reason?: string };

/**
 * Every default of the server in one place: the config document's (`limits`, rate limits, model
 * request sizes, MCP timeouts) and the timings tuned by environment variables (the HTTP port's
 * request timeouts, WebSocket pings, shutdown, the recovery sweep), which are read when used.
 * Leaf module: it imports only protocol types, so any layer may read it.
 */
import type { CompactionConfig, Limits, SnapshotsConfig } from '../../protocol/index.js';

export const DEFAULT_LIMITS: Required<Limits> = {
  maxSteps: 25,
  maxBodyBytes: 4 * 1024 * 1024,
  maxSubscriptions: 1000,
  maxConcurrentTurns: 256,
  sendBufferBytes: 16 * 1024 * 1024,
  totalSendBufferBytes: 256 * 1024 * 1024,
  eventRetention: 100_000,
  commandTimeoutMs: 120_000,
  searchTimeoutMs: 10_000,
};

/** Workspace snapshots (server/snapshot/): on, 10 MiB per file, 20,000 files, 60 s per git command. */
export const DEFAULT_SNAPSHOTS: Required<SnapshotsConfig> = {
  enabled: true,
  maxFileBytes: 10 * 1024 * 1024,
  maxFiles: 20_000,
  timeoutMs: 60_000,
};

/** Compaction (server/session/compaction.ts): automatic at 80% of the model's context window. */
export const DEFAULT_COMPACTION: Required<CompactionConfig> = {
  threshold: 0.8,
  auto: true,
};

/** `security.rateLimit`: REST per key/IP per minute; the WebSocket token bucket. */
export const DEFAULT_RATE = { requestsPerMinute: 600, messagesPerSecond: 100, burst: 200 };

/** `agentd serve --port`. */
export const DEFAULT_PORT = 4096;

/** The store (`store.url`): SQLite in the data directory; on PostgreSQL a node's lease lasts 15 s (`store.leaseSeconds`). */
export const DEFAULT_STORE = { url: 'sqlite', leaseSeconds: 15 };

/** `providers.<id>.maxRetries`: the provider SDKs' retries of a failed request. */
export const DEFAULT_MAX_RETRIES = 3;

/** `approvals.timeoutMs` (and a session policy's): an unanswered approval is denied after it. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 300_000;

/** `providers.<id>.maxTokens` when unset (Anthropic requires one; OpenAI-compatible requests send none). */
export const DEFAULT_MAX_TOKENS = 4096;

/** `mcpServers.<name>.timeoutMs` (one tool call) and `connectTimeoutMs` (connect and list tools). */
export const DEFAULT_MCP_TIMEOUT_MS = 60_000;
export const DEFAULT_MCP_CONNECT_TIMEOUT_MS = 30_000;
/** Most MCP servers of sessions (session/mcp) connected at once, over all sessions (each may be a process). */
export const MAX_SESSION_MCP_SERVERS = 64;
/** How long a built-in file tool waits for a client's file/read or file/write (session/files). */
export const CLIENT_FILE_TIMEOUT_MS = 30_000;
/** A tool call that timed out is followed by a ping bounded by this, to tell a hung server from a slow tool. */
export const MCP_PING_TIMEOUT_MS = 5_000;

/** Milliseconds between SSE heartbeat comments. */
export const SSE_HEARTBEAT_MS = 15_000;

/** A positive number of milliseconds from the environment, else the default. */
function envMs(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  // Past 2^31 - 1 a Node timer fires after 1 ms: clamp, so a huge value means "rarely", not "always".
  return Number.isFinite(v) && v > 0 ? Math.min(v, 2 ** 31 - 1) : fallback;
}

/** Programs the server runs, by name on PATH unless an environment variable names another. */
export const programs = {
  /** AGENTD_SLIRP4NETNS: the user-mode network stack for sandboxed commands (an empty value: none, as if not installed). */
  slirp4netns: () => process.env.AGENTD_SLIRP4NETNS ?? 'slirp4netns',
};

/** Timings set by environment variables (for operators and tests), read at the moment of use. */
export const timings = {
  /** AGENTD_HEADERS_TIMEOUT_MS: a request's headers must arrive within it (slowloris gets 408). */
  headersTimeoutMs: () => envMs('AGENTD_HEADERS_TIMEOUT_MS', 20_000),
  /** AGENTD_REQUEST_TIMEOUT_MS: a whole request with its body. */
  requestTimeoutMs: () => envMs('AGENTD_REQUEST_TIMEOUT_MS', 120_000),
  /** AGENTD_WS_PING_MS: WebSocket ping interval; a dead peer is dropped within two. */
  wsPingMs: () => envMs('AGENTD_WS_PING_MS', 30_000),
  /** AGENTD_SHUTDOWN_TIMEOUT_MS: upper bound of a graceful shutdown. */
  shutdownTimeoutMs: () => envMs('AGENTD_SHUTDOWN_TIMEOUT_MS', 5_000),
  /** AGENTD_RECOVERY_SWEEP_MS: how often turns of dead processes sharing the data dir are recovered. */
  recoverySweepMs: () => envMs('AGENTD_RECOVERY_SWEEP_MS', 30_000),
  /** AGENTD_HOUSEKEEPING_MS: how often expired idempotency records and claimed approval answers are dropped (also at start). */
  housekeepingMs: () => envMs('AGENTD_HOUSEKEEPING_MS', 60 * 60_000),
};

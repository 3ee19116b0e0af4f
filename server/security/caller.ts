/**
 * Who sends a request: the user of the API key it was admitted with, and whether that key is an
 * admin key. A request without a caller comes from the local user (stdio, loopback without
 * keys): full rights, as before users existed.
 */
export interface Caller {
  user: string;
  /** May manage keys and change config (methods marked `admin` in the manifest). */
  admin: boolean;
}

/**
 * The user of keys created before users existed (or without `--user`), and the owner of sessions
 * created without a key.
 */
export const DEFAULT_USER = 'default';

/** A user name (protocol `UserName`): 1 to 64 of letters, digits and `_ . @ + -`, starting with a letter, digit or `_`. */
export const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9._@+-]{0,63}$/;

/** What the access rules read of a session. */
export interface SessionAcl {
  owner?: string;
  sharedWith?: readonly string[];
}

export const ownerOf = (s: SessionAcl) => s.owner ?? DEFAULT_USER;

/** Whether the caller may see and drive the session: the local user, its owner or a user it is shared with. */
export function mayUse(s: SessionAcl, caller: Caller | undefined): boolean {
  if (!caller) return true;
  return ownerOf(s) === caller.user || (s.sharedWith?.includes(caller.user) ?? false);
}

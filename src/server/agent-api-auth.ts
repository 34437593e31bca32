/**
 * Bearer tokens for the agent API. Two kinds:
 * - agent tokens, from a file: either one token on its own (shared: any node
 *   may use it — the lab token) or lines `<node> <token>` that bind a token
 *   to one node (`* <token>` for any node); `#` starts a comment;
 * - admin tokens, from another file, one per line: they may ask for
 *   probe-now and read its answers.
 * Tokens are compared in constant time (SHA-256 digests compared with
 * timingSafeEqual, every token checked, no early exit). The files are
 * re-read when they change, so a rotated Secret takes effect without a
 * restart. Kubernetes TokenReview (service-account tokens bound to the
 * agent's pod and node) is not implemented yet: see docs/agent.md, gaps.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { badInput, NodeWardenError } from '../core/errors.ts';

/** An agent's `node` is `*` for a shared token that any node may use. */
export type Principal =
  { readonly kind: 'agent'; readonly node: string } | { readonly kind: 'admin' };

export interface TokenEntry<P = Principal> {
  readonly digest: Buffer;
  readonly principal: P;
}

/** Shorter tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/** SHA-256 of a token: what token files are compared by (in constant time). */
export const digest = (token: string): Buffer =>
  createHash('sha256').update(token, 'utf8').digest();

/** A token long enough not to be guessed, without spaces; BAD_INPUT naming `where` otherwise. */
export function checkToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw badInput(
      `${where}: a token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`,
      'generate one with: openssl rand -hex 32',
    );
  }
  return token;
}

/** Reads an agent token file's text; `file` names it in errors. */
export function parseAgentTokens(text: string, file: string): readonly TokenEntry[] {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');
  if (lines.length === 0) {
    throw badInput(
      `agent token file ${file} holds no token`,
      'put one token in it, or lines "<node> <token>"',
    );
  }
  return lines.map((line, i) => {
    const parts = line.split(/\s+/);
    if (parts.length === 1) {
      return {
        digest: digest(checkToken(parts[0] ?? '', `${file}:${i + 1}`)),
        principal: { kind: 'agent', node: '*' },
      };
    }
    if (parts.length !== 2) {
      throw badInput(
        `${file}:${i + 1}: expected "<node> <token>" or one token, got ${parts.length} words`,
        'one binding per line: the node name, a space, its token',
      );
    }
    return {
      digest: digest(checkToken(parts[1] ?? '', `${file}:${i + 1}`)),
      principal: { kind: 'agent', node: parts[0] ?? '*' },
    };
  });
}

export function parseAdminTokens(text: string, file: string): readonly TokenEntry[] {
  const tokens = text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');
  if (tokens.length === 0) {
    throw badInput(`admin token file ${file} holds no token`, 'put one token per line in it');
  }
  return tokens.map((t, i) => ({
    digest: digest(checkToken(t, `${file}:${i + 1}`)),
    principal: { kind: 'admin' },
  }));
}

/** A token file re-read when its modification time or size changes. */
export class WatchedFile<P = Principal> {
  #stamp = '';
  #entries: readonly TokenEntry<P>[] = [];
  #checkedAt = 0;

  constructor(
    readonly path: string,
    private readonly parse: (text: string, file: string) => readonly TokenEntry<P>[],
    private readonly recheckMs: number,
  ) {
    this.entries(0);
  }

  /** Throws when the file cannot be read at first; afterwards a bad rewrite keeps the last good tokens. */
  entries(now: number): readonly TokenEntry<P>[] {
    if (this.#stamp !== '' && now - this.#checkedAt < this.recheckMs) return this.#entries;
    this.#checkedAt = now;
    try {
      const st = statSync(this.path);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp !== this.#stamp) {
        this.#entries = this.parse(readFileSync(this.path, 'utf8'), this.path);
        this.#stamp = stamp;
      }
    } catch (error) {
      if (this.#stamp === '') {
        if (error instanceof NodeWardenError) throw error;
        throw new NodeWardenError('BAD_INPUT', `cannot read token file ${this.path}`, {
          hint: 'pass a readable file (a mounted Secret, or the lab token)',
          cause: error,
        });
      }
    }
    return this.#entries;
  }
}

export interface AgentAuthOptions {
  /** Absent: no agent token is valid (a controller that serves only admin routes). */
  readonly agentTokenFile?: string;
  readonly adminTokenFile?: string;
  /** How often the files' metadata is checked. Default 5 s. */
  readonly recheckMs?: number;
}

export class AgentAuth {
  readonly #files: WatchedFile[];

  constructor(options: AgentAuthOptions) {
    const recheck = options.recheckMs ?? 5_000;
    this.#files = [];
    if (options.agentTokenFile !== undefined) {
      this.#files.push(new WatchedFile(options.agentTokenFile, parseAgentTokens, recheck));
    }
    if (options.adminTokenFile !== undefined) {
      this.#files.push(new WatchedFile(options.adminTokenFile, parseAdminTokens, recheck));
    }
  }

  /** The principal a bearer token belongs to, or null. Constant time in the token's content. */
  identify(token: string, now = Date.now()): Principal | null {
    const presented = digest(token);
    let found: Principal | null = null;
    for (const file of this.#files) {
      for (const entry of file.entries(now)) {
        // No early exit: every entry is compared whatever matched.
        if (timingSafeEqual(presented, entry.digest) && found === null) found = entry.principal;
      }
    }
    return found;
  }
}

/** The token of an `Authorization: Bearer …` header; null when there is none. */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

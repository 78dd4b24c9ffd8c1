import { TbuildError } from '../../core/index.js';

/**
 * What one build brings that no other build on the engine may see (BuildKit's
 * session): its local directories, secrets and ssh agents. A build attaches its
 * session for as long as it runs; the IR names the session in the ops that read
 * from it (LocalSource.session, ExecOp.session), so a step is served by the
 * build that asked for it and never by another build's context or secrets.
 */
export interface BuildSession {
  readonly id: string;
  /** Local sources by name; the build context is `context`. */
  readonly locals: ReadonlyMap<string, string>;
  /** Secret values by id, read when a step mounts them; never stored or logged. */
  readonly secrets: ReadonlyMap<string, () => Promise<Uint8Array>>;
  /** SSH agent sockets by id (`default` first). */
  readonly sshSockets: ReadonlyMap<string, string>;
  /**
   * Fills the empty cache mount directory `dir` of mount `id` from an imported
   * cache (`cache-mounts=true`), before the first step that mounts it runs.
   */
  readonly fillCacheMount?: (id: string, dir: string, signal: AbortSignal) => Promise<void>;
}

/** The sessions of the builds running on one engine, by id. */
export class SessionRegistry {
  readonly #sessions = new Map<string, BuildSession>();

  /** Makes `session` available to steps until the returned function is called. */
  attach(session: BuildSession): () => void {
    if (this.#sessions.has(session.id))
      throw new TbuildError('TB_INTERNAL', `build session ${session.id} is already attached`);
    this.#sessions.set(session.id, session);
    return () => {
      if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
    };
  }

  /**
   * The session an op names. An op without one (IR lowered without a session,
   * as `tbuild graph` does) has no local sources, secrets or agents.
   */
  get(id: string | undefined): BuildSession {
    if (id === undefined) return EMPTY_SESSION;
    const session = this.#sessions.get(id);
    if (session === undefined)
      throw new TbuildError('TB_INTERNAL', `build session ${id} is not attached to this engine`, {
        hint: 'the build that owned it has ended',
      });
    return session;
  }
}

const EMPTY_SESSION: BuildSession = {
  id: '',
  locals: new Map(),
  secrets: new Map(),
  sshSockets: new Map(),
};

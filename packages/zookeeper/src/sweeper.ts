/**
 * Deletes, later, what could not be deleted now: contender nodes whose delete had an unknown
 * outcome (the connection failed under it), nodes of a session the trust clock gave up on while
 * the server kept it (a client you own may reconnect to it), and nodes a create may still
 * produce after its reply was lost (found by their protected prefix).
 *
 * Safe by construction: every path lockstep deletes carries a per-attempt UUID, so it can
 * only ever be our own node. An entry belongs to one ZooKeeper session; once a different
 * session is live, that session is over and its ephemeral nodes are gone with it.
 * @module
 */
import { Code, hasCode } from './errors.js';
import { basename, child } from './paths.js';
import type { ZkSession } from './session.js';
import type { SessionSource } from './source.js';

/** How often pending deletes are retried while the same session lives. */
const RETRY_MS = 1_000;

interface Entry {
  /** The session (id) whose ephemeral node this is. */
  readonly sessionId: string;
  readonly parent: string;
  /** The exact child to delete, or … */
  readonly name?: string;
  /** … any child starting with this protected prefix (a create that may land late). */
  readonly prefix?: string;
  /** `performance.now()` after which a prefix entry is dropped. */
  readonly until: number;
}

/** Deletes our leftover nodes when the session that owns them is reachable again. */
export class Sweeper {
  readonly #source: SessionSource;
  readonly #entries = new Set<Entry>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(source: SessionSource) {
    this.#source = source;
    source.onSession(() => this.#soon(0));
  }

  /** Entries not yet done (for tests). */
  get pending(): number {
    return this.#entries.size;
  }

  /** Deletes `path` (a node of `session`) once it can. */
  deleteLater(session: ZkSession, path: string): void {
    const at = path.lastIndexOf('/');
    this.#add({
      sessionId: session.id,
      parent: path.slice(0, at),
      name: path.slice(at + 1),
      until: Infinity,
    });
  }

  /**
   * Deletes any child of `parent` named with `prefix` that appears while `session` lives, for
   * about two session timeouts (by then a create sent before a lost connection has landed or
   * never will).
   */
  watchForLateCreate(session: ZkSession, parent: string, prefix: string): void {
    this.#add({ sessionId: session.id, parent, prefix, until: performance.now() + 2 * session.timeoutMs });
  }

  /** One last attempt (on close), then forget everything. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#running;
    await this.#run();
    this.#entries.clear();
  }

  #add(entry: Entry): void {
    this.#entries.add(entry);
    this.#soon(RETRY_MS / 10);
  }

  #soon(delayMs: number): void {
    if (this.#entries.size === 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running ??= this.#run().finally(() => {
        this.#running = undefined;
        if (this.#entries.size > 0) this.#soon(RETRY_MS);
      });
    }, delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    const session = this.#source.current;
    if (!session) return;
    const now = performance.now();
    for (const entry of [...this.#entries]) {
      if (entry.sessionId !== session.id || now > entry.until) {
        // Another session is live: the entry's session ended and took its nodes with it.
        this.#entries.delete(entry);
        continue;
      }
      try {
        if (entry.name !== undefined) {
          await session.remove(child(entry.parent, entry.name)).catch((error) => {
            if (!hasCode(error, Code.NO_NODE)) throw error;
          });
          this.#entries.delete(entry);
        } else if (entry.prefix !== undefined) {
          const { children } = await session.getChildren(entry.parent);
          for (const name of children.filter((c) => c.startsWith(entry.prefix!))) {
            await session.remove(child(entry.parent, basename(name))).catch(() => {});
          }
        }
      } catch (error) {
        // The parent is gone: so is anything under it.
        if (hasCode(error, Code.NO_NODE)) this.#entries.delete(entry);
        // Otherwise (connection trouble) keep it for the next run.
      }
    }
  }
}

/**
 * What `lockstep` says about itself, on stderr — stdout belongs to the wrapped command (and to
 * `counter`'s result). Plain lines for people, or one JSON object per line with `--json`.
 * @module
 */

/** Where the CLI writes (injected so tests and embedders can capture it). */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** The process's own streams. */
export const PROCESS_IO: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Reports status events: `{ event, …fields }` as JSON, or `lockstep: message`. */
export class Reporter {
  readonly #io: Io;
  readonly #json: boolean;

  constructor(io: Io, json: boolean) {
    this.#io = io;
    this.#json = json;
  }

  event(event: string, message: string, fields: Record<string, unknown> = {}): void {
    this.#io.stderr(
      this.#json
        ? `${JSON.stringify({ event, ...fields }, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))}\n`
        : `lockstep: ${message}\n`,
    );
  }
}

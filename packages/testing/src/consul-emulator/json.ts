/**
 * JSON that keeps 64-bit integers exact.
 *
 * Consul's KV `Flags` is an unsigned 64-bit integer, and real clients use values above 2^53 (the
 * `consul lock` flag value is 0x2ddccbc058a50c18). `JSON.parse` would round them, so request bodies
 * are parsed here: integers that are not safe JavaScript numbers become `bigint`; every other number
 * stays a `number`. `toJson` writes `bigint` back as a plain JSON integer.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

const MAX_DEPTH = 256;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class JsonReader {
  private position = 0;

  constructor(private readonly text: string) {}

  readDocument(): JsonValue {
    const value = this.readValue(0);
    this.skipWhitespace();
    if (this.position !== this.text.length) this.fail('unexpected trailing characters');
    return value;
  }

  private readValue(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.skipWhitespace();
    const char = this.text[this.position];
    if (char === '{') return this.readObject(depth);
    if (char === '[') return this.readArray(depth);
    if (char === '"') return this.readString();
    if (this.text.startsWith('true', this.position)) return this.advance(4, true);
    if (this.text.startsWith('false', this.position)) return this.advance(5, false);
    if (this.text.startsWith('null', this.position)) return this.advance(4, null);
    return this.readNumber();
  }

  private readObject(depth: number): { [key: string]: JsonValue } {
    const result: { [key: string]: JsonValue } = {};
    this.position++; // {
    this.skipWhitespace();
    if (this.text[this.position] === '}') return this.advance(1, result);
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.position] !== '"') this.fail('expected a property name');
      const key = this.readString();
      this.skipWhitespace();
      if (this.text[this.position] !== ':') this.fail('expected ":"');
      this.position++;
      // defineProperty so a "__proto__" member is stored as data, never as the prototype.
      Object.defineProperty(result, key, {
        value: this.readValue(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipWhitespace();
      const separator = this.text[this.position++];
      if (separator === '}') return result;
      if (separator !== ',') this.fail('expected "," or "}"');
    }
  }

  private readArray(depth: number): JsonValue[] {
    const result: JsonValue[] = [];
    this.position++; // [
    this.skipWhitespace();
    if (this.text[this.position] === ']') return this.advance(1, result);
    for (;;) {
      result.push(this.readValue(depth + 1));
      this.skipWhitespace();
      const separator = this.text[this.position++];
      if (separator === ']') return result;
      if (separator !== ',') this.fail('expected "," or "]"');
    }
  }

  private readString(): string {
    const start = this.position;
    let index = start + 1;
    while (index < this.text.length) {
      const char = this.text[index];
      if (char === '\\') index += 2;
      else if (char === '"') break;
      else index++;
    }
    if (index >= this.text.length) this.fail('unterminated string');
    this.position = index + 1;
    // The built-in parser decodes escapes exactly as the JSON grammar says.
    return JSON.parse(this.text.slice(start, this.position)) as string;
  }

  private readNumber(): number | bigint {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail('unexpected character');
    const token = match[0];
    this.position += token.length;
    const isInteger = match[1] === undefined && match[2] === undefined;
    const asNumber = Number(token);
    return isInteger && !Number.isSafeInteger(asNumber) ? BigInt(token) : asNumber;
  }

  private skipWhitespace(): void {
    while (this.position < this.text.length && ' \t\n\r'.includes(this.text[this.position] as string)) {
      this.position++;
    }
  }

  private advance<T>(count: number, value: T): T {
    this.position += count;
    return value;
  }

  private fail(reason: string): never {
    throw new SyntaxError(`invalid JSON at offset ${this.position}: ${reason}`);
  }
}

/** Parses JSON text; integers beyond ±2^53 come back as `bigint`. Throws `SyntaxError`. */
export function parseJson(text: string): JsonValue {
  return new JsonReader(text).readDocument();
}

/** Serialises a value to JSON, writing `bigint` as an exact integer and skipping `undefined` members. */
export function toJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
    case 'string':
      return JSON.stringify(value);
    default:
      break;
  }
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  const members: string[] = [];
  for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
    if (member !== undefined) members.push(`${JSON.stringify(key)}:${toJson(member)}`);
  }
  return `{${members.join(',')}}`;
}

/** Finds an object member the way Go's JSON decoder does: exact name first, then case-insensitively. */
export function memberOf(object: { [key: string]: JsonValue }, name: string): JsonValue | undefined {
  if (Object.hasOwn(object, name)) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) {
    if (key.toLowerCase() === lower) return object[key];
  }
  return undefined;
}

/** True for a plain JSON object (not an array, not null). */
export function isJsonObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

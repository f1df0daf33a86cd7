/**
 * `report.json`: validation, serialisation (bigint as string, credentials redacted) and
 * parsing back.
 * @module
 */
import { type Figure, isFigure } from '../stats.js';
import {
  BACKEND_NAMES,
  BACKEND_SOURCES,
  type BackendReport,
  InvalidReportError,
  type Report,
  TEST_STATUSES,
} from './types.js';

/**
 * Checks a report against the schema: known backend names, sources and statuses, finite
 * figures, an ISO `generatedAt`. Catches a NaN or Infinity figure here, where JSON would
 * otherwise silently turn it into `null`.
 * @throws InvalidReportError naming the first offending field.
 */
export function validateReport(report: unknown): asserts report is Report<object> {
  const root = expectObject(report, 'report');
  if (typeof root.generatedAt !== 'string' || Number.isNaN(Date.parse(root.generatedAt))) {
    throw new InvalidReportError('generatedAt', 'must be an ISO 8601 timestamp string');
  }
  const machine = expectObject(root.machine, 'machine');
  for (const key of ['node', 'platform', 'arch', 'cpuModel'] as const) {
    if (typeof machine[key] !== 'string') throw new InvalidReportError(`machine.${key}`, 'must be a string');
  }
  for (const key of ['cpus', 'memGiB'] as const) {
    if (!isFiniteNumber(machine[key]))
      throw new InvalidReportError(`machine.${key}`, 'must be a finite number');
  }
  if (root.lockstep !== undefined) {
    const lockstep = expectObject(root.lockstep, 'lockstep');
    for (const key of ['version', 'commit'] as const) {
      if (typeof lockstep[key] !== 'string')
        throw new InvalidReportError(`lockstep.${key}`, 'must be a string');
    }
  }
  if (!Array.isArray(root.backends)) throw new InvalidReportError('backends', 'must be an array');
  for (const [index, backend] of root.backends.entries()) validateBackend(backend, `backends[${index}]`);
}

function validateBackend(value: unknown, path: string): void {
  const backend = expectObject(value, path);
  if (!(BACKEND_NAMES as readonly unknown[]).includes(backend.name)) {
    throw new InvalidReportError(`${path}.name`, `must be one of ${BACKEND_NAMES.join(', ')}`);
  }
  if (typeof backend.url !== 'string') throw new InvalidReportError(`${path}.url`, 'must be a string');
  if (!(BACKEND_SOURCES as readonly unknown[]).includes(backend.source)) {
    throw new InvalidReportError(`${path}.source`, `must be one of ${BACKEND_SOURCES.join(', ')}`);
  }
  expectObject(backend.capabilities, `${path}.capabilities`);
  if (!Array.isArray(backend.tests)) throw new InvalidReportError(`${path}.tests`, 'must be an array');
  backend.tests.forEach((test, index) => {
    const at = `${path}.tests[${index}]`;
    const result = expectObject(test, at);
    if (typeof result.id !== 'string' || result.id === '') {
      throw new InvalidReportError(`${at}.id`, 'must be a non-empty string');
    }
    if (!(TEST_STATUSES as readonly unknown[]).includes(result.status)) {
      throw new InvalidReportError(`${at}.status`, `must be one of ${TEST_STATUSES.join(', ')}`);
    }
    if (!isFiniteNumber(result.ms) || result.ms < 0)
      throw new InvalidReportError(`${at}.ms`, 'must be a number ≥ 0');
    if (result.reason !== undefined && typeof result.reason !== 'string') {
      throw new InvalidReportError(`${at}.reason`, 'must be a string when present');
    }
  });
  validateFigures(backend.bench, `${path}.bench`);
  const peers = expectObject(backend.peers, `${path}.peers`);
  for (const [library, figures] of Object.entries(peers)) {
    validateFigures(figures, `${path}.peers[${JSON.stringify(library)}]`);
  }
  for (const key of ['serverVersion', 'error'] as const) {
    if (backend[key] !== undefined && typeof backend[key] !== 'string')
      throw new InvalidReportError(`${path}.${key}`, 'must be a string when present');
  }
  if (backend.missing !== undefined) {
    if (!Array.isArray(backend.missing)) throw new InvalidReportError(`${path}.missing`, 'must be an array');
    backend.missing.forEach((entry, index) => {
      const missing = expectObject(entry, `${path}.missing[${index}]`);
      if (typeof missing.metric !== 'string' || typeof missing.reason !== 'string')
        throw new InvalidReportError(`${path}.missing[${index}]`, 'must have a metric and a reason');
    });
  }
  if (backend.load !== undefined) {
    const load = expectObject(backend.load, `${path}.load`);
    for (const key of ['start', 'end'] as const) {
      const value = load[key];
      if (!Array.isArray(value) || !value.every(isFiniteNumber))
        throw new InvalidReportError(`${path}.load.${key}`, 'must be an array of load averages');
    }
  }
  if (backend.scratch !== undefined) {
    const scratch = expectObject(backend.scratch, `${path}.scratch`);
    if (typeof scratch.prefix !== 'string' || typeof scratch.removed !== 'boolean')
      throw new InvalidReportError(`${path}.scratch`, 'must have a prefix and whether it was removed');
  }
}

function validateFigures(value: unknown, path: string): void {
  const figures = expectObject(value, path);
  for (const [metric, figure] of Object.entries(figures)) {
    const at = `${path}[${JSON.stringify(metric)}]`;
    if (!isFigure(figure)) {
      throw new InvalidReportError(
        at,
        "must be { p50, p99, mean?, unit: 'ms' }, { value, unit: 'ops/s' } or { value, unit: 'ratio' }",
      );
    }
    const numbers =
      figure.unit === 'ms'
        ? [figure.p50, figure.p99, ...(figure.mean === undefined ? [] : [figure.mean])]
        : [figure.value];
    if (!numbers.every((n) => Number.isFinite(n) && n >= 0)) {
      throw new InvalidReportError(at, 'figures must be finite numbers ≥ 0');
    }
  }
}

function expectObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidReportError(path, 'must be an object');
  }
  return value as Record<string, unknown>;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Hides credentials in a URL before it is shown or written: the password of
 * `scheme://user:password@host` and the values of query parameters named like a secret
 * (`password`, `pass`, `token`, `secret`, `key` and variants). Works on multi-host URLs
 * (`redlock://a:1,b:2`) that `new URL` cannot parse.
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):[^@/?#]*@/i, '$1:***@')
    .replace(/([?&][^=&#]*(?:pass|token|secret|key|auth)[^=&#]*=)[^&#]*/gi, '$1***');
}

/**
 * The `report.json` text: validated, 2-space indented, bigints as decimal strings (JSON
 * has no bigint), URLs redacted with {@link redactUrl}.
 * @throws InvalidReportError when the report does not match the schema.
 */
export function reportToJson<C extends object>(report: Report<C>): string {
  validateReport(report);
  const redacted: Report<C> = {
    ...report,
    backends: report.backends.map(
      (backend): BackendReport<C> => ({ ...backend, url: redactUrl(backend.url) }),
    ),
  };
  return `${JSON.stringify(redacted, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`;
}

/**
 * Reads `report.json` text back. Bigints written as strings stay strings; capabilities
 * come back as plain JSON.
 * @throws InvalidReportError when the text is not JSON or does not match the schema.
 */
export function parseReport(text: string): Report {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidReportError('report', `not valid JSON (${(error as Error).message})`);
  }
  validateReport(parsed);
  return parsed as Report;
}

/** The figure of `metric` in `figures`, if present. */
export function figureOf(
  figures: Readonly<Record<string, Figure>> | undefined,
  metric: string,
): Figure | undefined {
  return figures !== undefined && Object.hasOwn(figures, metric) ? figures[metric] : undefined;
}

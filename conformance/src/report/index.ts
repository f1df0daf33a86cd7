/**
 * The comparison report: the `report.json` schema of SPEC.md and its renderings
 * (`report.md`, `report.html`, the terminal matrix).
 * @module
 */
export { renderHtml } from './html.js';
export { parseReport, redactUrl, reportToJson, validateReport } from './json.js';
export { describeMachine } from './machine.js';
export { escapeMarkdown, renderMarkdown } from './markdown.js';
export { type RenderMatrixOptions, renderMatrix } from './terminal.js';
export {
  BACKEND_NAMES,
  BACKEND_SOURCES,
  type BackendName,
  type BackendReport,
  type BackendSource,
  BENCH_METRICS,
  type BenchFigures,
  type BenchMetric,
  InvalidReportError,
  type MachineInfo,
  REPORT_TEST_ORDER,
  type Report,
  type ReportTestResult,
  TEST_STATUSES,
  type TestStatus,
} from './types.js';
export { backendCaveat } from './view.js';
export { type WrittenReport, writeReport } from './write.js';

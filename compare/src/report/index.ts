/**
 * The comparison report: the `report.json` schema and its renderings
 * (`report.md`, `report.html`, the terminal matrix).
 * @module
 */
export { renderHtml } from './html.js';
export { parseReport, redactUrl, reportToJson, validateReport } from './json.js';
export { describeMachine, loadAverage } from './machine.js';
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
  type BenchLoad,
  type BenchMetric,
  InvalidReportError,
  type LockstepInfo,
  type MachineInfo,
  type MissingMetric,
  REPORT_TEST_ORDER,
  type Report,
  type ReportTestResult,
  type ScratchReport,
  TEST_STATUSES,
  type TestStatus,
} from './types.js';
export { backendCaveat } from './view.js';
export { type WrittenReport, writeReport } from './write.js';

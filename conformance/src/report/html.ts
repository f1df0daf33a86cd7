/**
 * `report.html`: the same tables as `report.md`, plus a bar chart per benchmark, in one
 * self-contained file (inline CSS and SVG; no scripts, fonts or requests).
 * @module
 */
import type { Figure } from '../stats.js';
import { figureOf } from './json.js';
import { type Bar, type BarChart, escapeXml, renderBarChart } from './svg.js';
import type { Report } from './types.js';
import {
  type BackendColumn,
  benchRows,
  capabilityRows,
  columnsOf,
  formatFigure,
  formatMs,
  formatRate,
  formatRatio,
  peerRows,
  ratioRows,
  statusGlyph,
  testMatrix,
} from './view.js';

/**
 * Renders a report as a standalone HTML page. A Content-Security-Policy forbids every
 * request, so the page provably works offline. Emulator-sourced backends carry their
 * caveat in every heading, chart label and peer row where their figures appear, and their
 * bars are hatched. All report text is escaped.
 */
export function renderHtml(report: Report<object>): string {
  const columns = columnsOf(report);
  const { machine } = report;
  const body: string[] = [];

  body.push('<h1>lockstep backend comparison</h1>');
  body.push(
    `<p class="meta">Generated ${text(report.generatedAt)} on ${text(machine.cpuModel)} (${machine.cpus} CPUs, ` +
      `${machine.memGiB} GiB), Node ${text(machine.node)}, ${text(machine.platform)}/${text(machine.arch)}. ` +
      'All figures come from one run, so ratios between them hold even on a noisy machine.</p>',
  );

  body.push('<h2>Backends</h2>');
  body.push(
    table(
      ['backend', 'source', 'url'],
      columns.map((column) => [heading(column), text(column.source), `<code>${text(column.url)}</code>`]),
    ),
  );

  const matrix = testMatrix(report);
  body.push('<h2>Conformance</h2>');
  if (matrix.rows.length === 0) body.push('<p>No tests were run.</p>');
  else {
    const rows = matrix.rows.map((row) => [
      `<code>${text(row.id)}</code>`,
      ...row.cells.map((cell) => {
        const note =
          cell.note === undefined ? '' : `<sup><a href="#note-${cell.note}">${cell.note}</a></sup>`;
        const title = cell.ms === undefined ? '' : ` title="${formatMs(cell.ms)} ms"`;
        return `<span class="status ${cell.status}"${title}>${text(statusGlyph(cell.status))}</span>${note}`;
      }),
    ]);
    rows.push([
      '<strong>passed</strong>',
      ...matrix.totals.map(
        (t) =>
          `<strong>${t.pass}/${t.pass + t.fail + t.skip}</strong>${t.fail > 0 ? ` <span class="status fail">(${t.fail} ✗)</span>` : ''}`,
      ),
    ]);
    rows.push(['time', ...matrix.totals.map((t) => `${formatMs(t.ms / 1000)} s`)]);
    body.push(table(['test', ...columns.map(heading)], rows, 'matrix'));
    body.push('<p class="legend">✓ pass · ✗ fail · skip: does not apply (see note) · — not run</p>');
    if (matrix.footnotes.length > 0) {
      body.push(
        `<ol class="notes">${matrix.footnotes.map((note) => `<li id="note-${note.number}">${text(note.text)}</li>`).join('')}</ol>`,
      );
    }
  }

  const capabilities = capabilityRows(report);
  if (capabilities.length > 0) {
    body.push('<h2>Capabilities</h2>');
    body.push(
      table(
        ['capability', ...columns.map(heading)],
        capabilities.map((row) => [`<code>${text(row.key)}</code>`, ...row.values.map(text)]),
      ),
    );
  }

  const bench = benchRows(report);
  if (bench.length > 0) {
    body.push('<h2>Benchmarks</h2>', '<p>Latencies are p50 / p99 (nearest rank).</p>');
    body.push(
      table(
        ['metric', ...columns.map(heading)],
        bench.map((row) => [
          `<code>${text(row.metric)}</code>`,
          ...row.figures.map((f) => text(formatFigure(f))),
        ]),
      ),
    );
    const ratios = ratioRows(report);
    if (ratios.length > 0) {
      body.push(
        '<h3>lockstep against its baselines</h3>',
        '<p>lockstep ÷ baseline, by p50 for latencies (below 1× is faster) and by ops/s for throughput (above 1× ' +
          'is faster). <code>floor</code> is the same work hand-written with the raw client; <code>naive</code> the ' +
          'obvious one-operation version.</p>',
      );
      body.push(
        table(
          ['ratio', ...columns.map(heading)],
          ratios.map((row) => [
            `<code>${text(row.metric)}</code> ÷ <code>${text(row.baseline)}</code> (${row.better} is better)`,
            ...row.values.map((value) => (value === undefined ? '—' : formatRatio(value))),
          ]),
        ),
      );
    }
    body.push('<div class="charts">');
    for (const [index, chart] of charts(report, columns).entries())
      body.push(renderBarChart(chart, `chart-${index}`));
    body.push('</div>');
  }

  const peers = peerRows(report);
  if (peers.length > 0) {
    body.push('<h2>Peer libraries</h2>');
    body.push(
      table(
        ['library', 'backend', 'metric', 'peer', 'lockstep', 'lockstep ÷ peer'],
        peers.map((row) => [
          text(row.library),
          heading(row.column),
          `<code>${text(row.metric)}</code>`,
          text(formatFigure(row.peer)),
          text(formatFigure(row.lockstep)),
          row.ratio === undefined ? '—' : `${formatRatio(row.ratio)} (${row.better} is better)`,
        ]),
      ),
    );
  }

  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>lockstep backend comparison</title>',
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * One chart per lockstep metric, with the backends' lockstep bars, their `floor.`/`naive.`
 * baselines and the peer libraries' figures for the same metric; a baseline whose metric
 * is absent gets its own chart. Bars of a different unit than the chart's are left out.
 */
function charts(report: Report<object>, columns: BackendColumn[]): BarChart[] {
  const metrics = benchRows(report).map((row) => row.metric);
  const present = new Set(metrics);
  const result: BarChart[] = [];
  for (const metric of metrics) {
    const base = metric.replace(/^(floor|naive)\./, '');
    if (base !== metric && present.has(base)) continue;
    const bars: Array<Bar & { unit: Figure['unit'] }> = [];
    report.backends.forEach((backend, index) => {
      const column = columns[index]!;
      const hatched = column.caveat !== undefined;
      const add = (figure: Figure | undefined, label: string, kind: Bar['kind']) => {
        if (figure !== undefined) bars.push({ ...barOf(figure), label, kind, hatched, unit: figure.unit });
      };
      add(figureOf(backend.bench, metric), column.heading, 'lockstep');
      if (base === metric) {
        add(figureOf(backend.bench, `floor.${metric}`), `${column.heading} · floor`, 'baseline');
        add(figureOf(backend.bench, `naive.${metric}`), `${column.heading} · naive`, 'baseline');
      }
      for (const [library, figures] of Object.entries(backend.peers)) {
        add(figureOf(figures, metric), `${column.heading} · ${library}`, 'peer');
      }
    });
    const unit = bars[0]?.unit;
    const sameUnit = bars.filter((bar) => bar.unit === unit);
    if (sameUnit.length === 0) continue;
    const subtitle =
      unit === 'ms'
        ? 'ms — bar: p50, whisker: p99 (shorter is better)'
        : unit === 'ops/s'
          ? 'operations per second (longer is better)'
          : 'ratio';
    result.push({ title: metric, subtitle, bars: sameUnit });
  }
  return result;
}

function barOf(figure: Figure): Pick<Bar, 'value' | 'whisker' | 'valueText'> {
  if (figure.unit === 'ms') {
    return {
      value: figure.p50,
      whisker: figure.p99,
      valueText: `${formatMs(figure.p50)} / ${formatMs(figure.p99)} ms`,
    };
  }
  if (figure.unit === 'ops/s') return { value: figure.value, valueText: `${formatRate(figure.value)} ops/s` };
  return { value: figure.value, valueText: figure.value.toFixed(2) };
}

function heading(column: BackendColumn): string {
  return column.caveat === undefined
    ? text(column.label)
    : `${text(column.label)}<br><span class="caveat">${text(column.caveat)}</span>`;
}

function table(header: string[], rows: string[][], className = ''): string {
  const head = `<thead><tr>${header.map((cell) => `<th>${cell}</th>`).join('')}</tr></thead>`;
  const rowsHtml = rows.map((row) => `<tr>${row.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('\n');
  return `<table${className ? ` class="${className}"` : ''}>${head}<tbody>\n${rowsHtml}\n</tbody></table>`;
}

function text(value: string): string {
  return escapeXml(value);
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2630; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d8dee4; } h3 { margin-top: 1.5rem; }
.meta, .legend { color: #57606a; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #d8dee4; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.matrix td:not(:first-child) { text-align: center; }
.status.pass { color: #1a7f37; font-weight: 600; } .status.fail { color: #cf222e; font-weight: 600; }
.status.skip, .status.missing { color: #6e7781; }
.caveat { display: inline-block; font-size: 0.8em; font-weight: 600; color: #8a5a00; background: #fff4d6; padding: 0 4px; border-radius: 3px; }
.notes { color: #57606a; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.charts { display: flex; flex-direction: column; gap: 1.5rem; margin-top: 1.5rem; }
svg.chart { font: 11px system-ui, sans-serif; max-width: 100%; height: auto; }
svg.chart .chart-title { font-weight: 600; font-size: 13px; fill: #1d2630; }
svg.chart .chart-subtitle, svg.chart .value { fill: #57606a; }
svg.chart .label { fill: #1d2630; }
svg.chart .axis { stroke: #8c959f; }
svg.chart .whisker { stroke: #1d2630; stroke-width: 1.2; }
`;

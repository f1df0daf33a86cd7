/**
 * `report.html`: a summary per backend, then the same tables as `report.md`, with charts —
 * the lockstep-to-floor ratios, and one panel per benchmark on a logarithmic axis — in one
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
  formatLoad,
  formatMs,
  formatRate,
  formatRatio,
  formatRatioCell,
  LOOPBACK_NOTE,
  missingRows,
  peerRows,
  ratioRows,
  statusGlyph,
  summaryRows,
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
  const lockstep = report.lockstep;
  body.push(
    `<p class="meta">Generated ${text(report.generatedAt)} by lockstep ${text(lockstep?.version ?? 'unknown')} ` +
      `(commit <code>${text(lockstep?.commit ?? 'unknown')}</code>) on ${text(machine.cpuModel)} (${machine.cpus} CPUs, ` +
      `${machine.memGiB} GiB), Node ${text(machine.node)}, ${text(machine.platform)}/${text(machine.arch)}. ` +
      'All figures come from one run, so ratios between them hold even on a noisy machine.</p>',
  );

  const summary = summaryRows(report);
  if (summary.length > 0) {
    body.push('<h2>Summary</h2>');
    body.push(
      table(
        [
          'backend',
          'suite',
          'fencing',
          '<code>lock.cycle</code> ÷ floor',
          '<code>lock.handoff</code> (p50 / mean / p99)',
          'counters',
        ],
        summary.map((row) => [
          heading(row.column),
          `<span class="status ${row.ok ? 'pass' : 'fail'}">${row.ok ? '✓' : '✗'}</span> ${text(row.suite)}`,
          text(row.fencing),
          text(formatRatioCell(row.cycle)),
          text(row.handoff),
          text(row.counters),
        ]),
        'summary',
      ),
    );
    const ratioChart = cycleRatioChart(report, columns);
    if (ratioChart) body.push(`<div class="charts">${renderBarChart(ratioChart, 'chart-ratio')}</div>`);
    body.push(`<p class="note">${text(LOOPBACK_NOTE)}</p>`);
  }

  body.push('<h2>Backends</h2>');
  body.push(
    table(
      ['backend', 'source', 'server', 'url', 'load during benchmarks (1 min, start → end)', 'run data'],
      report.backends.map((backend, index) => {
        const column = columns[index]!;
        const scratch = backend.scratch;
        return [
          heading(column),
          text(column.source),
          text(backend.serverVersion ?? '—'),
          `<code>${text(column.url)}</code>`,
          text(formatLoad(backend.load)),
          scratch === undefined
            ? '—'
            : scratch.removed
              ? `removed (<code>${text(scratch.prefix)}</code>)`
              : `<span class="status fail">left behind</span> under <code>${text(scratch.prefix)}</code>: ${text(scratch.reason ?? '')}`,
        ];
      }),
    ),
  );
  const ended = report.backends.flatMap((backend, index) =>
    backend.error === undefined
      ? []
      : [`<li><strong>${heading(columns[index]!)}</strong>: ${text(backend.error)}</li>`],
  );
  if (ended.length > 0) {
    body.push(
      '<h2>Runs that ended early</h2>',
      '<p>Each backend runs in a process of its own; these ended before finishing, and their rows keep what was measured until then.</p>',
      `<ul class="errors">${ended.join('')}</ul>`,
    );
  }

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
    body.push(
      '<h2>Benchmarks</h2>',
      '<p>Latencies are p50 / mean / p99 in ms (nearest rank; the mean is time over operations).</p>',
    );
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
        '<p>lockstep ÷ baseline: for latencies by p50 and by mean (below 1× is faster; a per-call allocation or GC ' +
          'pause hides in a p50 but not in the mean), for throughput by ops/s (above 1× is faster). ' +
          '<code>floor</code> is the same work hand-written with the raw client; <code>naive</code> the obvious ' +
          'one-operation version.</p>',
        `<p class="note">${text(LOOPBACK_NOTE)}</p>`,
      );
      body.push(
        table(
          ['ratio', ...columns.map(heading)],
          ratios.map((row) => [
            `<code>${text(row.metric)}</code> ÷ <code>${text(row.baseline)}</code> (${row.better} is better)`,
            ...row.values.map((value) => text(formatRatioCell(value))),
          ]),
        ),
      );
    }
    const missing = missingRows(report);
    if (missing.length > 0) {
      body.push('<h3>Not measured</h3>');
      body.push(
        table(
          ['backend', 'metric', 'why'],
          missing.map((row) => [
            heading(row.column),
            `${row.library === undefined ? '' : `${text(row.library)} `}<code>${text(row.metric)}</code>`,
            text(row.reason),
          ]),
        ),
      );
    }
    body.push(
      '<h3>Charts</h3>',
      '<p>One panel per metric, on a logarithmic axis (equal distances are equal ratios): the bar is the p50, ' +
        '◆ the mean, the whisker reaches the p99.</p>',
    );
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
          row.ratio === undefined ? '—' : `${text(formatRatioCell(row.ratio))} (${row.better} is better)`,
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
      let first = true;
      const add = (figure: Figure | undefined, label: string, kind: Bar['kind']) => {
        if (figure === undefined) return;
        bars.push({ ...barOf(figure), label, kind, hatched, unit: figure.unit, groupStart: first });
        first = false;
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
        ? 'ms, logarithmic — bar: p50, ◆ mean, whisker: p99 (shorter is better)'
        : unit === 'ops/s'
          ? 'operations per second, logarithmic (longer is better)'
          : 'share, 0 to 1';
    result.push({ title: metric, subtitle, bars: sameUnit, scale: unit === 'ratio' ? 'linear' : 'log' });
  }
  return result;
}

/**
 * lockstep's `lock.cycle` over its floor's, per backend, by p50 and by mean, around a line at
 * 1× (the floor): the one picture of what lockstep costs on each backend.
 */
function cycleRatioChart(report: Report<object>, columns: BackendColumn[]): BarChart | undefined {
  const row = ratioRows(report).find((r) => r.metric === 'lock.cycle' && r.baseline === 'floor.lock.cycle');
  if (row === undefined) return undefined;
  const bars: Bar[] = [];
  row.values.forEach((ratio, index) => {
    if (ratio === undefined) return;
    const column = columns[index]!;
    const hatched = column.caveat !== undefined;
    bars.push({
      label: `${column.heading} · p50`,
      value: ratio.headline,
      valueText: formatRatio(ratio.headline),
      kind: 'lockstep',
      hatched,
      groupStart: true,
    });
    if (ratio.mean !== undefined)
      bars.push({
        label: `${column.heading} · mean`,
        value: ratio.mean,
        valueText: formatRatio(ratio.mean),
        kind: 'lockstep',
        hatched,
      });
  });
  return {
    title: 'lock.cycle ÷ floor.lock.cycle',
    subtitle:
      'lockstep over the hand-written raw-client cycle, logarithmic (1× = the floor; shorter is better)',
    bars,
    scale: 'log',
    reference: { value: 1, label: '1× floor' },
    tickFormat: (value) => `${value}×`,
  };
}

function barOf(figure: Figure): Pick<Bar, 'value' | 'whisker' | 'marker' | 'valueText'> {
  if (figure.unit === 'ms') {
    return {
      value: figure.p50,
      whisker: figure.p99,
      ...(figure.mean === undefined ? {} : { marker: figure.mean }),
      valueText: formatFigure(figure),
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
.note { color: #57606a; max-width: 60rem; }
table.summary td:first-child, table.summary td:nth-child(4) { white-space: nowrap; }
.errors { color: #cf222e; }
svg.chart { font: 11px system-ui, sans-serif; max-width: 100%; height: auto; }
svg.chart .chart-title { font-weight: 600; font-size: 13px; fill: #1d2630; }
svg.chart .chart-subtitle, svg.chart .value { fill: #57606a; }
svg.chart .label { fill: #1d2630; }
svg.chart .axis { stroke: #8c959f; }
svg.chart .whisker { stroke: #1d2630; stroke-width: 1.2; }
`;

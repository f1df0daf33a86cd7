/**
 * `report.md`: the matrix a person reads, in GitHub-flavoured Markdown.
 * @module
 */
import type { Report } from './types.js';
import {
  benchRows,
  capabilityRows,
  columnsOf,
  formatFigure,
  formatLoad,
  formatMs,
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
 * Renders a report as Markdown: a summary per backend first, then machine and lockstep
 * version, backends (source, server version, redacted URL, load), runs that ended early, the
 * test-by-backend matrix (✓ / ✗ / skip, reasons as footnotes), capabilities, bench figures,
 * lockstep-to-baseline ratios (p50 and mean), metrics that could not be measured and why, and
 * peer libraries. Every heading or cell naming an
 * emulator-sourced backend carries its caveat, e.g. "emulator (not verified against real
 * Consul)". All report text is escaped, so names cannot inject Markdown or HTML.
 */
export function renderMarkdown(report: Report<object>): string {
  const columns = columnsOf(report);
  const headings = columns.map((column) => escapeMarkdown(column.heading));
  const out: string[] = [];
  const { machine } = report;

  out.push('# lockstep backend comparison', '');
  const lockstep = report.lockstep;
  out.push(
    `Generated ${escapeMarkdown(report.generatedAt)} by lockstep ${escapeMarkdown(lockstep?.version ?? 'unknown')} ` +
      `(commit ${escapeMarkdown(lockstep?.commit ?? 'unknown')}) on ${escapeMarkdown(machine.cpuModel)} ` +
      `(${machine.cpus} CPUs, ${machine.memGiB} GiB), Node ${escapeMarkdown(machine.node)}, ` +
      `${escapeMarkdown(machine.platform)}/${escapeMarkdown(machine.arch)}. ` +
      'All figures come from one run, so ratios between them hold even on a noisy machine.',
    '',
  );

  const summary = summaryRows(report);
  if (summary.length > 0) {
    out.push('## Summary', '');
    out.push(
      ...table(
        [
          'backend',
          'suite',
          'fencing',
          '`lock.cycle` ÷ floor',
          '`lock.handoff` (p50 / mean / p99)',
          'counters',
        ],
        summary.map((row) => [
          escapeMarkdown(row.column.heading),
          (row.ok ? '' : '**✗** ') + escapeMarkdown(row.suite),
          escapeMarkdown(row.fencing),
          formatRatioCell(row.cycle),
          escapeMarkdown(row.handoff),
          escapeMarkdown(row.counters),
        ]),
      ),
    );
    out.push('');
  }

  out.push('## Backends', '');
  out.push(
    ...table(
      ['backend', 'source', 'server', 'url', 'load during benchmarks (1 min, start → end)', 'run data'],
      report.backends.map((backend, index) => {
        const column = columns[index]!;
        const scratch = backend.scratch;
        return [
          headings[index]!,
          column.source,
          escapeMarkdown(backend.serverVersion ?? '—'),
          code(column.url),
          formatLoad(backend.load),
          scratch === undefined
            ? '—'
            : scratch.removed
              ? `removed (${code(scratch.prefix)})`
              : `**left behind** under ${code(scratch.prefix)}: ${escapeMarkdown(scratch.reason ?? '')}`,
        ];
      }),
    ),
  );
  out.push('');

  const ended = report.backends.flatMap((backend, index) =>
    backend.error === undefined ? [] : [`- **${headings[index]!}**: ${escapeMarkdown(backend.error)}`],
  );
  if (ended.length > 0) {
    out.push('## Runs that ended early', '');
    out.push(
      'Each backend runs in a process of its own; these ended before finishing, and their rows keep what was measured until then.',
      '',
    );
    out.push(...ended, '');
  }

  const matrix = testMatrix(report);
  out.push('## Conformance', '');
  if (matrix.rows.length === 0) out.push('No tests were run.', '');
  else {
    const rows = matrix.rows.map((row) => [
      code(row.id),
      ...row.cells.map(
        (cell) => statusGlyph(cell.status) + (cell.note === undefined ? '' : ` [^${cell.note}]`),
      ),
    ]);
    rows.push([
      '**passed**',
      ...matrix.totals.map(
        (t) => `**${t.pass}/${t.pass + t.fail + t.skip}**` + (t.fail > 0 ? ` (${t.fail} ✗)` : ''),
      ),
    ]);
    rows.push(['time', ...matrix.totals.map((t) => `${formatMs(t.ms / 1000)} s`)]);
    out.push(...table(['test', ...headings], rows, 'center'), '');
    out.push('✓ pass · ✗ fail · skip: does not apply (reason in the note) · — not run', '');
  }

  const capabilities = capabilityRows(report);
  if (capabilities.length > 0) {
    out.push('## Capabilities', '');
    out.push(
      ...table(
        ['capability', ...headings],
        capabilities.map((row) => [code(row.key), ...row.values.map(escapeMarkdown)]),
      ),
    );
    out.push('');
  }

  const bench = benchRows(report);
  if (bench.length > 0) {
    out.push('## Benchmarks', '');
    out.push('Latencies are p50 / mean / p99 in ms (nearest rank; the mean is time over operations).', '');
    out.push(
      ...table(
        ['metric', ...headings],
        bench.map((row) => [code(row.metric), ...row.figures.map(formatFigure)]),
      ),
    );
    out.push('');
    const ratios = ratioRows(report);
    if (ratios.length > 0) {
      out.push('### lockstep against its baselines', '');
      out.push(
        'lockstep ÷ baseline: for latencies by p50 and by mean (below 1× is faster; a per-call allocation or GC ' +
          'pause hides in a p50 but not in the mean), for throughput by ops/s (above 1× is faster). `floor` is the ' +
          'same work hand-written with the raw client; `naive` the obvious one-operation version.',
        '',
        escapeMarkdown(LOOPBACK_NOTE),
        '',
      );
      out.push(
        ...table(
          ['ratio', ...headings],
          ratios.map((row) => [
            `${code(row.metric)} ÷ ${code(row.baseline)} (${row.better} is better)`,
            ...row.values.map(formatRatioCell),
          ]),
        ),
      );
      out.push('');
    }
  }

  const missing = missingRows(report);
  if (missing.length > 0) {
    out.push('### Not measured', '');
    out.push(
      ...table(
        ['backend', 'metric', 'why'],
        missing.map((row) => [
          escapeMarkdown(row.column.heading),
          row.library === undefined ? code(row.metric) : `${escapeMarkdown(row.library)} ${code(row.metric)}`,
          escapeMarkdown(row.reason),
        ]),
      ),
    );
    out.push('');
  }

  const peers = peerRows(report);
  if (peers.length > 0) {
    out.push('## Peer libraries', '');
    out.push(
      ...table(
        ['library', 'backend', 'metric', 'peer', 'lockstep', 'lockstep ÷ peer'],
        peers.map((row) => [
          escapeMarkdown(row.library),
          escapeMarkdown(row.column.heading),
          code(row.metric),
          formatFigure(row.peer),
          formatFigure(row.lockstep),
          row.ratio === undefined ? '—' : `${formatRatioCell(row.ratio)} (${row.better} is better)`,
        ]),
      ),
    );
    out.push('');
  }

  if (matrix.footnotes.length > 0) {
    for (const note of matrix.footnotes) out.push(`[^${note.number}]: ${escapeMarkdown(note.text)}`);
    out.push('');
  }
  return out.join('\n');
}

function table(header: string[], rows: string[][], align: 'left' | 'center' = 'left'): string[] {
  const rule = header.map((_, index) => (index === 0 || align === 'left' ? '---' : ':---:'));
  return [header, rule, ...rows].map((cells) => `| ${cells.join(' | ')} |`);
}

function code(text: string): string {
  // A code span cannot contain its own delimiter; pipes would still split the table cell.
  return `\`${text
    .replace(/`/g, "'")
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ')}\``;
}

/**
 * Escapes text for a Markdown table cell: backslash-escapes Markdown and HTML punctuation
 * (so `<b>` stays text) and folds newlines into spaces.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|#~&!]/g, '\\$&').replace(/[\r\n]+/g, ' ');
}

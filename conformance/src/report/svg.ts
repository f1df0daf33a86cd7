/**
 * Horizontal bar charts as inline SVG, drawn from scratch (no chart library, no network).
 * @module
 */

/** One bar of a chart. */
export interface Bar {
  /** Text left of the bar. */
  readonly label: string;
  /** Bar length in chart units (p50 for latencies). */
  readonly value: number;
  /** An optional whisker end (p99 for latencies), drawn as a thin line past the bar. */
  readonly whisker?: number;
  /** Text right of the bar. */
  readonly valueText: string;
  /** `lockstep`, a `baseline` (floor / naive) or a `peer` library: drawn in different colours. */
  readonly kind: 'lockstep' | 'baseline' | 'peer';
  /** Drawn hatched, for figures from an emulator. */
  readonly hatched?: boolean;
}

/** A chart: a title, a unit for the axis note, and its bars. */
export interface BarChart {
  readonly title: string;
  /** Shown under the title, e.g. `ms, p50 bar, p99 whisker`. */
  readonly subtitle: string;
  readonly bars: readonly Bar[];
}

const PLOT = 420;
const ROW = 24;
const BAR = 14;
const TOP = 44;
const CHAR = 6.6; // average glyph width of 11px sans-serif, for sizing the label column
const VALUE_COLUMN = 150;

/**
 * Draws a chart as a self-contained `<svg>` element. Bars scale linearly from 0 to the
 * largest value or whisker; the label column grows to fit the longest label; all text is
 * escaped. `id` must be unique in the page (it prefixes the element ids the chart defines).
 */
export function renderBarChart(chart: BarChart, id: string): string {
  const labelWidth = Math.max(
    80,
    Math.ceil(Math.max(0, ...chart.bars.map((b) => b.label.length)) * CHAR) + 12,
  );
  const width = labelWidth + PLOT + VALUE_COLUMN;
  const hatch = `${id}-hatch`;
  const max = Math.max(...chart.bars.map((bar) => Math.max(bar.value, bar.whisker ?? 0)), Number.MIN_VALUE);
  const scale = (value: number) => (Math.max(0, value) / max) * PLOT;
  const height = TOP + chart.bars.length * ROW + 10;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" ` +
      'font-family="system-ui, sans-serif" font-size="11" ' +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<defs><pattern id="${escapeXml(hatch)}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      '<rect width="6" height="6" fill="#f2b84b"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a5a00" stroke-width="2"/>' +
      '</pattern></defs>',
    `<text x="0" y="16" font-size="13" font-weight="600" class="chart-title">${escapeXml(chart.title)}</text>`,
    `<text x="0" y="32" fill="#57606a" class="chart-subtitle">${escapeXml(chart.subtitle)}</text>`,
    `<line x1="${labelWidth}" y1="${TOP - 4}" x2="${labelWidth}" y2="${height - 6}" stroke="#8c959f" class="axis"/>`,
  );
  chart.bars.forEach((bar, index) => {
    const y = TOP + index * ROW;
    // At least a hairline for any non-zero value, so a tiny figure still shows as a bar.
    const length = bar.value > 0 ? Math.max(1, scale(bar.value)) : 0;
    const fill = bar.hatched ? `url(#${escapeXml(hatch)})` : COLOUR[bar.kind];
    parts.push(
      `<g class="bar ${bar.kind}">`,
      `<text x="${labelWidth - 6}" y="${y + BAR - 3}" text-anchor="end" class="label">${escapeXml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${BAR}" fill="${fill}"/>`,
    );
    if (bar.whisker !== undefined && bar.whisker > bar.value) {
      const middle = y + BAR / 2;
      const end = labelWidth + Math.max(length, scale(bar.whisker));
      parts.push(
        `<line x1="${(labelWidth + length).toFixed(1)}" y1="${middle}" x2="${end.toFixed(1)}" y2="${middle}" ${WHISKER}/>`,
        `<line x1="${end.toFixed(1)}" y1="${y + 3}" x2="${end.toFixed(1)}" y2="${y + BAR - 3}" ${WHISKER}/>`,
      );
    }
    parts.push(
      `<text x="${width - VALUE_COLUMN + 8}" y="${y + BAR - 3}" fill="#57606a" class="value">${escapeXml(bar.valueText)}</text>`,
      '</g>',
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

// Styling is in attributes, not page CSS, so a chart copied out of the page still renders.
const WHISKER = 'stroke="#1d2630" stroke-width="1.2" class="whisker"';

const COLOUR: Record<Bar['kind'], string> = {
  lockstep: '#2f6fdf',
  baseline: '#9aa5b1',
  peer: '#d9822b',
};

/** Escapes text for XML and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

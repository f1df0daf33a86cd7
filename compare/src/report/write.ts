/**
 * Writes the three report files.
 * @module
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderHtml } from './html.js';
import { reportToJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import type { Report } from './types.js';

/** Where {@link writeReport} put each file. */
export interface WrittenReport {
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
}

/**
 * Writes `report.json`, `report.md` and `report.html` into `dir` (created if missing).
 * The report is validated first, so nothing is written for an invalid one. Each file is
 * written to a temporary name and renamed into place, so a reader (or a crash) never sees
 * a half-written file. URL credentials are redacted in all three.
 * @throws InvalidReportError when the report does not match the schema.
 */
export async function writeReport<C extends object>(dir: string, report: Report<C>): Promise<WrittenReport> {
  // Render everything before touching the disk: validation errors leave no files behind.
  const json = reportToJson(report);
  const markdown = renderMarkdown(report);
  const html = renderHtml(report);
  await mkdir(dir, { recursive: true });
  const written = {
    json: path.join(dir, 'report.json'),
    markdown: path.join(dir, 'report.md'),
    html: path.join(dir, 'report.html'),
  };
  await Promise.all([
    writeAtomically(written.json, json),
    writeAtomically(written.markdown, markdown),
    writeAtomically(written.html, html),
  ]);
  return written;
}

async function writeAtomically(file: string, contents: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temporary, contents, 'utf8');
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

import type { Readable } from 'node:stream';
import { Logger, StreamableFile } from '@nestjs/common';
import type { Response } from 'express';
import { ApiExceptionFilter } from '../common/filters/api-exception.filter';

const logger = new Logger('AuditCsvExport');
const errors = new ApiExceptionFilter();

/**
 * The CSV export as a response body. A stream error must not reach Nest's
 * default StreamableFile handler (400 text/plain "Bad Request" whatever the
 * cause): before the first byte the app's exception filter answers it like
 * any other error (503 DATABASE_UNAVAILABLE with Retry-After, …); after it,
 * the connection is destroyed so the client sees a truncated transfer, not a
 * complete-looking file, and the failure is logged.
 */
export function csvFile(stream: Readable, filename: string): StreamableFile {
  return new StreamableFile(stream, { type: 'text/csv; charset=utf-8', disposition: `attachment; filename="${filename}"` }).setErrorHandler(
    // The Express adapter hands the handler its response.
    (error, response) => answerStreamError(error, response as Response),
  );
}

export function answerStreamError(error: Error, response: Response): void {
  if (response.destroyed) return;
  if (!response.headersSent) {
    // Set for the file (and text/plain by the adapter): the error is JSON.
    for (const header of ['Content-Type', 'Content-Disposition', 'Content-Length']) response.removeHeader(header);
    errors.respond(error, response.req, response);
    return;
  }
  const { code } = errors.toBody(error).error;
  response.locals.errorCode = code;
  const request = response.req;
  logger.error(
    `${request.method} ${request.path} request_id=${String(request.headers['x-request-id'] ?? '-')}: CSV export failed after the response started (${code}); connection closed`,
    error.stack,
  );
  response.destroy();
}

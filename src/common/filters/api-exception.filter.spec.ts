import { Logger, ServiceUnavailableException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiExceptionFilter } from './api-exception.filter';

/** Just what respond() uses of Express's response. */
function fakeResponse(): Response {
  const response = {
    locals: {},
    headersSent: false,
    setHeader: () => response,
    status: () => response,
    json: () => response,
  };
  return response as unknown as Response;
}

const request = (id: string) => ({ method: 'GET', path: '/whoami', headers: { 'x-request-id': id } }) as unknown as Request;

describe('ApiExceptionFilter: a database outage in the log', () => {
  it('says why once per 10 s, then how many other requests got 503 meanwhile', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const now = jest.spyOn(performance, 'now');
    try {
      const filter = new ApiExceptionFilter();
      const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      now.mockReturnValue(1_000_000);
      for (let i = 0; i < 500; i++) filter.respond(down, request(`r${i}`), fakeResponse());
      now.mockReturnValue(1_009_999);
      filter.respond(down, request('r500'), fakeResponse());
      now.mockReturnValue(1_010_000);
      filter.respond(down, request('r501'), fakeResponse());

      expect(warn.mock.calls.map(([message]) => message)).toEqual([
        'GET /whoami request_id=r0: database unavailable: connect ECONNREFUSED 127.0.0.1:5432; logged at most every 10 s',
        'GET /whoami request_id=r501: database unavailable: connect ECONNREFUSED 127.0.0.1:5432 (and 500 other request(s) answered 503 since the last such line); logged at most every 10 s',
      ]);
    } finally {
      warn.mockRestore();
      now.mockRestore();
    }
  });

  it('samples readiness probes apart, so that they never hide the cause the requests met, and names the failed check', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const now = jest.spyOn(performance, 'now');
    try {
      const filter = new ApiExceptionFilter();
      const probe = () => ({ method: 'GET', path: '/health/ready', headers: {} }) as unknown as Request;
      const notReady = new ServiceUnavailableException({ status: 'error', info: {}, error: { database: { status: 'down', message: 'timeout of 2000ms exceeded' } }, details: {} });
      const down = Object.assign(new Error('Connection terminated unexpectedly'), {});
      now.mockReturnValue(5_000_000);
      filter.respond(notReady, probe(), fakeResponse());
      filter.respond(notReady, probe(), fakeResponse());
      filter.respond(down, request('q1'), fakeResponse());
      now.mockReturnValue(5_020_000);
      filter.respond(new ServiceUnavailableException({ status: 'shutting_down', info: {}, error: {}, details: {} }), probe(), fakeResponse());

      expect(warn.mock.calls.map(([message]) => message)).toEqual([
        'GET /health/ready request_id=-: health check failed: database: timeout of 2000ms exceeded; logged at most every 10 s',
        'GET /whoami request_id=q1: database unavailable: Connection terminated unexpectedly; logged at most every 10 s',
        'GET /health/ready request_id=-: health check failed: shutting down (and 1 other probe(s) answered 503 since the last such line); logged at most every 10 s',
      ]);
    } finally {
      warn.mockRestore();
      now.mockRestore();
    }
  });
});

/**
 * How the gateway words failures over HTTP, as etcd 3.4's grpc-gateway v1 does: the HTTP
 * status of each gRPC code, the JSON error bodies of unary calls and of streams, and Go's
 * plain-text `http.Error` answers (404, 405).
 */
import type * as http from 'node:http';
import { status } from '@grpc/grpc-js';
import { goJsonString } from './proto-json';

/** grpc-gateway v1's HTTPStatusFromCode. */
export function httpStatusFromCode(code: number): number {
  switch (code) {
    case status.OK:
      return 200;
    case status.CANCELLED:
      return 408;
    case status.UNKNOWN:
      return 500;
    case status.INVALID_ARGUMENT:
      return 400;
    case status.DEADLINE_EXCEEDED:
      return 504;
    case status.NOT_FOUND:
      return 404;
    case status.ALREADY_EXISTS:
      return 409;
    case status.PERMISSION_DENIED:
      return 403;
    case status.UNAUTHENTICATED:
      return 401;
    case status.RESOURCE_EXHAUSTED:
      return 429;
    case status.FAILED_PRECONDITION:
      return 412;
    case status.ABORTED:
      return 409;
    case status.OUT_OF_RANGE:
      return 400;
    case status.UNIMPLEMENTED:
      return 501;
    case status.INTERNAL:
      return 500;
    case status.UNAVAILABLE:
      return 503;
    case status.DATA_LOSS:
      return 500;
    default:
      return 500;
  }
}

/** Go's http.StatusText for the statuses above (used in stream error chunks). */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Go's http.StatusText. */
export function statusText(httpStatus: number): string {
  return STATUS_TEXT[httpStatus] ?? '';
}

/** A gRPC status as the gateway reports it. */
export interface GrpcFailure {
  readonly code: number;
  readonly message: string;
}

/** The unary error body: `{"error":msg,"message":msg,"code":N}`. */
export function errorBody(f: GrpcFailure): string {
  const msg = goJsonString(f.message);
  return `{"error":${msg},"message":${msg},"code":${f.code}}`;
}

/** The error chunk that ends a streamed response. */
export function streamErrorChunk(f: GrpcFailure): string {
  const httpCode = httpStatusFromCode(f.code);
  return `{"error":{"grpc_code":${f.code},"http_code":${httpCode},"message":${goJsonString(f.message)},"http_status":${goJsonString(statusText(httpCode))}}}`;
}

/**
 * Answers a unary call's failure. `fromServer` is true when the status came back from the
 * gRPC server (etcd's answer then also announces and sends the gRPC content-type trailer);
 * false when the gateway refused the request itself (bad JSON), which etcd answers plainly.
 */
export function sendError(res: http.ServerResponse, f: GrpcFailure, fromServer: boolean): void {
  const body = errorBody(f);
  res.statusCode = httpStatusFromCode(f.code);
  res.setHeader('Content-Type', 'application/json');
  if (fromServer) {
    res.setHeader('Trailer', 'Grpc-Trailer-Content-Type');
    res.write(body);
    res.addTrailers({ 'Grpc-Trailer-Content-Type': 'application/grpc' });
    res.end();
    return;
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Go's http.Error: a plain-text status line. */
export function sendPlain(res: http.ServerResponse, httpStatus: number, text: string): void {
  const body = `${text}\n`;
  res.statusCode = httpStatus;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

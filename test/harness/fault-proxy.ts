import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a test registry that injects faults: error statuses (429 with
 * Retry-After, 500, 401), connection resets, slow bodies, truncated bodies and corrupted
 * bytes. Each rule matches requests and fires a limited number of times, so a client with
 * retries can get through. The Host header is passed on, so the registry's absolute
 * Locations point back at the proxy.
 */

export type Fault =
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'reset' }
  /** Forward, but cut the response body after this many bytes and drop the connection. */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Forward, pausing between body chunks. */
  | { readonly kind: 'slow'; readonly chunkDelayMs: number }
  /** Forward with one byte of the body changed (same length). */
  | { readonly kind: 'corrupt' };

export interface FaultRule {
  readonly method?: string;
  /** Matched against the request path and query. */
  readonly path: RegExp;
  readonly fault: Fault;
  /** How many matching requests get the fault; default 1. Infinity for all. */
  readonly times?: number;
}

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly fault: Fault['kind'] | undefined;
  /** Headers the client sent, for checks such as "no Authorization leaked". */
  readonly headers: http.IncomingHttpHeaders;
  /** What the registry (or the fault) answered; set when the answer starts. */
  status?: number;
  responseHeaders?: http.IncomingHttpHeaders;
}

export interface FaultProxy {
  readonly host: string;
  readonly requests: ProxiedRequest[];
  /** Replaces the rules; their counters start again. */
  setRules(rules: readonly FaultRule[]): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: {
  readonly host: string;
  readonly port: number;
}): Promise<FaultProxy> {
  let rules: { rule: FaultRule; left: number }[] = [];
  const requests: ProxiedRequest[] = [];

  const pick = (method: string, url: string): Fault | undefined => {
    for (const entry of rules) {
      if (entry.left <= 0) continue;
      if (entry.rule.method !== undefined && entry.rule.method !== method) continue;
      if (!entry.rule.path.test(url)) continue;
      entry.left--;
      return entry.rule.fault;
    }
    return undefined;
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const fault = pick(method, url);
    const record: ProxiedRequest = { method, path: url, fault: fault?.kind, headers: req.headers };
    requests.push(record);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      req.resume();
      record.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(
        JSON.stringify({
          errors: [{ code: 'INJECTED', message: `fault proxy: ${String(fault.status)}` }],
        }),
      );
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: target.port, method, path: url, headers: req.headers },
      (upstreamRes) => {
        record.status = upstreamRes.statusCode ?? 502;
        record.responseHeaders = upstreamRes.headers;
        res.writeHead(record.status, upstreamRes.headers);
        let sent = 0;
        let corrupted = false;
        upstreamRes.on('data', (chunk: Buffer) => {
          let data = chunk;
          if (fault?.kind === 'corrupt' && !corrupted && data.length > 0) {
            data = Buffer.from(data);
            data[0] = (data[0] ?? 0) ^ 0xff;
            corrupted = true;
          }
          if (fault?.kind === 'truncate') {
            const room = fault.afterBytes - sent;
            if (room <= 0 || data.length >= room) {
              res.write(data.subarray(0, Math.max(0, room)));
              upstreamRes.destroy();
              setImmediate(() => res.socket?.destroy());
              return;
            }
          }
          sent += data.length;
          res.write(data);
          if (fault?.kind === 'slow') {
            upstreamRes.pause();
            setTimeout(() => upstreamRes.resume(), fault.chunkDelayMs);
          }
        });
        upstreamRes.on('end', () => res.end());
        upstreamRes.on('error', () => res.socket?.destroy());
      },
    );
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${String(port)}`,
    requests,
    setRules(next) {
      rules = next.map((rule) => ({ rule, left: rule.times ?? 1 }));
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

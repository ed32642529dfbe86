import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ratePage } from "./page.js";
import { SessionError, type PageState, type RateSession } from "./session.js";

/**
 * The local server behind `heldout rate`: node:http on 127.0.0.1 only, a one-time token (128 bits
 * from the OS's CSPRNG) required on every request, the page at `/?token=…`, and a small JSON API
 * (token in the `X-Heldout-Token` header or the `token` query parameter):
 *
 *   GET  /api/state                  progress and the item to rate now
 *   POST /api/rate  {id, score}      score mode: 1–5;  {id, preference: left|right|tie} pairwise
 *   POST /api/skip  {id}             to the end of this session's queue
 *   POST /api/undo  {}               withdraw the latest rating
 *
 * Each answers with the new state. Without the right token: 403; with it, an unknown path: 404.
 * A Host header other than this server's (DNS rebinding) is refused too.
 */

export const TOKEN_HEADER = "x-heldout-token";
const MAX_BODY = 64 * 1024;

export interface RateServerOptions {
  session: RateSession;
  /** 0 (the default): a free port chosen by the OS. */
  port?: number;
  /** Default: 16 random bytes, hex. */
  token?: string;
}

export interface RateServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    "Content-Type": contentType,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    ...extra,
  });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, "application/json; charset=utf-8", JSON.stringify(value));

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const type = req.headers["content-type"] ?? "";
    if (!/^application\/json\b/i.test(type)) {
      reject(new HttpError(415, "send JSON (Content-Type: application/json)"));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
        if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
        resolve(value as Record<string, unknown>);
      } catch (error) {
        reject(new HttpError(400, `body is not a JSON object (${(error as Error).message})`));
      }
    });
    req.on("error", reject);
  });
}

function tokenMatches(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(token, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startRateServer(options: RateServerOptions): Promise<RateServer> {
  const { session } = options;
  const token = options.token ?? randomBytes(16).toString("hex");
  const page = ratePage();
  let port = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const host = (req.headers.host ?? "").toLowerCase();
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      send(res, 403, "text/plain; charset=utf-8", "forbidden: unexpected Host header\n");
      return;
    }
    const headerToken = req.headers[TOKEN_HEADER];
    const given = typeof headerToken === "string" ? headerToken : url.searchParams.get("token");
    if (!tokenMatches(given, token)) {
      send(res, 403, "text/plain; charset=utf-8", "forbidden: open the URL with the token that `heldout rate` printed\n");
      return;
    }
    const route = `${req.method ?? "GET"} ${url.pathname}`;
    const known = ["/", "/index.html", "/api/state", "/api/rate", "/api/skip", "/api/undo"];
    let state: PageState;
    switch (route) {
      case "GET /":
      case "GET /index.html":
        send(res, 200, "text/html; charset=utf-8", page.html, { "Content-Security-Policy": page.csp });
        return;
      case "GET /api/state":
        state = session.state();
        break;
      case "POST /api/rate": {
        const body = await readBody(req);
        state = session.rate(body.id, { score: body.score, preference: body.preference });
        break;
      }
      case "POST /api/skip":
        state = session.skip((await readBody(req)).id);
        break;
      case "POST /api/undo":
        await readBody(req);
        state = session.undo();
        break;
      default:
        if (known.includes(url.pathname)) throw new HttpError(405, `${req.method ?? ""} is not allowed on ${url.pathname}`);
        throw new HttpError(404, `no such page: ${url.pathname}`);
    }
    sendJson(res, 200, state);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError || error instanceof SessionError ? error.status : 500;
      const message = status === 500 ? `internal error: ${(error as Error).message}` : (error as Error).message;
      if (status === 500) process.stderr.write(`heldout rate: ${(error as Error).stack ?? String(error)}\n`);
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

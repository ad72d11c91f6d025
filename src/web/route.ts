/**
 * The browser voice page as a {@linkcode Mount}: `GET /` serves the page (inline CSS), and
 * `/assets/app.js`, its chunks and `/assets/pcm-worklet.js` the committed bundles in `dist/`
 * built by `deno task bundle` — all same origin, nothing from a CDN.
 */
import type { Mount } from "../core/mount.ts";
import { forbiddenOrigin, originAllowed } from "../user/origin.ts";
import { pageHtml } from "./page.ts";

/** The files the page is built from, relative to this module. */
export const ASSETS = {
  "/assets/app.js": "./dist/app.js",
  "/assets/pcm-worklet.js": "./dist/pcm-worklet.js",
} as const;

type AssetPath = keyof typeof ASSETS;

const isAsset = (path: string): path is AssetPath => Object.hasOwn(ASSETS, path);

/**
 * The chunks `deno bundle --code-splitting` cuts from `app.js`, named `<name>-<hash>.js`: the
 * Speex resampler's loader, imported only for audio at a rate other than 24 kHz (which the page
 * never asks for), and the helpers it shares with `app.js`.
 */
const CHUNK = /^\/assets\/(\w+-[A-Z0-9]+\.js)$/;

/** Options of {@linkcode createWebPage}. */
export interface WebPageOptions {
  /** Reads a bundle (default: from `dist/` beside this module). */
  readonly read?: (path: string) => Promise<string>;
  /**
   * Browser origins allowed to request the page (ALLOWED_ORIGINS); empty or unset: any. A
   * request without an `Origin` header (a plain navigation) always passes.
   */
  readonly allowedOrigins?: readonly string[];
}

/** Builds the page mount. Bundles are read on first use and kept. */
export function createWebPage(options: WebPageOptions = {}): Mount {
  const read = options.read ??
    ((path: string) => Deno.readTextFile(new URL(path, import.meta.url)));
  const cache = new Map<string, Promise<string | undefined>>();
  const html = pageHtml();
  const allowedOrigin = originAllowed(options.allowedOrigins ?? []);

  const asset = async (file: string, chunk: boolean): Promise<Response> => {
    let body = cache.get(file);
    if (!body) {
      body = read(file).catch(() => undefined);
      cache.set(file, body);
    }
    const text = await body;
    if (text === undefined) {
      cache.delete(file);
      // A chunk of another build is not ours to serve; a missing bundle is a broken deployment.
      if (chunk) return new Response("Not found", { status: 404 });
      return new Response("Cannot serve the page: its bundle is missing (run deno task bundle)", {
        status: 503,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response(text, {
      headers: {
        "content-type": "text/javascript; charset=utf-8",
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      },
    });
  };

  const page = (request: Request): Response => {
    if (!allowedOrigin(request)) return forbiddenOrigin();
    return new Response(request.method === "HEAD" ? null : html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "content-security-policy":
          "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' blob:",
      },
    });
  };

  const READ = ["GET", "HEAD"] as const;
  return {
    routes: [
      { method: READ, pattern: new URLPattern({ pathname: "/" }), handler: page },
      { method: READ, pattern: new URLPattern({ pathname: "/index.html" }), handler: page },
      ...Object.keys(ASSETS).filter(isAsset).map((path) => ({
        method: READ,
        pattern: new URLPattern({ pathname: path }),
        handler: () => asset(ASSETS[path], false),
      })),
      {
        // The bundle's chunks (`<name>-<hash>.js`), loaded by app.js when needed.
        method: READ,
        pattern: new URLPattern({ pathname: "/assets/:file" }),
        handler: (request) => {
          const chunk = CHUNK.exec(new URL(request.url).pathname)?.[1];
          return chunk === undefined
            ? new Response("Not found", { status: 404 })
            : asset(`./dist/${chunk}`, true);
        },
      },
    ],
  };
}

import assert from "node:assert/strict";
import { startTestApp } from "../helpers.ts";
import { createWebPage } from "../../src/web/route.ts";
import { route } from "../../src/core/route.ts";

const DIST = new URL("../../src/web/dist/", import.meta.url);
const notFound = () => new Response(null, { status: 404 });

Deno.test("GET / serves the voice page with its CSS inline and same-origin scripts", async () => {
  await using app = await startTestApp();
  const response = await fetch(`${app.url}/`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  const html = await response.text();
  assert.match(html, /<div id="root"><\/div>/);
  assert.match(html, /<script type="module" src="\/assets\/app.js"><\/script>/);
  assert.match(html, /<style>/);
  assert.doesNotMatch(html, /https?:\/\//, "no CDN, no external fonts");
});

Deno.test("the page's bundles are served from dist/", async (t) => {
  await using app = await startTestApp();
  const assets: [string, string][] = [
    ["/assets/app.js", "app.js"],
    ["/assets/pcm-worklet.js", "pcm-worklet.js"],
  ];
  // The chunks code splitting cut from app.js (the resampler's loader, shared helpers).
  const chunks = (await distFiles()).filter((file) => !assets.some(([, f]) => f === file));
  assert.ok(chunks.length > 0, "app.js has its lazy chunks");
  for (const file of chunks) assets.push([`/assets/${file}`, file]);
  for (const [path, file] of assets) {
    await t.step(path, async () => {
      const response = await fetch(`${app.url}${path}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal(await response.text(), await Deno.readTextFile(new URL(file, DIST)));
    });
  }
  await t.step("the worklet registers the capture processor", async () => {
    const text = await Deno.readTextFile(new URL("pcm-worklet.js", DIST));
    assert.match(text, /registerProcessor\("pcm-capture"/);
  });
  await t.step("the Speex resampler is a lazy chunk, not in app.js", async () => {
    const app = await Deno.readTextFile(new URL("app.js", DIST));
    assert.doesNotMatch(app, /speex_resampler_init/);
    assert.match(app, /import\("\.\/resampler-[A-Z0-9]+\.js"\)/);
  });
  await t.step("a chunk of another build is not found", async () => {
    const response = await fetch(`${app.url}/assets/resampler-AAAAAAAA.js`);
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
});

/** The files of `src/web/dist/`, sorted. */
async function distFiles(dir: URL | string = DIST): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile) files.push(entry.name);
  return files.sort();
}

/** A bundle's chunk names (`<name>-<HASH>.js`) with the hash taken out. */
function unhashed(text: string): string {
  return text.replace(/\b([A-Za-z_]+)-[A-Z0-9]{8}\.js\b/g, "$1-#.js");
}

Deno.test("createWebPage() answers 503 when a bundle is missing", async () => {
  const page = createWebPage({ read: () => Promise.reject(new Deno.errors.NotFound("gone")) });
  const serve = route(page.routes, () => new Response("not the page's", { status: 404 }));
  const response = await serve(new Request("http://x/assets/app.js"));
  assert.equal(response.status, 503);
  assert.match(await response.text(), /run deno task bundle/);
  for (
    const request of [new Request("http://x/other"), new Request("http://x/", { method: "POST" })]
  ) {
    const other = await serve(request);
    assert.equal(await other.text(), "not the page's");
  }
});

Deno.test("the committed bundles match the sources (deno task bundle)", async () => {
  const out = await Deno.makeTempDir({ prefix: "voice-page-bundle-" });
  try {
    const deno = Deno.execPath();
    const root = new URL("../../", import.meta.url).pathname;
    // As `deno task bundle` builds them: app.js with its chunks, and the worklet.
    const builds: string[][] = [
      ["--code-splitting", "--outdir", out, "src/web/client/app.tsx"],
      ["-o", `${out}/pcm-worklet.js`, "src/web/client/pcm_worklet.ts"],
    ];
    for (const build of builds) {
      const { success, stderr } = await new Deno.Command(deno, {
        args: [
          "bundle",
          "--config",
          "deno.dev.json",
          "--platform",
          "browser",
          "--minify",
          ...build,
        ],
        cwd: root,
        env: { NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(success, new TextDecoder().decode(stderr));
    }
    // Chunk names carry a hash that esbuild also derives from where the checkout sits relative to
    // the package cache, so a clone elsewhere names the same chunk differently: compare with the
    // hashes taken out of names and contents (app.js imports its chunks by name).
    const byName = (a: string, b: string) => unhashed(a).localeCompare(unhashed(b));
    const built = (await distFiles(out)).sort(byName);
    const committed = (await distFiles()).sort(byName);
    assert.deepEqual(
      committed.map(unhashed),
      built.map(unhashed),
      "src/web/dist/ is stale: run deno task bundle",
    );
    for (const [i, file] of built.entries()) {
      assert.equal(
        unhashed(await Deno.readTextFile(`${out}/${file}`)),
        unhashed(await Deno.readTextFile(new URL(committed[i]!, DIST))),
        `src/web/dist/${committed[i]} is stale: run deno task bundle`,
      );
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("createWebPage() refuses the page to browser origins not in allowedOrigins", async (t) => {
  const page = createWebPage({
    allowedOrigins: ["https://app.example.com"],
    read: () => Promise.resolve("// bundle"),
  });
  const get = (path: string, headers: HeadersInit = {}) =>
    route(page.routes, notFound)(new Request(`http://gateway.test${path}`, { headers }));
  const cases: [string, string, HeadersInit, number][] = [
    ["another origin", "/", { origin: "https://evil.example" }, 403],
    ["another origin, /index.html", "/index.html", { origin: "https://evil.example" }, 403],
    ["a listed origin", "/", { origin: "https://app.example.com" }, 200],
    ["no Origin header (a navigation)", "/", {}, 200],
  ];
  for (const [name, path, headers, status] of cases) {
    await t.step(`${name}: ${status}`, async () => {
      const response = await get(path, headers);
      assert.equal(response?.status, status);
      if (status === 403) assert.equal((await response!.json()).error, "forbidden_origin");
      else await response?.body?.cancel();
    });
  }
  await t.step("every origin passes without a list", async () => {
    const open = createWebPage({ read: () => Promise.resolve("") });
    const response = await route(open.routes, notFound)(
      new Request("http://gateway.test/", { headers: { origin: "https://evil.example" } }),
    );
    assert.equal(response?.status, 200);
    await response?.body?.cancel();
  });
});

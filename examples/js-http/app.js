// A `wasi:http` component in JavaScript, in the fetch-event style of service workers: it answers HTTP itself,
// beside WAGI modules, and makes outbound requests with `fetch`, to the hosts its entry's `allowed_hosts` lists.
//
// Built by `cargo xtask examples` with the componentize-js of `examples/js-env` (pinned in its package.json):
//
//     ../js-env/node_modules/.bin/componentize-js app.js --wit wit -n app -o js_http.wasm
//
//   GET <route>/fetch?url=URL   the peer's status and body, or 502 and why the request failed
//   GET <route>/anything        `hello from JavaScript`, the method, the path below the route and a header
//
// componentize-js evaluates this module at build time and snapshots the result; the fetch event runs once per
// request, in a fresh instance.

addEventListener("fetch", (event) => event.respondWith(handle(event.request)));

async function handle(request) {
  const url = new URL(request.url);
  const below = request.headers.get("spin-path-info") ?? url.pathname;
  if (below === "/fetch") {
    const target = url.searchParams.get("url");
    try {
      const response = await fetch(target);
      return new Response(await response.text(), { status: response.status });
    } catch (error) {
      return new Response(`outbound request failed: ${error}\n`, { status: 502 });
    }
  }
  const text = [
    "hello from JavaScript",
    `method: ${request.method}`,
    `path-info: ${below}`,
    `x-demo: ${request.headers.get("x-demo") ?? ""}`,
    "",
  ].join("\n");
  return new Response(text, { headers: { "content-type": "text/plain" } });
}

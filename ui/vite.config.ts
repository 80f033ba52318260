import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the gateway's WebSocket (same origin `/`) to a running gateway, so the
// page can be developed with hot reload against real data: HEARTH_GATEWAY=http://127.0.0.1:18999.
const gateway = process.env.HEARTH_GATEWAY ?? "http://127.0.0.1:18789";

export default defineConfig({
  base: "/",
  plugins: [svelte()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    emptyOutDir: true,
    // The page's CSP is `script-src 'self'`: nothing may be inlined as a script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      "/": {
        target: gateway,
        ws: true,
        changeOrigin: true,
        // The gateway accepts WebSocket upgrades from its own origin only.
        rewriteWsOrigin: true,
        // Vite serves the page, its modules and its own hot-reload socket; only the app's
        // WebSocket goes to the gateway.
        bypass: (req) =>
          req.headers.upgrade && req.headers["sec-websocket-protocol"] !== "vite-hmr" ? undefined : req.url,
      },
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});

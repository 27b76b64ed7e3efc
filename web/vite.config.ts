import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
/** `npm start`'s API, for `npm run dev:web`: the dev server forwards the API and the local sign-in. */
const localApi = process.env.FLYWHEEL_API_URL ?? "http://127.0.0.1:8787";

export default defineConfig({
  root,
  base: "/",
  plugins: [vue()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    host: "127.0.0.1",
    // The dev server forwards the local sign-in (the dev token); no other page may read it. Vite
    // would otherwise answer any localhost origin's request with CORS headers allowing it.
    cors: false,
    proxy: {
      "/api": localApi,
      "/local-config.json": localApi,
    },
  },
});

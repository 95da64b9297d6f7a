import type { Connect } from 'vite'
import { defineConfig } from 'vite'
import { headersFile, pageHeaders } from './headers.ts'

// Dev and preview serve on loopback next to the local stack's loopback Worker, node and gateway.
// Every response gets the page's headers, chosen by its path (only the prover worker's script
// may eval), before Vite's own middlewares answer.
const localHeaders: Connect.NextHandleFunction = (req, res, next) => {
  const path = new URL(req.url ?? '/', 'http://page').pathname
  for (const [k, v] of Object.entries(pageHeaders({ loopback: true, path }))) res.setHeader(k, v)
  next()
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the build works from any path, including an IPFS gateway's /ipfs/<cid>/.
  base: './',
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  worker: {
    format: 'es',
    // The name the static host's `_headers` gives the worker's policy (headers.ts).
    rollupOptions: { output: { entryFileNames: 'assets/[name]-[hash].js' } },
  },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 20_000 },
  optimizeDeps: { exclude: ['o1js'] },
  plugins: [
    {
      name: 'zkrunner-local-headers',
      configureServer(server) {
        server.middlewares.use(localHeaders)
      },
      configurePreviewServer(server) {
        server.middlewares.use(localHeaders)
      },
    },
    {
      name: 'zkrunner-headers-file',
      // The static host's headers come from the same definition as the dev server's.
      generateBundle() {
        this.emitFile({ type: 'asset', fileName: '_headers', source: headersFile() })
      },
    },
  ],
})

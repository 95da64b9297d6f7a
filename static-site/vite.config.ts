import { defineConfig } from 'vite'

/**
 * Headers every host of the page must send: o1js (deposits, results roots) needs a
 * cross-origin isolated page for SharedArrayBuffer. `credentialless` lets the page fetch the
 * Worker, Mina and gateways cross-origin without each of them sending CORP headers.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the build works from any path, including an IPFS gateway's /ipfs/<cid>/.
  base: './',
  server: { headers: ISOLATION_HEADERS, host: '127.0.0.1' },
  preview: { headers: ISOLATION_HEADERS, host: '127.0.0.1' },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 20_000 },
  optimizeDeps: { exclude: ['o1js'] },
})

import { defineConfig } from 'vite'
import { headersFile, pageHeaders } from './headers.ts'

// Dev and preview serve on loopback next to the local stack's loopback Worker, node and gateway.
const LOCAL_HEADERS = pageHeaders({ loopback: true })

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the build works from any path, including an IPFS gateway's /ipfs/<cid>/.
  base: './',
  server: { headers: LOCAL_HEADERS, host: '127.0.0.1' },
  preview: { headers: LOCAL_HEADERS, host: '127.0.0.1' },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 20_000 },
  optimizeDeps: { exclude: ['o1js'] },
  plugins: [
    {
      name: 'zkrunner-headers-file',
      // The static host's headers come from the same definition as the dev server's.
      generateBundle() {
        this.emitFile({ type: 'asset', fileName: '_headers', source: headersFile() })
      },
    },
  ],
})

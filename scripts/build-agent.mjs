// Builds the runner agent as a runner host runs it (`npm run build`; bin/zkrunner-agent runs it).
//
// 1. tsc compiles agent/, protocol/ and contracts/ to JavaScript in dist/tsc/. Only tsc emits the
//    decorator metadata o1js's @method needs; esbuild does not.
// 2. esbuild bundles that JavaScript into dist/agent/ with tree shaking and one chunk per dynamic
//    import. Node loads whole modules, so without this `import { createHeliaLight } from 'helia'`
//    also loads libp2p and bitswap (helia's index imports them); bundled, the offline agent
//    leaves them out and needs about a third less memory. The `--announce` node, which does use
//    libp2p, is built apart and loads helia from node_modules. o1js stays external: it is loaded
//    only by `settle`, from node_modules, with its WebAssembly and native backend files.
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({
  options: { out: { type: 'string', default: join(root, 'dist') }, help: { type: 'boolean' } },
})
if (values.help) {
  console.log(`usage: npm run build [-- --out <dir>]

Builds the runner agent into <dir>/agent (default dist/agent), run by bin/zkrunner-agent.
The directory must be inside this checkout so the agent finds o1js in node_modules.`)
  process.exit(0)
}
const out = resolve(values.out)

rmSync(join(out, 'tsc'), { recursive: true, force: true })
rmSync(join(out, 'agent'), { recursive: true, force: true })
try {
  execFileSync(
    join(root, 'node_modules/.bin/tsc'),
    ['-p', join(root, 'tsconfig.build.json'), '--outDir', join(out, 'tsc')],
    { stdio: 'inherit' },
  )
} catch {
  // tsc has printed its errors.
  console.error('build-agent: tsc failed')
  process.exit(1)
}
const ANNOUNCING = 'announcing-node.js'
// `zkrunner-agent call` verifies a driver's result with Helia's verified retrieval from gateways;
// in the shared chunk graph its helia imports would be hoisted into chunks `run` loads too.
const CALL = 'call-command.js'
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: true,
  external: ['o1js', 'mina-fungible-token'],
  // Bundled CommonJS dependencies (prom-client, cli-progress) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __zkrunnerCreateRequire } from 'node:module'; const require = __zkrunnerCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
}
await build({
  ...common,
  entryPoints: [join(out, 'tsc/agent/cli.js')],
  outdir: join(out, 'agent'),
  splitting: true,
  // The `--announce` node (libp2p) is its own bundle: in a shared chunk graph esbuild would hoist
  // helia's libp2p modules into a chunk the offline node imports too.
  plugins: [
    {
      name: 'heavy-paths-apart',
      setup(b) {
        b.onResolve({ filter: /announcing-node\.js$/ }, () => ({
          path: `./${ANNOUNCING}`,
          external: true,
        }))
        b.onResolve({ filter: /call-command\.js$/ }, () => ({ path: `./${CALL}`, external: true }))
      },
    },
  ],
})
// Not bundled: libp2p's modules find their own files relative to import.meta.url (e.g. ssdp reads
// its package.json), so they are loaded from node_modules as they are published.
await build({
  ...common,
  entryPoints: [join(out, 'tsc/agent/ipfs', ANNOUNCING)],
  outfile: join(out, 'agent', ANNOUNCING),
  packages: 'external',
})
// Its own bundle, loaded only by `call`, with its packages from node_modules as for the
// announcing node (Helia's HTTP stack does not survive bundling: undici reads Node internals).
await build({
  ...common,
  entryPoints: [join(out, 'tsc/agent/call', CALL)],
  outfile: join(out, 'agent', CALL),
  packages: 'external',
})
console.log(`built ${join(out, 'agent/cli.js')} (bin/zkrunner-agent runs dist/agent/cli.js)`)

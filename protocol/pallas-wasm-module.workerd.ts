// @ts-expect-error: workerd bundlers (wrangler, the bench's esbuild) import .wasm as a compiled module
import compiled from './pallas.wasm'

// workerd refuses to compile WebAssembly at run time: the Worker imports the committed bytes as a
// module, which wrangler compiles at upload (as poseidon-wasm-module.workerd.ts).

/** The compiled Pallas module. */
export const pallasWasmModule = (): WebAssembly.Module => compiled as WebAssembly.Module

// @ts-expect-error: workerd bundlers (wrangler, the bench's esbuild) import .wasm as a compiled module
import compiled from './poseidon.wasm'

// workerd refuses to compile WebAssembly at run time ("Wasm code generation disallowed by
// embedder"): the Worker imports the committed bytes as a module, which wrangler compiles at upload.

/** The compiled Poseidon module. */
export const poseidonWasmModule = (): WebAssembly.Module => compiled as WebAssembly.Module

import { poseidonWasmBytes } from './poseidon-wasm-bytes.ts'

// Node and browsers compile the module from its bytes (the page's CSP allows 'wasm-unsafe-eval';
// the module is small enough for a synchronous compile on a browser's main thread).
// The Worker takes poseidon-wasm-module.workerd.ts instead (package.json `imports`).

// Workers' types declare the constructor abstract (workerd refuses it); this file never runs there.
const Compile = WebAssembly.Module as unknown as new (bytes: BufferSource) => WebAssembly.Module

/** The compiled Poseidon module. */
export const poseidonWasmModule = (): WebAssembly.Module => new Compile(poseidonWasmBytes())

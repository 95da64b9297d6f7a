import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// The core (index.ts and everything it reaches) runs in the page, in Node (stack, CLI) and in the
// agent: it must not reach a Node-only or browser-only module, nor o1js or Helia, which its
// callers inject (Poseidon, bundle readers) or load only where they need them.
const FORBIDDEN = [/^node:/, /^o1js$/, /^helia$/, /^@helia\//, /^vite/]

/** Every module specifier reached from `entry` by static and dynamic imports, by file. */
function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    const text = readFileSync(file, 'utf8')
    const specifiers = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'/g),
      ...text.matchAll(/import\(\s*'([^']+)'\s*\)/g),
    ].map((m) => m[1] as string)
    seen.set(file, specifiers)
    for (const s of specifiers) if (s.startsWith('.')) visit(resolve(dirname(file), s))
  }
  visit(entry)
  return seen
}

describe('the verifier core', () => {
  it('reaches no Node-only, browser-only, o1js or Helia module', () => {
    const graph = importGraph(resolve(import.meta.dirname, 'index.ts'))
    const offending = [...graph].flatMap(([file, specifiers]) =>
      specifiers.filter((s) => FORBIDDEN.some((f) => f.test(s))).map((s) => `${file}: ${s}`),
    )
    expect(graph.size).toBeGreaterThan(5)
    expect(offending).toEqual([])
  })

  it('would notice one (the Node assembly reaches o1js and Helia)', () => {
    const graph = importGraph(resolve(import.meta.dirname, 'from-endpoints.ts'))
    const all = [...graph.values()].flat()
    expect(all).toContain('o1js')
    expect(all).toContain('helia')
  })
})

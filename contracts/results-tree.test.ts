import { Field } from 'o1js'
import { describe, expect, it } from 'vitest'
import { resultsRoot, resultWitness, verifyResult } from './results-tree.ts'

describe('results tree', () => {
  it('proves each settled result against the root, and nothing else', () => {
    const digests = Array.from({ length: 5 }, (_, i) => new Uint8Array(32).fill(i + 1))
    const root: Field = resultsRoot(digests)
    for (let i = 0; i < digests.length; i++) {
      expect(verifyResult(root, digests[i]!, resultWitness(digests, i))).toBe(true)
    }
    expect(verifyResult(root, new Uint8Array(32).fill(9), resultWitness(digests, 0))).toBe(false)
    expect(verifyResult(root, digests[1]!, resultWitness(digests, 0))).toBe(false)
  })
})

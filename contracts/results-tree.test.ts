import { Field, PrivateKey } from 'o1js'
import { describe, expect, it } from 'vitest'
import { resultsRoot, resultWitness, verifyResult } from './results-tree.ts'

const owner = {
  service: PrivateKey.random().toPublicKey().toBase58(),
  user: PrivateKey.random().toPublicKey().toBase58(),
}

describe('results tree', () => {
  it('proves each settled result against the root, and nothing else', () => {
    const digests = Array.from({ length: 5 }, (_, i) => new Uint8Array(32).fill(i + 1))
    const root: Field = resultsRoot(owner, digests)
    for (let i = 0; i < digests.length; i++) {
      expect(verifyResult(root, owner, digests[i]!, resultWitness(owner, digests, i))).toBe(true)
    }
    const w0 = resultWitness(owner, digests, 0)
    expect(verifyResult(root, owner, new Uint8Array(32).fill(9), w0)).toBe(false)
    expect(verifyResult(root, owner, digests[1]!, w0)).toBe(false)
  })

  it("binds each leaf to its service and user: another user's tree of the same manifests differs", () => {
    const digests = [new Uint8Array(32).fill(1)]
    const other = { ...owner, user: PrivateKey.random().toPublicKey().toBase58() }
    expect(resultsRoot(other, digests)).not.toEqual(resultsRoot(owner, digests))
    const w = resultWitness(owner, digests, 0)
    expect(verifyResult(resultsRoot(owner, digests), other, digests[0]!, w)).toBe(false)
  })
})

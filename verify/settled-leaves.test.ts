import { MemoryBlockstore } from 'blockstore-core/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  type SettledLeaves,
  settledLeavesBytes,
  settledLeavesCid,
  toHex,
} from '../protocol/index.ts'
import { VerifyErrorCode } from './errors.ts'
import { createVerifiedReader, type VerifiedReader } from './gateway-reader.ts'
import { settledResultsFrom } from './settled-leaves.ts'
import { type RunningServer, startTrustlessGateway } from './test-support/trustless-gateway.ts'

// The leaves document through the page's real verified reader and a trustless gateway double.

const blocks = new MemoryBlockstore()
let gateway: RunningServer & { requested: string[] }
let reader: VerifiedReader
const service = generateMinaKeyPair().publicKey
const user = generateMinaKeyPair().publicKey
const digests = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
const doc: SettledLeaves = { v: 1, service, user, manifestDigests: digests.map(toHex) }

beforeAll(async () => {
  gateway = await startTrustlessGateway(blocks)
  reader = await createVerifiedReader([gateway.url])
})
afterAll(async () => {
  await reader?.stop()
  await gateway?.close()
})

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  )

describe('settledResultsFrom', () => {
  const settled = () => settledResultsFrom(reader, async () => 0n, 5_000)

  it('returns the digests of the document the gateway serves, in leaf order', async () => {
    const cid = settledLeavesCid(doc)
    await blocks.put(cid, settledLeavesBytes(doc))
    expect(await settled().digests(cid.toString(), service, user)).toEqual(digests)
    expect(gateway.requested).toContain(cid.toString())
  })

  it('refuses a document of another user or service as invalid', async () => {
    const cid = settledLeavesCid(doc)
    await blocks.put(cid, settledLeavesBytes(doc))
    const other = generateMinaKeyPair().publicKey
    expect(await codeOf(settled().digests(cid.toString(), service, other))).toBe(
      VerifyErrorCode.SETTLED_LEAVES_INVALID,
    )
    expect(await codeOf(settled().digests(cid.toString(), other, user))).toBe(
      VerifyErrorCode.SETTLED_LEAVES_INVALID,
    )
  })

  it('fails as unavailable, not invalid, when no gateway holds the document', async () => {
    const missing = settledLeavesCid({ ...doc, manifestDigests: [] }).toString()
    const code = await codeOf(settled().digests(missing, service, user))
    expect(code).not.toBe('resolved')
    expect(code).not.toBe(VerifyErrorCode.SETTLED_LEAVES_INVALID)
  }, 20_000)
})

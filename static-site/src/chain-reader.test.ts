import { describe, expect, it } from 'vitest'
import {
  cidToFields,
  generateMinaKeyPair,
  publicKeyToFields,
  unwrap,
} from '../../protocol/index.ts'
import { registryEntries } from './chain-reader.ts'
import { fieldsToPublicKey } from './mina-address.ts'

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

describe('chain reader decoding', () => {
  it('rebuilds a base58 public key from its fields', () => {
    const { publicKey } = generateMinaKeyPair()
    const [x, odd] = unwrap(publicKeyToFields(publicKey))
    expect(fieldsToPublicKey(x, odd)).toBe(publicKey)
  })

  it('lists published services and drops the ones their operator retired', () => {
    const [s1, s2, op] = [generateMinaKeyPair(), generateMinaKeyPair(), generateMinaKeyPair()].map(
      (k) => unwrap(publicKeyToFields(k.publicKey)),
    )
    const [c0, c1] = unwrap(cidToFields(CID))
    const entries = registryEntries([
      { height: 1, slot: 1, data: [0n, ...s1!, ...op!, c0, c1] },
      { height: 2, slot: 2, data: [0n, ...s2!, ...op!, c0, c1] },
      { height: 3, slot: 3, data: [1n, ...s1!, ...op!] },
    ])
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ descriptorCid: CID, height: 2 })
    expect(entries[0]?.service).toBe(fieldsToPublicKey(s2![0], s2![1]))
  })
})

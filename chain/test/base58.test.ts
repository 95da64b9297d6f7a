import { Field, PrivateKey } from 'o1js'
import { describe, expect, it } from 'vitest'
import { fieldToBase58, type HashKind } from '../base58.ts'
import { deriveDevAccounts } from '../dev-accounts.ts'
import { importO1jsInternal } from './o1js-internals.ts'

type Encoding = { toBase58(f: Field): string }
type Encodings = Record<'LedgerHash' | 'EpochSeed' | 'StateHash' | 'ReceiptChainHash', Encoding>

describe('base58 hashes', () => {
  it('encodes the empty ledger hash and the empty receipt chain hash as Mina prints them', () => {
    expect(fieldToBase58('ledgerHash', 0n)).toBe(
      'jw6bz2wud1N6itRUHZ5ypo3267stk4UgzkiuWtAMPRZo9g4Udyd',
    )
    const emptyReceiptChainHash =
      4836908137238259756355130884394587673375183996506461139740622663058947052555n
    expect(fieldToBase58('receiptChainHash', emptyReceiptChainHash)).toBe(
      '2mzbV7WevxLuchs2dAMY4vQBS6XttnCUF8Hvks4XNBQ5qiSGGBQe',
    )
  })

  it("matches o1js's own encoders on random fields", async () => {
    const o1js = await importO1jsInternal<Encodings>('lib/mina/v1/base58-encodings.js')
    const kinds: [HashKind, Encoding][] = [
      ['ledgerHash', o1js.LedgerHash],
      ['epochSeed', o1js.EpochSeed],
      ['stateHash', o1js.StateHash],
      ['receiptChainHash', o1js.ReceiptChainHash],
    ]
    for (let i = 0; i < 20; i++) {
      const f = Field.random()
      for (const [kind, encoding] of kinds)
        expect(fieldToBase58(kind, f.toBigInt())).toBe(encoding.toBase58(f))
    }
  })
})

describe('dev accounts', () => {
  it('are the same for the same seed and differ across seeds', () => {
    const a = deriveDevAccounts('seed-a', 3)
    expect(deriveDevAccounts('seed-a', 3)).toEqual(a)
    expect(deriveDevAccounts('seed-b', 3)[0]).not.toEqual(a[0])
    expect(new Set(a.map((x) => x.publicKey)).size).toBe(3)
  })

  it('pair each private key with its public key', () => {
    for (const { publicKey, privateKey } of deriveDevAccounts('zkrunner-dev', 2))
      expect(PrivateKey.fromBase58(privateKey).toPublicKey().toBase58()).toBe(publicKey)
  })
})

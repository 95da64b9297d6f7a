import { describe, expect, it } from 'vitest'
import { encodeTerms } from './chain-layout.ts'
import {
  checkGenuineService,
  FROZEN_LEDGER_PERMISSIONS,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  isLedgerAddress,
  keyHash,
  ledgerAccountsQuery,
  ledgerAddressOf,
  readServiceAccountsWith,
  serviceAccountQuery,
  UnsafeServiceCode,
} from './genuine-service.ts'
import { publicKeyFromFields, publicKeyToFields } from './mina-key.ts'

const code = {
  serviceVkHash: '11',
  ledgerVkHash: '33',
  ledgerVaultVkHash: '44',
  txnVersion: '3',
}
const vk = { auth: 'Impossible', txnVersion: '3' }
// PrivateKey.fromBigInt(12346n).toPublicKey() and 12347n's, from o1js 2.15 (both even y).
const LEDGER = 'B62qnd1W3pcLTpEj6ecoVpco8uHaPHRpJHHiQTMS4abk2u2jWwc9Trc'
const OTHER = 'B62qqeMgshmq7MYw9wkzQKSSSD4ofrxwAGLoPZz4W3r3M1w2d1qLHqf'
const xOf = (key: string) => {
  const f = publicKeyToFields(key)
  if (!f.ok) throw f.error
  return f.value[0]
}
// A service address (key 12347n): the ledger froze its Poseidon hash.
const SERVICE = OTHER
const terms = encodeTerms({ pricePerJob: 10n, withdrawTimelockSlots: 50n })
const RUNNER_HASH = 777n

const answer = (ledgerX = xOf(LEDGER)) => ({
  service: {
    zkappState: ['1', '2', '3', terms, RUNNER_HASH, '5', ledgerX, '8'].map(String),
    verificationKey: { hash: '11' },
    permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: vk },
  },
  ledger: {
    zkappState: ['0', '0', '0', terms, RUNNER_HASH, '0', '0', keyHash(SERVICE)].map(String),
    verificationKey: { hash: '33' },
    permissions: { ...FROZEN_LEDGER_PERMISSIONS, setVerificationKey: vk },
  },
  ledgerVault: {
    balance: { total: '500' },
    verificationKey: { hash: '44' },
    permissions: { ...FROZEN_VAULT_PERMISSIONS, setVerificationKey: vk },
  },
})
type Answer = ReturnType<typeof answer>

/** A GraphQL node double answering the two documents from `a`; records the documents asked. */
function node(a: Answer) {
  const asked: string[] = []
  const query = async (doc: string) => {
    asked.push(doc)
    if (doc.includes('service:')) return { service: a.service }
    if (!doc.includes(`"${LEDGER}"`)) return { ledger: null, ledgerVault: null }
    return { ledger: a.ledger, ledgerVault: a.ledgerVault }
  }
  return { asked, query }
}

async function verdict(a: Answer) {
  const read = await readServiceAccountsWith(node(a).query, SERVICE, 'wTok')
  if (!read.ok) throw new Error(read.message)
  return checkGenuineService(read.value, code)
}

describe('genuine-and-frozen check', () => {
  it('accepts the service and its ledger with the compiled key hashes, frozen permissions and the same terms', async () => {
    expect(await verdict(answer())).toEqual({ genuine: true })
  })

  it('reads the service, then its ledger at the address the service froze, under the credit token', async () => {
    const n = node(answer())
    const read = await readServiceAccountsWith(n.query, SERVICE, 'wTok')
    expect(read.ok && read.value.ledgerAddress).toBe(LEDGER)
    expect(n.asked).toEqual([serviceAccountQuery(SERVICE), ledgerAccountsQuery(LEDGER, 'wTok')])
    expect(n.asked[1]).toContain(`ledger: account(publicKey: "${LEDGER}")`)
    expect(n.asked[1]).toContain(`ledgerVault: account(publicKey: "${LEDGER}", token: "wTok")`)
  })

  it('hashes a key as o1js Poseidon.hash(publicKey.toFields())', () => {
    // o1js 2.15: Poseidon.hash(PrivateKey.fromBigInt(12346n).toPublicKey().toFields())
    expect(keyHash(LEDGER)).toBe(
      9531782680291597498031629197172459080340371235323787472746376029305653325743n,
    )
    expect(keyHash('not a key')).toBeNull()
  })

  it('derives the ledger address from the x the service froze (even y only)', () => {
    expect(ledgerAddressOf([0n, 0n, 0n, 0n, 0n, 0n, xOf(LEDGER)])).toBe(LEDGER)
    expect(isLedgerAddress(LEDGER)).toBe(true)
    const odd = publicKeyFromFields(xOf(LEDGER), true)!
    expect(isLedgerAddress(odd)).toBe(false)
    expect(ledgerAddressOf([0n])).toBeNull()
  })

  it('names each way a service is unsafe', async () => {
    const a = answer()
    expect(await verdict({ ...a, service: null as never })).toMatchObject({
      code: UnsafeServiceCode.NO_CONTRACT,
    })
    expect(
      await verdict({ ...a, service: { ...a.service, verificationKey: { hash: '12' } } }),
    ).toMatchObject({ code: UnsafeServiceCode.WRONG_CODE })
    const forked = {
      ...a.service.permissions,
      setVerificationKey: { auth: 'Impossible', txnVersion: '2' },
    }
    expect(await verdict({ ...a, service: { ...a.service, permissions: forked } })).toMatchObject({
      code: UnsafeServiceCode.VK_UNFROZEN_BY_UPGRADE,
    })
    // The service names another ledger (the double has no accounts there).
    expect(await verdict(answer(xOf(OTHER)))).toMatchObject({ code: UnsafeServiceCode.NO_LEDGER })
    expect(await verdict({ ...a, ledger: null as never })).toMatchObject({
      code: UnsafeServiceCode.NO_LEDGER,
    })
    expect(
      await verdict({ ...a, ledger: { ...a.ledger, verificationKey: { hash: '11' } } }),
    ).toMatchObject({ code: UnsafeServiceCode.WRONG_LEDGER_CODE })
    expect(
      await verdict({ ...a, ledgerVault: { ...a.ledgerVault, verificationKey: null as never } }),
    ).toMatchObject({ code: UnsafeServiceCode.NO_LEDGER_VAULT })
    expect(
      await verdict({ ...a, ledgerVault: { ...a.ledgerVault, verificationKey: { hash: '11' } } }),
    ).toMatchObject({ code: UnsafeServiceCode.WRONG_LEDGER_VAULT_CODE })
    const loose = { ...a.ledger.permissions, setZkappUri: 'Signature' as const }
    expect(await verdict({ ...a, ledger: { ...a.ledger, permissions: loose } })).toEqual({
      genuine: false,
      code: UnsafeServiceCode.NOT_FROZEN,
      reason: 'ledger permission setZkappUri is Signature, not Impossible',
    })
    const open = { ...a.ledgerVault.permissions, access: 'Signature' as const }
    expect(await verdict({ ...a, ledgerVault: { ...a.ledgerVault, permissions: open } })).toEqual({
      genuine: false,
      code: UnsafeServiceCode.NOT_FROZEN,
      reason: 'ledger vault permission access is Signature, not None',
    })
    const withState = (i: number, v: bigint) => {
      const st = [...a.ledger.zkappState]
      st[i] = v.toString()
      return { ...a, ledger: { ...a.ledger, zkappState: st } }
    }
    const cheaper = encodeTerms({ pricePerJob: 9n, withdrawTimelockSlots: 50n })
    expect(await verdict(withState(3, cheaper))).toMatchObject({
      code: UnsafeServiceCode.LEDGER_TERMS_DIFFER,
    })
    const shorter = encodeTerms({ pricePerJob: 10n, withdrawTimelockSlots: 20n })
    expect(await verdict(withState(3, shorter))).toMatchObject({
      code: UnsafeServiceCode.LEDGER_TERMS_DIFFER,
    })
    expect(await verdict(withState(7, keyHash(LEDGER)!))).toEqual({
      genuine: false,
      code: UnsafeServiceCode.LEDGER_NOT_BOUND,
      reason:
        'the ledger settles for another service: vouchers and results of this one do not settle there',
    })
    expect(await verdict(withState(4, 778n))).toEqual({
      genuine: false,
      code: UnsafeServiceCode.LEDGER_TERMS_DIFFER,
      reason: "the ledger pays another runner than the service's",
    })
  })

  it('treats a malformed node answer as an error, not as a verdict', async () => {
    const bad = await readServiceAccountsWith(
      async () => ({ service: { verificationKey: { hash: 'x' } } }),
      SERVICE,
      'wTok',
    )
    expect(bad.ok).toBe(false)
  })
})

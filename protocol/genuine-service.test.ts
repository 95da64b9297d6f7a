import { describe, expect, it } from 'vitest'
import {
  checkGenuineService,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  parseServiceAccounts,
  serviceAccountsQuery,
  UnsafeServiceCode,
} from './genuine-service.ts'

const code = { serviceVkHash: '11', vaultVkHash: '22', txnVersion: '3' }
const vk = { auth: 'Impossible', txnVersion: '3' }
const answer = () => ({
  service: {
    zkappState: ['1', '2', '3', '4', '5', '6', '7', '8'],
    verificationKey: { hash: '11' },
    permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: vk },
  },
  vault: {
    balance: { total: '500' },
    verificationKey: { hash: '22' },
    permissions: { ...FROZEN_VAULT_PERMISSIONS, setVerificationKey: vk },
  },
})
const verdict = (data: unknown) => {
  const parsed = parseServiceAccounts(data)
  if (!parsed.ok) throw new Error(parsed.message)
  return checkGenuineService(parsed.value, code)
}

describe('genuine-and-frozen check', () => {
  it('accepts both accounts with the compiled key hashes and the frozen permissions', () => {
    expect(verdict(answer())).toEqual({ genuine: true })
  })

  it('names each way a service is unsafe', () => {
    const a = answer()
    expect(verdict({ ...a, service: null })).toMatchObject({ code: UnsafeServiceCode.NO_CONTRACT })
    expect(
      verdict({ ...a, service: { ...a.service, verificationKey: { hash: '12' } } }),
    ).toMatchObject({
      code: UnsafeServiceCode.WRONG_CODE,
    })
    expect(
      verdict({
        ...a,
        vault: { balance: { total: '9' }, verificationKey: null, permissions: a.vault.permissions },
      }),
    ).toMatchObject({
      code: UnsafeServiceCode.NO_VAULT,
    })
    expect(verdict({ ...a, vault: { ...a.vault, verificationKey: { hash: '11' } } })).toMatchObject(
      {
        code: UnsafeServiceCode.WRONG_VAULT_CODE,
      },
    )
    const loose = { ...a.vault.permissions, access: 'Signature' }
    expect(verdict({ ...a, vault: { ...a.vault, permissions: loose } })).toEqual({
      genuine: false,
      code: UnsafeServiceCode.NOT_FROZEN,
      reason: 'vault permission access is Signature, not None',
    })
    const forked = {
      ...a.service.permissions,
      setVerificationKey: { auth: 'Impossible', txnVersion: '2' },
    }
    expect(verdict({ ...a, service: { ...a.service, permissions: forked } })).toMatchObject({
      code: UnsafeServiceCode.VK_UNFROZEN_BY_UPGRADE,
    })
  })

  it('treats a malformed node answer as an error, not as a verdict', () => {
    expect(parseServiceAccounts({ service: { verificationKey: { hash: 'x' } } }).ok).toBe(false)
  })

  it('reads both accounts in one document, the vault under the credit token', () => {
    const q = serviceAccountsQuery('B62qS', 'wTok')
    expect(q).toContain('service: account(publicKey: "B62qS")')
    expect(q).toContain('vault: account(publicKey: "B62qS", token: "wTok")')
  })
})

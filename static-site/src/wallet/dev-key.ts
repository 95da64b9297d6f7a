import { publicKeyOf, signFields } from '../../../protocol/index.ts'
import { SiteError, SiteErrorCode } from '../errors.ts'
import type { Wallet } from './wallet.ts'

/** A wallet over a private key from config.json: the local stack's generated dev key. */
export function devKeyWallet(privateKey: string): Wallet & { readonly privateKey: string } {
  const pub = publicKeyOf(privateKey)
  if (!pub.ok) throw new SiteError(SiteErrorCode.CONFIG_INVALID, 'devKey is not a Mina private key')
  return {
    label: 'Dev key (local stack only)',
    isDevKey: true,
    publicKey: pub.value,
    privateKey,
    signFields: async (fields) => signFields(fields, privateKey),
  }
}

import { SiteError, SiteErrorCode } from '../errors.ts'
import type { Wallet } from './wallet.ts'

/** The part of Auro's injected provider (`window.mina`) the page uses. */
export interface AuroProvider {
  requestAccounts(): Promise<string[] | { code: number; message: string }>
  signFields(args: {
    message: string[]
  }): Promise<{ data: unknown; signature: string } | { code: number; message: string }>
  sendTransaction?(args: {
    transaction: string
    feePayer?: { fee?: number; memo?: string }
  }): Promise<{ hash: string } | { code: number; message: string }>
}

declare global {
  interface Window {
    mina?: AuroProvider
  }
}

/** The fee Auro is asked to set on a ledger transaction, in MINA (Auro's unit). */
const LEDGER_FEE_MINA = 0.1

const refused = (r: unknown): r is { code: number; message: string } =>
  typeof r === 'object' && r !== null && 'code' in r && 'message' in r

/** The Auro provider if the extension is installed. */
export const auroProvider = (): AuroProvider | null => window.mina ?? null

/** Connects to Auro and wraps its first account as a Wallet. */
export async function connectAuro(provider: AuroProvider): Promise<Wallet> {
  const accounts = await provider.requestAccounts()
  if (refused(accounts) || accounts.length === 0) {
    throw new SiteError(SiteErrorCode.WALLET_REFUSED, 'Auro did not share an account')
  }
  const publicKey = accounts[0]!
  return {
    label: 'Auro',
    isDevKey: false,
    publicKey,
    async signFields(fields) {
      // Auro takes the fields as decimal strings.
      const r = await provider.signFields({ message: fields.map((f) => f.toString(10)) })
      if (refused(r)) throw new SiteError(SiteErrorCode.WALLET_REFUSED, r.message)
      return r.signature
    },
    ...(provider.sendTransaction
      ? {
          async sendTransaction(zkappCommand: string, memo: string) {
            // Auro sets the fee payer's nonce, signs the fee payer and the account updates its
            // key authorizes (the credits leaving the account), and broadcasts.
            const r = await provider.sendTransaction!({
              transaction: zkappCommand,
              feePayer: { fee: LEDGER_FEE_MINA, memo },
            })
            if (refused(r)) throw new SiteError(SiteErrorCode.WALLET_REFUSED, r.message)
            return r.hash
          },
        }
      : {}),
  }
}

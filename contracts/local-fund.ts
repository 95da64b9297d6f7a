import { AccountUpdate, Lightnet, Mina, type PublicKey, UInt64 } from 'o1js'
import { accountExists } from './client.ts'

/** Where the local chain's dev accounts come from and what one funding sends. */
export interface LocalFunding {
  /** The local chain's Lightnet-compatible account manager (`…/account-manager`). */
  accountManagerUrl: string
  to: PublicKey
  /** MINA to send, in nanomina. */
  nanomina: bigint
  /** Fee in nanomina, paid by the dev account. */
  fee: number
  /** Polling of the inclusion wait. */
  poll: { interval: number; maxAttempts: number }
}

/**
 * Sends MINA from a dev account of the local chain to any key, as Lightnet's dev accounts fund
 * keys. The dev account is acquired from the account manager for the one payment and released
 * after it, so parallel funders never share a nonce. A new account also pays the 1 MINA
 * account-creation fee from the dev account.
 */
export async function fundFromDevAccount(f: LocalFunding): Promise<{ hash: string; from: string }> {
  const dev = await Lightnet.acquireKeyPair({
    isRegularAccount: true,
    lightnetAccountManagerEndpoint: f.accountManagerUrl,
  })
  try {
    await accountExists(dev.publicKey) // fetches its nonce on a network
    const isNew = !(await accountExists(f.to))
    const tx = await Mina.transaction({ sender: dev.publicKey, fee: f.fee }, async () => {
      if (isNew) AccountUpdate.fundNewAccount(dev.publicKey, 1)
      AccountUpdate.createSigned(dev.publicKey).send({ to: f.to, amount: UInt64.from(f.nanomina) })
    })
    const pending = await tx.sign([dev.privateKey]).send()
    if (pending.status !== 'pending') {
      throw new Error(`transaction rejected: ${JSON.stringify(pending.errors)}`)
    }
    await pending.wait(f.poll)
    return { hash: pending.hash, from: dev.publicKey.toBase58() }
  } finally {
    await Lightnet.releaseKeyPair({
      publicKey: dev.publicKey.toBase58(),
      lightnetAccountManagerEndpoint: f.accountManagerUrl,
    })
  }
}

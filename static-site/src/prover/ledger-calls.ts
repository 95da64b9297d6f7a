import { fetchAccount, PrivateKey, PublicKey } from 'o1js'
import {
  ledgerOf,
  nextBatchBody,
  proveCall,
  proveDeposit,
  refundBody,
  requestWithdrawBody,
  withdrawBody,
} from '../../../contracts/client.ts'
import type { LedgerOp } from './messages.ts'

// The page's ChannelLedger transactions, proved in the worker and answered as zkApp command JSON
// for the wallet (unsigned: Auro signs the fee payer and the user's own updates) or signed with
// the dev key (the page sends it). The bodies are the contracts client's, which its own calls sign
// and send with a private key that a wallet never hands over; the user pays every fee.

/** The ledger op's zkApp command as JSON, proved (or dummy-proved), signed by `signers` if any. */
export async function proveLedgerOp(
  op: LedgerOp,
  service: PublicKey,
  user: PublicKey,
  signers: PrivateKey[],
): Promise<string> {
  const options = signers.length ? { signers } : {}
  if (op.op === 'deposit') return proveDeposit(user, service, user, BigInt(op.amount), options)
  const ledger = await ledgerOf(service)
  await fetchAccount({ publicKey: user })
  return proveCall(user, await bodyOf(op, ledger, user), options)
}

async function bodyOf(
  op: Exclude<LedgerOp, { op: 'deposit' }>,
  ledger: PublicKey,
  user: PublicKey,
): Promise<() => Promise<void>> {
  switch (op.op) {
    case 'request-withdraw':
      return requestWithdrawBody(ledger, user, BigInt(op.closeNonce))
    case 'withdraw':
      return withdrawBody(ledger, user)
    case 'process-batch': {
      const body = await nextBatchBody(ledger, PublicKey.fromBase58(op.runner))
      if (!body) throw new Error('no action waits for a batch')
      return body
    }
    case 'refund':
      // A user whose deposit a sponsor paid may hold no credit account yet: the user pays.
      return refundBody(ledger, user, user)
  }
}

/** The dev key as a signer, checked to be the user's. */
export function devSigner(privateKey: string, user: PublicKey): PrivateKey {
  const key = PrivateKey.fromBase58(privateKey)
  if (!key.toPublicKey().equals(user).toBoolean()) throw new Error('the dev key is not the payer')
  return key
}

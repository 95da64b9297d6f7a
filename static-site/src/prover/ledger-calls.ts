import { AccountUpdate, fetchAccount, Mina, PrivateKey, PublicKey, TokenId, UInt64 } from 'o1js'
import { ChannelLedger, ledgerReducer } from '../../../contracts/channel-ledger.ts'
import { accountExists, ledgerOf, proveDeposit } from '../../../contracts/client.ts'
import { CreditToken, creditTokenAddress, creditTokenId } from '../../../contracts/credit-token.ts'
import { bookMap, readLedgerBooks, toLedgerChannel } from '../../../contracts/ledger-book.ts'
import { LedgerVault } from '../../../contracts/ledger-vault.ts'
import { useDummyProofs } from '../../../contracts/network.ts'
import type { LedgerOp } from './messages.ts'

// The page's ChannelLedger transactions, proved in the worker and answered as zkApp command JSON
// for the wallet (unsigned: Auro signs the fee payer and the user's own updates) or signed with
// the dev key (the page sends it). The contracts client's deposit is used as is; its other calls
// sign and send themselves with a private key, which a wallet never hands over, so their bodies
// are built here the same way (one method call each, the accounts it reads fetched first).

const FEE = 100_000_000

/** The ledger op's zkApp command as JSON, proved (or dummy-proved), signed by `signers` if any. */
export async function proveLedgerOp(
  op: LedgerOp,
  service: PublicKey,
  user: PublicKey,
  signers: PrivateKey[],
): Promise<string> {
  if (op.op === 'deposit') {
    return proveDeposit(user, service, user, BigInt(op.amount), signers.length ? { signers } : {})
  }
  const ledgerAddress = await ledgerOf(service)
  const ledger = new ChannelLedger(ledgerAddress)
  await fetchAccount({ publicKey: ledgerAddress })
  await fetchAccount({ publicKey: user })
  const body = await bodyOf(op, ledger, user)
  const tx = await Mina.transaction({ sender: user, fee: FEE }, body)
  // A node that verifies no proofs (the local chain): o1js's Network would still prove.
  if (!Mina.getProofsEnabled()) await useDummyProofs(tx)
  await tx.prove()
  if (signers.length) tx.sign(signers)
  return tx.toJSON()
}

async function bodyOf(
  op: Exclude<LedgerOp, { op: 'deposit' }>,
  ledger: ChannelLedger,
  user: PublicKey,
): Promise<() => Promise<void>> {
  switch (op.op) {
    case 'request-withdraw':
      return () => ledger.requestWithdraw(user, UInt64.from(BigInt(op.closeNonce)))
    case 'withdraw':
      return () => ledger.withdraw(user)
    case 'process-batch': {
      // The next batch, built on the channels the chain's root commits to (rebuilt from the
      // ledger's actions and checked against that root by readLedgerBooks).
      const books = await readLedgerBooks(ledger.address)
      ledgerReducer.setContractInstance(ledger)
      const [first] = await ledgerReducer.prepareBatches()
      if (!first) throw new Error('no action waits for a batch')
      const runner = PublicKey.fromBase58(op.runner)
      return async () => {
        await ledger.processBatch(first.batch, first.proof, bookMap(books.committed), runner)
      }
    }
    case 'refund': {
      const address = ledger.address
      const vault = new LedgerVault(address, creditTokenId())
      const token = new CreditToken(creditTokenAddress())
      const receipts = TokenId.derive(address)
      await fetchAccount({ publicKey: address, tokenId: creditTokenId() })
      await fetchAccount({ publicKey: creditTokenAddress() })
      const books = await readLedgerBooks(address)
      const channel = toLedgerChannel(books.committed.get(user.toBase58()))
      const hasReceipts = await accountExists(user, receipts)
      const pulled = hasReceipts ? Mina.getBalance(user, receipts) : UInt64.zero
      // A user whose deposit a sponsor paid may hold no credit account yet: the user pays both.
      const missing = Number(!hasReceipts) + Number(!(await accountExists(user, creditTokenId())))
      return async () => {
        if (missing > 0) AccountUpdate.fundNewAccount(user, missing)
        await vault.refund(user, pulled, channel, bookMap(books.committed))
        await token.approveAccountUpdate(vault.self)
      }
    }
  }
}

/** The dev key as a signer, checked to be the user's. */
export function devSigner(privateKey: string, user: PublicKey): PrivateKey {
  const key = PrivateKey.fromBase58(privateKey)
  if (!key.toPublicKey().equals(user).toBoolean()) throw new Error('the dev key is not the payer')
  return key
}

import { Field, Mina, Proof } from 'o1js'

/** The network ids o1js signs for. */
export type MinaNetworkId = 'devnet' | 'mainnet' | 'testnet'

/** Where a Mina node is and how transactions to it are authorized. */
export interface MinaEndpoint {
  mina: string
  archive?: string
  networkId: string
  /**
   * False only for a node that does not verify proofs (the local chain without `--proofs`):
   * transactions then carry o1js's dummy proofs, so nothing is proved or compiled for them. A
   * real network refuses a dummy proof, so this can cost its setter a failed transaction and
   * nothing else. True by default.
   */
  prove?: boolean
}

/**
 * A Mina node (and its archive) as an o1js instance, through its GraphQL client. `prove: false`
 * marks the instance as not proving (`Mina.getProofsEnabled()`); o1js's Network ignores that
 * when it builds a transaction, so the contracts client puts dummy proofs in itself
 * (`useDummyProofs`).
 */
export function minaNetwork(at: MinaEndpoint): ReturnType<typeof Mina.Network> {
  const network = Mina.Network({
    mina: at.mina,
    ...(at.archive ? { archive: at.archive } : {}),
    networkId: at.networkId as MinaNetworkId,
  })
  // o1js reads this flag when it builds and proves a transaction (LocalBlockchain sets it the same way).
  network.proofsEnabled = at.prove !== false
  return network
}

/** Selects a Mina node (and its archive) as o1js's network. */
export function selectNetwork(
  minaUrl: string,
  archiveUrl: string,
  networkId: string,
  options: { prove?: boolean } = {},
): void {
  Mina.setActiveInstance(
    minaNetwork({ mina: minaUrl, archive: archiveUrl, networkId, prove: options.prove }),
  )
}

/** A proof class only to obtain o1js's dummy proof through its public API. */
class AnyProof extends Proof<Field, Field> {
  static override publicInputType = Field
  static override publicOutputType = Field
  static override tag = () => ({ name: 'zkrunner-dummy' })
}

let dummy: string | undefined

/**
 * Authorizes every account update of `tx` that awaits a proof with o1js's dummy proof (the one
 * LocalBlockchain uses with proofs off: max 2 proofs verified, domain 2^15), so `tx.prove()`
 * proves nothing and needs no compiled prover. Only a node that does not verify proofs accepts it.
 */
export async function useDummyProofs(tx: Mina.Transaction<false, false>): Promise<void> {
  dummy ??= (await AnyProof.dummy(Field(0), Field(0), 2, 15)).toJSON().proof
  for (const update of tx.transaction.accountUpdates) {
    if (update.lazyAuthorization?.kind !== 'lazy-proof') continue
    update.authorization = { proof: dummy }
    update.lazyAuthorization = undefined
  }
}

import { Mina } from 'o1js'

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

/** A Mina node (and its archive) as an o1js instance, through its GraphQL client. */
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

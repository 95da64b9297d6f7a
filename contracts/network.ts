import { Mina } from 'o1js'

/** The network ids o1js signs for. */
export type MinaNetworkId = 'devnet' | 'mainnet' | 'testnet'

/** Selects a Mina node (and its archive) as o1js's network, through its GraphQL client. */
export function selectNetwork(minaUrl: string, archiveUrl: string, networkId: string): void {
  Mina.setActiveInstance(
    Mina.Network({
      mina: minaUrl,
      archive: archiveUrl,
      networkId: networkId as MinaNetworkId,
    }),
  )
}

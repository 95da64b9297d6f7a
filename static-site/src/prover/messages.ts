/** Where the chain is, as the worker's o1js needs it. */
export interface ProverNetwork {
  minaGraphqlUrl: string
  archiveUrl: string
  networkId: string
  tokenAddress: string
  /** The node verifies no proofs (a local chain only): send o1js's dummy proofs, compile nothing. */
  dummyProofs: boolean
}

/**
 * A transaction of the service's ChannelLedger the page builds for its user (who signs it and pays
 * its fee): a deposit into the ledger, a withdrawal request (`closeNonce`: the highest voucher
 * nonce the user signed), the withdrawal after the timelock, a batch that applies pending actions
 * (anyone may send it: `runner` is the service's runner key the contract checks), and the refund
 * pull.
 */
export type LedgerOp =
  | { op: 'deposit'; amount: string }
  | { op: 'request-withdraw'; closeNonce: string }
  | { op: 'withdraw' }
  | { op: 'process-batch'; runner: string }
  | { op: 'refund' }

/** What the page asks the prover worker (o1js lives only there: it is large and proves slowly). */
export type ProverRequest =
  | ({
      kind: 'ledger'
      id: number
      network: ProverNetwork
      service: string
      /** The user: signs, pays the fee (and a deposit's credits). */
      payer: string
      /**
       * The dev key of `payer`: the worker answers the proved zkApp command signed with it, as
       * JSON, for the page to send. Without it (Auro) the command is unsigned, for the wallet to
       * sign and send.
       */
      privateKey?: string
    } & LedgerOp)
  | { kind: 'results-root'; id: number; service: string; user: string; digests: string[] }
  /** Poseidon over decimal fields, as the contract hashes (runner and Worker key hashes). */
  | { kind: 'poseidon'; id: number; fields: string[] }

/** What the prover worker answers: progress lines, then one result or error per request id. */
export type ProverResponse =
  | { kind: 'progress'; id: number; message: string }
  | { kind: 'done'; id: number; value: string }
  | { kind: 'error'; id: number; message: string }

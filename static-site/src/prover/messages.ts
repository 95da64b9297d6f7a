/** What the page asks the prover worker (o1js lives only there: it is large and proves slowly). */
export type ProverRequest =
  | {
      kind: 'deposit'
      id: number
      network: {
        minaGraphqlUrl: string
        archiveUrl: string
        networkId: string
        tokenAddress: string
      }
      service: string
      /** Pays the fee and the credits. */
      payer: string
      /**
       * The dev key of `payer`: the worker answers the proved zkApp command signed with it, as
       * JSON, for the page to send. Without it (Auro) the command is unsigned, for the wallet to
       * sign and send.
       */
      privateKey?: string
      amount: string
    }
  | { kind: 'results-root'; id: number; service: string; user: string; digests: string[] }
  /** Poseidon over decimal fields, as the contract hashes (runner and Worker key hashes). */
  | { kind: 'poseidon'; id: number; fields: string[] }

/** What the prover worker answers: progress lines, then one result or error per request id. */
export type ProverResponse =
  | { kind: 'progress'; id: number; message: string }
  | { kind: 'done'; id: number; value: string }
  | { kind: 'error'; id: number; message: string }

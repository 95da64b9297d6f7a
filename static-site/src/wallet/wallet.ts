/** A key that signs field messages for the page: Auro in production, a dev key in the local stack. */
export interface Wallet {
  /** Shown in the page, e.g. 'Auro' or 'Dev key (local stack only)'. */
  readonly label: string
  /** True for a key whose secret is in the page's config: never for real funds. */
  readonly isDevKey: boolean
  readonly publicKey: string
  /** A Mina field signature (base58) over `fields`, as o1js `Signature.verify` checks it. */
  signFields(fields: readonly bigint[]): Promise<string>
  /**
   * Signs a proved zkApp command (JSON) as its fee payer (and the updates its key authorizes) and
   * sends it with `memo`; resolves with the transaction hash. Auro has it; the dev key's commands
   * are signed in the prover and sent by the page instead.
   */
  sendTransaction?(zkappCommand: string, memo: string): Promise<string>
}

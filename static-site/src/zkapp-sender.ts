import { SiteError, SiteErrorCode } from './errors.ts'

/**
 * Sends a signed zkApp command (JSON, as o1js's `toJSON` gives it) to a Mina daemon's GraphQL
 * `sendZkapp`; resolves with the transaction hash. The page sends the dev key's ledger
 * transactions this way; Auro sends its own.
 */
export async function sendZkappCommand(
  graphqlUrl: string,
  command: string,
  fetchFn: typeof fetch = (...a) => fetch(...a),
): Promise<string> {
  let res: Response
  try {
    res = await fetchFn(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($input: SendZkappInput!) { sendZkapp(input: $input) { zkapp { hash } } }',
        variables: { input: { zkappCommand: JSON.parse(command) } },
      }),
    })
  } catch {
    throw new SiteError(SiteErrorCode.CHAIN_UNAVAILABLE, `${graphqlUrl} did not answer`)
  }
  const body = (await res.json().catch(() => ({}))) as {
    data?: { sendZkapp?: { zkapp?: { hash?: string } } } | null
    errors?: { message?: string }[]
  }
  const hash = body.data?.sendZkapp?.zkapp?.hash
  if (!hash) {
    const why = body.errors?.map((e) => e.message).join('; ') || `HTTP ${res.status}`
    throw new SiteError(
      SiteErrorCode.TRANSACTION_REJECTED,
      `the node refused the transaction: ${why}`,
    )
  }
  return hash
}

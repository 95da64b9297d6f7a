import {
  isPrivateService,
  type PrivateServiceDescriptor,
  type PublicServiceDescriptor,
  providerLink,
  revealGoalProgress,
  type ServiceDescriptor,
} from '../../../protocol/index.ts'
import type { RevealState, ServiceOnChain } from '../../../verify/index.ts'
import { poolSummary, poolsOf } from '../sponsorship.ts'
import { groupVersions } from '../versions.ts'
import type { WorkerServiceStatus } from '../worker-client.ts'
import { h, short } from './dom.ts'

/** One row of the market: registry entry, on-chain state, descriptor and the Worker's verdict. */
export interface MarketService {
  address: string
  operator: string
  chain: ServiceOnChain | null
  /** Jobs the service's ledger has paid its runner for (runnerPaid / price), null unread. */
  settledJobs: bigint | null
  /** Credits the service's ledger has paid its runner (the chain's runnerPaid), null unread. */
  runnerPaid: bigint | null
  /** A private service's newest reveal, checked against its commitment; null for a public one. */
  reveal: RevealState | null
  descriptor: ServiceDescriptor | null
  status: WorkerServiceStatus | null
  currentSlot: bigint
  /** The registry block height of its listing (a later one is a newer version of the job). */
  listedAt: number
  /** Why the service cannot take a job from this user, or null when it can. */
  disabledReason: string | null
  /** Set when the service is not a genuine, frozen zkrunner service: no deposit is offered. */
  unsafe: {
    code: string
    reason: string
    /**
     * Set when the contracts are genuine and only the ledger's money fails the check (or cannot be
     * read): the channel's withdrawal and refund are real, and a user must still reach them.
     */
    genuineLedger?: boolean
  } | null
}

/** A sentence for each reason code: the protocol rule's (every one, a test checks) and the page's own. */
export const REASONS: Record<string, string> = {
  'unknown-service': 'the Worker does not know this service (not registered)',
  'unsafe-service': 'not a genuine, frozen zkrunner service',
  retired: 'retired by its operator: it takes no new job',
  'no-heartbeat': 'the runner has not sent a heartbeat yet',
  'stale-heartbeat': 'runner heartbeat is stale: the runner looks offline',
  'provider-quota': 'the CI provider refuses work for quota until it resets',
  'funding-exhausted': 'the sponsor’s pool cannot pay one more job',
  'insufficient-deposit': 'your deposit does not cover one more job: deposit credits first',
  'no-contract': 'no service contract at this address',
  'descriptor-unavailable': 'the descriptor named on chain could not be retrieved',
  'worker-unavailable': 'the Worker did not answer',
}

/** A human sentence for a disabled reason code. */
export const reasonText = (r: string): string => REASONS[r] ?? r

/** Link to the commit a service version runs, on its provider. */
export function commitUrl(
  d: Pick<PublicServiceDescriptor, 'provider' | 'providerUrl' | 'project'>,
  sha: string,
): string {
  const base = d.providerUrl.endsWith('/') ? d.providerUrl : `${d.providerUrl}/`
  return d.provider === 'github'
    ? `${base}${d.project}/commit/${sha}`
    : `${base}${d.project}/-/commit/${sha}`
}

interface MarketState {
  sort: 'price' | 'name' | 'heartbeat'
  provider: string
  maxPrice: string
  text: string
}

/** The services market: sortable by price, name and liveness, filterable by provider and price. */
export function renderMarket(
  root: HTMLElement,
  services: readonly MarketService[],
  onPick: (s: MarketService) => void,
): void {
  const state: MarketState = { sort: 'price', provider: '', maxPrice: '', text: '' }
  const providers = [
    ...new Set(services.flatMap((s) => (s.descriptor ? [s.descriptor.provider] : []))),
  ]
  const operators = [...new Set(services.map((s) => s.operator))]
  const tbody = h('tbody')
  const count = h('p', { class: 'muted', 'aria-live': 'polite' })
  const draw = () => {
    const price = (s: MarketService) =>
      s.chain?.terms.pricePerJob ?? BigInt(Number.MAX_SAFE_INTEGER)
    const max = state.maxPrice === '' ? null : BigInt(state.maxPrice)
    const rows = services
      .filter((s) => {
        if (state.provider.startsWith('p:') && s.descriptor?.provider !== state.provider.slice(2))
          return false
        if (state.provider.startsWith('o:') && s.operator !== state.provider.slice(2)) return false
        if (max !== null && price(s) > max) return false
        const d = s.descriptor
        const where = d && !isPrivateService(d) ? d.project : 'private code'
        const hay = `${d?.name ?? ''} ${where} ${s.address}`
        return hay.toLowerCase().includes(state.text.toLowerCase())
      })
      .sort((a, b) => {
        if (state.sort === 'name')
          return (a.descriptor?.name ?? '').localeCompare(b.descriptor?.name ?? '')
        if (state.sort === 'heartbeat') {
          const ha = a.chain?.heartbeat.lastHeartbeatSlot ?? 0n
          const hb = b.chain?.heartbeat.lastHeartbeatSlot ?? 0n
          return hb > ha ? 1 : hb < ha ? -1 : 0
        }
        return price(a) > price(b) ? 1 : price(a) < price(b) ? -1 : 0
      })
    // Versions of one job stay together, newest first, where the job sorts.
    tbody.replaceChildren(
      ...groupVersions(rows).map((v) =>
        row(v.row, onPick, { newest: v.newest, versions: v.versions }),
      ),
    )
    count.textContent = `${rows.length} of ${services.length} services`
  }
  const select = (label: string, options: [string, string][], on: (v: string) => void) =>
    h(
      'label',
      {},
      label,
      h(
        'select',
        { onchange: (e: Event) => on((e.target as HTMLSelectElement).value) },
        ...options.map(([v, t]) => h('option', { value: v }, t)),
      ),
    )
  const controls = h(
    'div',
    { class: 'controls' },
    select(
      'Sort by ',
      [
        ['price', 'price (lowest first)'],
        ['name', 'name'],
        ['heartbeat', 'latest heartbeat'],
      ],
      (v) => {
        state.sort = v as MarketState['sort']
        draw()
      },
    ),
    select(
      'Provider ',
      [
        ['', 'any'],
        ...providers.map((p): [string, string] => [`p:${p}`, p]),
        ...operators.map((o): [string, string] => [`o:${o}`, `operator ${short(o, 6)}`]),
      ],
      (v) => {
        state.provider = v
        draw()
      },
    ),
    h(
      'label',
      {},
      'Max price ',
      h('input', {
        type: 'number',
        min: 0,
        inputmode: 'numeric',
        name: 'max-price',
        oninput: (e: Event) => {
          state.maxPrice = (e.target as HTMLInputElement).value.replace(/[^0-9]/g, '')
          draw()
        },
      }),
    ),
    h(
      'label',
      {},
      'Search ',
      h('input', {
        type: 'search',
        name: 'service-search',
        oninput: (e: Event) => {
          state.text = (e.target as HTMLInputElement).value
          draw()
        },
      }),
    ),
  )
  root.replaceChildren(
    h('h2', {}, 'Services'),
    controls,
    count,
    h(
      'table',
      { class: 'market' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Service', 'Operator', 'Price', 'Source', 'Runner heartbeat', 'Funding', ''].map(
            (t) => h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      tbody,
    ),
  )
  draw()
}

function row(
  s: MarketService,
  onPick: (s: MarketService) => void,
  version: { newest: boolean; versions: number },
): HTMLTableRowElement {
  const d = s.descriptor
  const hb = s.chain?.heartbeat
  const age = hb ? s.currentSlot - hb.lastHeartbeatSlot : null
  const funding = s.status?.chain?.funding
  return h(
    'tr',
    {
      'data-service': s.address,
      class: [s.disabledReason ? 'disabled' : '', version.newest ? '' : 'older-version']
        .filter(Boolean)
        .join(' '),
    },
    h(
      'td',
      {},
      h('strong', {}, d?.name ?? '(descriptor unavailable)'),
      h('br'),
      h('code', { title: s.address }, short(s.address)),
      d && isPrivateService(d)
        ? h(
            'div',
            { class: 'muted' },
            `${d.provider} · `,
            h('span', { class: 'badge private' }, 'private code'),
            s.reveal?.state === 'revealed' ? ' ' : null,
            s.reveal?.state === 'revealed'
              ? h('span', { class: 'badge revealed' }, 'revealed')
              : null,
          )
        : d
          ? h('div', { class: 'muted' }, `${d.provider} · ${d.project} · ${d.job}`)
          : null,
      version.versions > 1
        ? h(
            'div',
            { class: 'muted version' },
            version.newest
              ? `newest of ${version.versions} versions`
              : 'older version of the job above',
          )
        : null,
    ),
    h('td', {}, h('code', { title: s.operator }, short(s.operator, 6))),
    h('td', { class: 'num' }, s.chain ? `${s.chain.terms.pricePerJob} credits` : '—'),
    h(
      'td',
      {},
      s.chain && d && !isPrivateService(d)
        ? h(
            'a',
            {
              // Never a javascript: or foreign href, whatever the descriptor says.
              href: providerLink(commitUrl(d, s.chain.sourceCommitment), d.providerUrl) ?? '#',
              rel: 'noopener',
              target: '_blank',
            },
            h('code', {}, s.chain.sourceCommitment.slice(0, 12)),
          )
        : s.chain && d && isPrivateService(d)
          ? privateSource(s, d, s.chain.sourceCommitment)
          : s.chain
            ? h('code', {}, s.chain.sourceCommitment.slice(0, 12))
            : '—',
    ),
    h(
      'td',
      {},
      hb
        ? `slot ${hb.lastHeartbeatSlot} (${age} slots ago) · ${s.settledJobs ?? 0n} ${s.settledJobs === 1n ? 'job' : 'jobs'} settled`
        : '—',
    ),
    h(
      'td',
      {},
      funding ? `deposit ${funding.deposit}, owed ${funding.owed}` : 'connect a wallet to see',
      // A sponsor's pools: what each can still pay and the user's allowance (the Worker's figures).
      ...poolsOf(s.status).map((p) =>
        h('div', { class: `muted pool${p.enabled ? '' : ' disabled'}` }, poolSummary(p)),
      ),
    ),
    h(
      'td',
      {},
      s.unsafe
        ? h('span', { class: 'badge bad', role: 'status' }, `Unsafe: ${s.unsafe.reason}`)
        : s.disabledReason
          ? h(
              'span',
              { class: 'badge bad', role: 'status' },
              `Disabled: ${reasonText(s.disabledReason)}`,
            )
          : h('span', { class: 'badge good' }, 'Available'),
      ' ',
      h('button', { type: 'button', onclick: () => onPick(s) }, 'Open'),
    ),
  )
}

/**
 * A private service's source: a link to the revealed commit once a reveal opens the commitment
 * (checked on this page, never taken from the Worker), a named broken reveal, or the commitment
 * with the descriptor's reveal goal and what the chain says the service has earned toward it.
 */
export function privateSource(
  s: Pick<MarketService, 'reveal' | 'runnerPaid'>,
  d: PrivateServiceDescriptor,
  sourceCommitment: string,
): HTMLElement {
  const r = s.reveal
  if (r?.state === 'revealed') {
    const href = providerLink(
      commitUrl({ provider: d.provider, providerUrl: r.providerUrl, project: r.project }, r.commit),
      r.providerUrl,
    )
    return h(
      'span',
      { class: 'source-revealed', 'data-role': 'reveal', 'data-state': 'revealed', title: r.cid },
      'revealed: ',
      href
        ? h('a', { href, rel: 'noopener', target: '_blank' }, h('code', {}, r.commit.slice(0, 12)))
        : h('code', {}, r.commit.slice(0, 12)),
    )
  }
  if (r?.state === 'broken')
    return h(
      'span',
      { class: 'source-broken', 'data-role': 'reveal', 'data-state': 'broken', title: r.why },
      'reveal broken: it does not open the commitment',
    )
  const goal = d.revealGoal === undefined ? null : BigInt(d.revealGoal)
  const progress =
    goal === null || s.runnerPaid === null ? null : revealGoalProgress(goal, s.runnerPaid)
  return h(
    'span',
    { class: 'source-committed', title: sourceCommitment },
    h('span', { class: 'source-private' }, 'private (committed)'),
    goal === null
      ? null
      : h(
          'div',
          { class: 'muted reveal-goal', 'data-role': 'reveal-goal' },
          progress ? h('progress', { max: '100', value: String(progress.percent) }) : null,
          progress
            ? ` ${progress.earned} of ${goal} credits earned toward the reveal${progress.reached ? ' (goal reached)' : ''}`
            : `reveal promised at ${goal} credits earned`,
        ),
  )
}

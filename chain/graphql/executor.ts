import {
  buildSchema,
  type DocumentNode,
  execute,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  parse,
  type SelectionSetNode,
  specifiedRules,
  validate,
} from 'graphql'
import { installScalarChecks } from './scalars.ts'

/** Bounds on one GraphQL request, checked before anything is resolved. */
export interface QueryLimits {
  /** Deepest selection set, counted through fragments. */
  maxDepth: number
  /** Most aliased fields, counted through fragments. */
  maxAliases: number
  /** Most lexical tokens in the document. */
  maxTokens: number
}

/** A GraphQL response body and the HTTP status to send it with. */
export interface GraphQLResponse {
  status: number
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] }
}

/** Runs GraphQL requests (already-parsed JSON bodies) against one schema. */
export type Executor = (body: unknown) => Promise<GraphQLResponse>

// Brackets nested deeper than this are refused before parsing, so a hostile document cannot
// exhaust the parser's recursion. Real documents (a zkApp command literal included) stay below 20.
const MAX_NESTING = 64
// Fields in one operation with fragments expanded; the introspection query has about 100.
const MAX_FIELDS = 2000

function errorResponse(message: string, code: string): GraphQLResponse {
  return { status: 200, body: { errors: [{ message, extensions: { code } }] } }
}

function nestingDepth(source: string): number {
  let depth = 0
  let max = 0
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '#') {
      while (i < source.length && source[i] !== '\n') i++
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3)
        i = end === -1 ? source.length : end + 2
      } else {
        for (i++; i < source.length && source[i] !== '"'; i++) if (source[i] === '\\') i++
      }
    } else if (c === '{' || c === '[' || c === '(') {
      depth++
      if (depth > max) max = depth
    } else if (c === '}' || c === ']' || c === ')') {
      depth--
    }
  }
  return max
}

interface Counts {
  depth: number
  aliases: number
  fields: number
}

// Depth, aliases and fields of a selection set, with fragment spreads expanded (memoized per
// fragment, so a fragment "bomb" is counted without being walked exponentially).
function countSelections(
  set: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
  memo: Map<string, Counts>,
  visiting: Set<string>,
): Counts {
  const total: Counts = { depth: 0, aliases: 0, fields: 0 }
  if (!set) return total
  for (const sel of set.selections) {
    let c: Counts
    if (sel.kind === Kind.FIELD) {
      const inner = countSelections(sel.selectionSet, fragments, memo, visiting)
      c = {
        depth: inner.depth + 1,
        aliases: inner.aliases + (sel.alias ? 1 : 0),
        fields: inner.fields + 1,
      }
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      c = countSelections(sel.selectionSet, fragments, memo, visiting)
    } else {
      const name = sel.name.value
      const known = memo.get(name)
      const fragment = fragments.get(name)
      if (known) c = known
      else if (!fragment || visiting.has(name)) c = { depth: 0, aliases: 0, fields: 0 }
      else {
        visiting.add(name)
        c = countSelections(fragment.selectionSet, fragments, memo, visiting)
        visiting.delete(name)
        memo.set(name, c)
      }
    }
    total.depth = Math.max(total.depth, c.depth)
    total.aliases += c.aliases
    total.fields += c.fields
  }
  return total
}

function checkLimits(doc: DocumentNode, limits: QueryLimits): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const def of doc.definitions)
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def)
  const memo = new Map<string, Counts>()
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue
    const c = countSelections(def.selectionSet, fragments, memo, new Set())
    if (c.depth > limits.maxDepth)
      return `query is ${c.depth} levels deep; the limit is ${limits.maxDepth}`
    if (c.aliases > limits.maxAliases)
      return `query has ${c.aliases} aliases; the limit is ${limits.maxAliases}`
    if (c.fields > MAX_FIELDS) return `query selects ${c.fields} fields; the limit is ${MAX_FIELDS}`
  }
  return undefined
}

/** Builds a schema from SDL with the project's scalar checks installed. */
export function buildCheckedSchema(sdl: string): GraphQLSchema {
  const schema = buildSchema(sdl)
  installScalarChecks(schema)
  return schema
}

/**
 * Creates an executor for a schema and root value. Every failure (bad JSON shape, syntax,
 * limits, validation, resolver errors) comes back as GraphQL errors, never as a throw.
 */
export function createExecutor(
  schema: GraphQLSchema,
  rootValue: Record<string, unknown>,
  limits: QueryLimits,
): Executor {
  return async (body) => {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return errorResponse('request body must be a JSON object with a query', 'BAD_REQUEST')
    const { query, variables, operationName } = body as Record<string, unknown>
    if (typeof query !== 'string' || query.trim() === '')
      return errorResponse('query must be a non-empty string', 'BAD_REQUEST')
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables)))
      return errorResponse('variables must be an object', 'BAD_REQUEST')
    if (operationName != null && typeof operationName !== 'string')
      return errorResponse('operationName must be a string', 'BAD_REQUEST')
    if (nestingDepth(query) > MAX_NESTING)
      return errorResponse(`query nests deeper than ${MAX_NESTING} brackets`, 'QUERY_TOO_COMPLEX')

    let document: DocumentNode
    try {
      document = parse(query, { maxLexicalTokens: limits.maxTokens, noLocation: false })
    } catch (err) {
      return errorResponse((err as Error).message, 'GRAPHQL_PARSE_FAILED')
    }
    const tooComplex = checkLimits(document, limits)
    if (tooComplex) return errorResponse(tooComplex, 'QUERY_TOO_COMPLEX')
    const validationErrors = validate(schema, document, specifiedRules, { maxErrors: 10 })
    if (validationErrors.length > 0)
      return {
        status: 200,
        body: {
          errors: validationErrors.map((e) => ({
            message: e.message,
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          })),
        },
      }
    try {
      const result = await execute({
        schema,
        document,
        rootValue,
        variableValues: (variables as Record<string, unknown> | null | undefined) ?? undefined,
        operationName: (operationName as string | null | undefined) ?? undefined,
      })
      const out: GraphQLResponse['body'] = {}
      if (result.errors)
        out.errors = result.errors.map((e) => ({
          message: e.message,
          ...(e.extensions && Object.keys(e.extensions).length > 0
            ? { extensions: e.extensions as Record<string, unknown> }
            : {}),
        }))
      if ('data' in result) out.data = result.data
      return { status: 200, body: out }
    } catch (err) {
      const message = err instanceof GraphQLError ? err.message : `internal error: ${err}`
      return errorResponse(message, 'INTERNAL_SERVER_ERROR')
    }
  }
}

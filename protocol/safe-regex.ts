/** A quantifier allowing more repeats than this counts as wide (as good as unbounded for backtracking). */
const WIDE = 32
/** Wide quantifiers one pattern may hold. */
const MAX_WIDE = 2
/** The longest value a parameter takes (protocol's parameter schemas): what a wide quantifier spans. */
const LONGEST_VALUE = 4096
/**
 * Ways the quantifiers of one pattern may split a value, at most: the product of each repeating
 * quantifier's range. Two wide quantifiers (`\d*\d*`) are the most allowed; so are five narrow
 * ones of 32 (`\d{0,32}` five times took 489 ms on 81 characters, six over 10 s) not.
 */
const MAX_SPLITS = LONGEST_VALUE ** 2

/**
 * Whether an operator's regular expression can be run on a user's value without catastrophic
 * backtracking. JavaScript's engine backtracks, so a quantified group that itself holds a
 * quantifier or an alternation (`(a+)+`, `(a|a)*`, `(\w+\s?)*`) can take exponential time on a
 * value a user chooses; backreferences and lookarounds can too. Those are refused outright rather
 * than run with a time bound: a Worker and a page have no way to interrupt a running RegExp.
 * Returns the reason a pattern is refused, or null when it is safe.
 */
export function unsafeRegexReason(pattern: string): string | null {
  // One frame per open group: does its body hold a quantifier or an alternation?
  const groups: { quantified: boolean; alternation: boolean }[] = [
    { quantified: false, alternation: false },
  ]
  const top = () => groups[groups.length - 1]!
  let wide = 0
  let splits = 1
  let i = 0
  // After an atom, a quantifier may follow: how many characters it spans (0 if none), whether it
  // repeats (more than once) and whether it is wide (unbounded, or more than WIDE times).
  // `range` is how many lengths it may match (counted only for quantifiers that repeat).
  const quantifierAt = (
    at: number,
  ): { length: number; repeats: boolean; wide: boolean; range: number } => {
    const c = pattern[at]
    if (c === '*' || c === '+')
      return { length: 1, repeats: true, wide: true, range: LONGEST_VALUE }
    if (c === '?') return { length: 1, repeats: false, wide: false, range: 1 }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at))
      if (m) {
        const min = Number(m[1])
        const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
        const wide = max > WIDE
        const range = wide ? LONGEST_VALUE : Math.max(1, max - min + 1)
        return { length: m[0].length, repeats: max > 1, wide, range }
      }
    }
    return { length: 0, repeats: false, wide: false, range: 1 }
  }
  const afterAtom = (at: number): number => {
    const q = quantifierAt(at)
    if (q.length === 0) return at
    top().quantified = true
    if (q.wide) wide++
    if (q.repeats) splits *= q.range
    // A lazy or possessive-looking suffix does not change backtracking in JS.
    return at + q.length + (pattern[at + q.length] === '?' ? 1 : 0)
  }
  while (i < pattern.length) {
    const c = pattern[i]!
    if (c === '\\') {
      const next = pattern[i + 1] ?? ''
      if (/[1-9]/.test(next) || next === 'k') return 'backreferences are not allowed'
      // \u{...}, \p{...} and \x.. are one atom; skipping the escape letter is enough here.
      let end = i + 2
      if ((next === 'u' || next === 'p' || next === 'P') && pattern[end] === '{') {
        end = pattern.indexOf('}', end) + 1 || pattern.length
      }
      i = afterAtom(end)
      continue
    }
    if (c === '[') {
      let j = i + 1
      if (pattern[j] === '^') j++
      if (pattern[j] === ']') j++
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1
      i = afterAtom(j + 1)
      continue
    }
    if (c === '(') {
      if (/^\(\?(?:[=!]|<[=!])/.test(pattern.slice(i))) return 'lookarounds are not allowed'
      groups.push({ quantified: false, alternation: false })
      const named = /^\(\?(?::|<[A-Za-z_][A-Za-z0-9_]*>)/.exec(pattern.slice(i))
      i += named ? named[0].length : 1
      continue
    }
    if (c === ')') {
      const group = groups.length > 1 ? groups.pop()! : top()
      const q = quantifierAt(i + 1)
      if (q.repeats && (group.quantified || group.alternation)) {
        return 'a repeated group may not hold a quantifier or an alternation (catastrophic backtracking)'
      }
      // The group's own quantifiers count towards the enclosing group.
      if (group.quantified) top().quantified = true
      if (group.alternation) top().alternation = true
      i = afterAtom(i + 1)
      continue
    }
    if (c === '|') {
      top().alternation = true
      i++
      continue
    }
    i = afterAtom(i + 1)
  }
  // Adjacent wide quantifiers backtrack polynomially: `\d*\d*\d*` took 70 s on 4096 digits,
  // `\d*\d*` 45 ms (Node 22, measured).
  if (wide > MAX_WIDE) {
    return `at most ${MAX_WIDE} wide quantifiers (*, +, {n,} or more than ${WIDE} repeats) are allowed`
  }
  if (splits > MAX_SPLITS) {
    return `its quantifiers together may split a value too many ways (${splits} > ${MAX_SPLITS}): fewer or narrower repeats`
  }
  return null
}

/* Counts the primes up to LIMIT with a sieve of Eratosthenes: a small, CPU- and memory-bound job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long count_primes(long limit) {
  if (limit < 2) return 0;
  char *composite = calloc((size_t)limit + 1, 1);
  if (!composite) { perror("calloc"); exit(2); }
  long count = 0;
  for (long i = 2; i <= limit; i++) {
    if (composite[i]) continue;
    count++;
    for (long j = i * i; j <= limit; j += i) composite[j] = 1;
  }
  free(composite);
  return count;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: primes LIMIT\n"); return 64; }
  char *end;
  long limit = strtol(argv[1], &end, 10);
  if (*end != '\0' || limit < 0) { fprintf(stderr, "primes: LIMIT must be a non-negative integer\n"); return 64; }
  printf("%ld\n", count_primes(limit));
  return 0;
}

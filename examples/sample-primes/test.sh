#!/usr/bin/env bash
# Known prime counts: pi(10)=4, pi(100)=25, pi(1000)=168, pi(10^6)=78498.
set -euo pipefail
bin=${1:-./primes}
check() { got=$("$bin" "$1"); [ "$got" = "$2" ] || { echo "FAIL pi($1): want $2, got $got"; exit 1; }; echo "ok pi($1) = $2"; }
check 10 4
check 100 25
check 1000 168
check 1000000 78498

#!/bin/sh
# Stand-in for Prisma's native schema-engine, which cannot be downloaded on these machines.
# `prisma generate` only checks that this path exists; migrations run on the wasm engine (src/db/migrator.ts).
echo "native schema-engine unavailable offline: use npm run db:new | db:migrate | db:status | db:check" >&2
exit 1

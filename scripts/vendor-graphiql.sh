#!/usr/bin/env bash
# Copies the pinned GraphiQL and React production builds (web/vendor/graphiql/package.json
# and package-lock.json) into web/vendor/graphiql/, where the hub embeds them, and records
# their SHA-256 sums: a test fails when the files and the sums part. Needs Node.js and npm;
# run it after changing the versions in package.json. Nothing else in the project needs npm.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../web/vendor/graphiql" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$dir/package.json" "$work/"
if [ -f "$dir/package-lock.json" ] && cmp -s <(node -p 'JSON.stringify(require(process.argv[1]).dependencies)' "$dir/package.json") \
     <(node -p 'JSON.stringify(require(process.argv[1]).packages[""].dependencies)' "$dir/package-lock.json"); then
  cp "$dir/package-lock.json" "$work/"
  (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund)
else
  (cd "$work" && npm install --ignore-scripts --no-audit --no-fund)
fi
cp "$work/package-lock.json" "$dir/"
modules="$work/node_modules"
cp "$modules/graphiql/graphiql.min.js" "$modules/graphiql/graphiql.min.css" "$dir/"
cp "$modules/react/umd/react.production.min.js" "$dir/"
cp "$modules/react-dom/umd/react-dom.production.min.js" "$dir/"
cp "$modules/graphiql/LICENSE" "$dir/LICENSE.graphiql"
cp "$modules/react/LICENSE" "$dir/LICENSE.react"
cd "$dir"
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js >SHA256SUMS
echo "vendor-graphiql: $(node -p 'Object.entries(require("./package.json").dependencies).map(e => e.join("@")).join(", ")') copied to web/vendor/graphiql"

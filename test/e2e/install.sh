#!/usr/bin/env bash
# Installs what the real-VS-Code end-to-end test needs, from the registries only:
#  - Debian's chromium (driven by playwright-core; no browser download) and the headers
#    code-server's native modules build against;
#  - code-server (VS Code in a browser) from npm into .e2e/code-server (gitignored).
# code-server 4.100.x declares Node 20, so it runs on the project's Node.
# Idempotent: a second run only checks. Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/../.."
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.100.3}"
dest=".e2e/code-server"
t0=$(date +%s)

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
for p in libkrb5-dev libxkbfile-dev libsecret-1-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
t1=$(date +%s); echo "apt: $((t1 - t0)) s"

if [ -x "$dest/node_modules/.bin/code-server" ] && \
   grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$dest/node_modules/code-server/package.json" 2>/dev/null; then
  echo "code-server $CODE_SERVER_VERSION already installed"
else
  echo "== npm install code-server@$CODE_SERVER_VERSION into $dest"
  mkdir -p "$dest"
  # VS Code's @vscode/ripgrep downloads its binary from GitHub at install time, which is not
  # reachable here: put Debian's rg where its postinstall looks for a cached download.
  export TMPDIR="$PWD/.e2e/tmp"; mkdir -p "$TMPDIR"
  for v in 1.15.11 1.15.13 1.15.14; do
    c="$TMPDIR/vscode-ripgrep-cache-$v"; mkdir -p "$c"
    tar -czf "$c/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
  done
  [ -f "$dest/package.json" ] || echo '{"name":"agentd-e2e-code-server","private":true}' > "$dest/package.json"
  # code-server's postinstall refuses to run as root without this.
  npm_config_unsafe_perm=true npm install --prefix "$dest" --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION" >"$dest/install.log" 2>&1 || {
    tail -40 "$dest/install.log"; exit 1; }
fi
t2=$(date +%s); echo "code-server: $((t2 - t1)) s"
XDG_CONFIG_HOME="$PWD/.e2e/tmp" "$dest/node_modules/.bin/code-server" --version | head -1
echo "e2e install: $((t2 - t0)) s"

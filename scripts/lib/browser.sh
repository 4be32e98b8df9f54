# Sourced by the browser tests (test-swagger-ui, test-ui): Node.js >= 20, Debian's Chromium
# (installed with apt-get when missing, sudo when not root) and the pinned browser-test
# packages of tests/browser (playwright-core, axe-core: `npm ci`). Needs `die` and `say` from
# the caller and CHROMIUM set (/usr/bin/chromium is the one it may install).

ensure_browser_tools() {
  local tool
  for tool in curl node npm "$@"; do
    command -v "$tool" >/dev/null || die "needs $tool on PATH (curl and jq from apt-get; node >= 20 with npm)"
  done
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  (( node_major >= 20 )) || die "needs node >= 20 for playwright-core, found $(node --version)"

  # Chromium from Debian (Playwright's own browser downloads are not used).
  if [[ ! -x "$CHROMIUM" ]]; then
    [[ "$CHROMIUM" = /usr/bin/chromium ]] || die "CHROMIUM=$CHROMIUM is not an executable"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
      command -v sudo >/dev/null || die "/usr/bin/chromium is missing; install Debian's chromium as root (apt-get install chromium)"
      sudo=(sudo)
    fi
    say "installing Debian's chromium with apt-get"
    timeout 300 "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive timeout 900 "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      chromium fonts-liberation >/dev/null || die "apt-get install chromium failed"
    [[ -x "$CHROMIUM" ]] || die "apt-get installed chromium but $CHROMIUM is still missing"
  fi
  say "browser: $("$CHROMIUM" --version 2>/dev/null | head -1)"

  # The test packages, exactly as locked.
  timeout 300 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null \
    || die "npm ci in tests/browser failed"
  say "playwright-core $(node -p 'require("./tests/browser/node_modules/playwright-core/package.json").version')"
}

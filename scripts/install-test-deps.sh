#!/usr/bin/env bash
# The Debian packages that some tests need, installed from the machine's own apt sources (no host name written here):
#   chromium               the HTML report test (headless)
#   mesa-vulkan-drivers>=25, libvulkan1   the webgpu test (Mesa's lavapipe, a CPU Vulkan driver; Dawn rejects Mesa < 25)
#   tmux                   the progress-bar test in a pseudo-terminal
#   dataset-fashion-mnist  the real Fashion-MNIST run (the files in /usr/share/datasets/fashion-mnist/)
# On Debian bookworm, Mesa 25 is in bookworm-backports: this adds that suite to the sources already configured for
# bookworm (same mirrors), as a separate file, and installs from it only the two Vulkan packages.
# Needs root and apt-get; `npm test` without these packages skips the tests that need them and says which to install.
set -euo pipefail

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-test-deps: needs root and apt-get (Debian or Ubuntu); install by hand: chromium, tmux, dataset-fashion-mnist, mesa-vulkan-drivers (25 or newer), libvulkan1" >&2
  exit 1
fi

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
command -v tmux >/dev/null || packages+=(tmux)
dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q 'ok installed' || packages+=(dataset-fashion-mnist)

mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
need_vulkan=0
if ! dpkg --compare-versions "$mesa_version" ge 25 || ! dpkg-query -W libvulkan1 >/dev/null 2>&1; then need_vulkan=1; fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
backports_list=/etc/apt/sources.list.d/temper-backports.sources

# Writes a deb822 source for <codename>-backports with the URIs already configured for <codename>.
add_backports() {
  local uris
  uris=$(
    {
      # deb822 files: the URIs of every stanza whose Suites include the release itself.
      for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$backports_list" ] || continue
        awk -v suite="$codename" '
          BEGIN { RS = ""; FS = "\n" }
          { uris = ""; ok = 0
            for (i = 1; i <= NF; i++) {
              if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
              if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
            }
            if (ok && uris != "") print uris }' "$f"
      done
      # one-line files: "deb [options] URI suite components..."
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$codename" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) print $i }' "$f"
      done
    } | tr ' ' '\n' | grep -v '^$' | sort -u | tr '\n' ' '
  )
  if [ -z "$uris" ]; then
    echo "install-test-deps: no apt source for $codename found to add $codename-backports to" >&2
    exit 1
  fi
  printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\n' "$uris" "$codename" > "$backports_list"
}

target=()
if [ "$need_vulkan" = 1 ] && [ "$codename" = bookworm ]; then
  [ -f "$backports_list" ] || add_backports
  target=(-t bookworm-backports)
fi

if [ "${#packages[@]}" -gt 0 ] || [ "$need_vulkan" = 1 ]; then
  apt-get update -qq
fi
if [ "${#packages[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
if [ "$need_vulkan" = 1 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${target[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
echo "tmux: $(tmux -V 2>/dev/null || echo missing)"
echo "dataset-fashion-mnist: $(dpkg-query -W -f='${Version}' dataset-fashion-mnist 2>/dev/null || echo missing)"
echo "mesa-vulkan-drivers: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo missing)"

#!/usr/bin/env bash
# Packs into one git-ignored folder (default .gpu/) everything a bare x86-64 Linux machine with an NVIDIA driver and
# no internet needs to run `temper` on the webgpu backend (tfjs-webgpu on Dawn on Vulkan): no npm, no node_modules,
# no Node.js needed there. Modelled on ../shared/gpu/prepare.sh, which PERF.md says ran on the H100.
#
#   npm run gpu:bundle                         the usual way: npm run build, then this script into .gpu/
#   bash scripts/gpu/prepare.sh [DEST]         after `npm ci` (or npm install) and `npm run build`
#   bash scripts/gpu/prepare.sh --bundle-only DEST
#                                              only DEST/app (the bundled CLI and the webgpu package): no Node.js,
#                                              no Debian packages, nothing from the network (test/gpu-bundle.test.ts)
#   TEMPER_GPU_DIST=.build-x bash scripts/gpu/prepare.sh ...
#                                              bundle another tsc output folder than dist/ (same layout inside)
#
# What DEST holds (it stays under 60 MiB, so that it and the working tree fit the device tool's 64 MiB):
#   run.sh                       unpacks Node.js and dawn.node on first use, finds Vulkan, runs the CLI
#   MANIFEST                     what went in: versions, sizes, checksums
#   node.xz                      this machine's Node.js binary, xz-compressed (the GPU machine need not have Node)
#   dawn.node.xz                 the `webgpu` package's Linux x64 Dawn binary, xz-compressed (21 MB -> about 6)
#   *.xz.sha256                  the checksum of what each .xz unpacks to (run.sh checks it; prepare.sh reuses the .xz)
#   debs/                        Debian packages of the Vulkan and GL loaders and what they link to (for run.sh)
#   app/package.json             a copy of the repo's: src/runner/versions.ts reads ../../../package.json
#   app/dist/src/cli/main.js     the CLI, bundled by esbuild (ESM), with code-split chunk-*.js beside it
#   app/dist/src/cli/child.js    entry of `bench --backend auto`'s child processes
#   app/dist/src/cli/adapter-probe.js   entry of the webgpu adapter probe
#   app/dist/src/cli/*.wasm      tfjs-backend-wasm's binaries (Emscripten looks for them beside the script)
#   app/node_modules/webgpu/     the `webgpu` package, kept out of the bundle because it loads dawn.node by path;
#                                run.sh unpacks dawn.node.xz into its dist/linux-x64/
#   app/node_modules/@tensorflow/tfjs-backend-{webgpu,wasm}/package.json
#                                version records only: `bench` reports a provider's version through
#                                require.resolve of its package (their code is in the bundle)
#
# Why the bundle sits at app/dist/src/cli/: in a bundle every import.meta.url is the output file's, not the original
# module's. The CLI resolves three paths from it: ../../../package.json (versions.ts), ./child.js (bench/run.ts) and
# ./adapter-probe.js (backend/index.ts). At dist/src/cli depth, with those two entries emitted beside main.js, all
# three resolve as they do in dist/.
set -euo pipefail

bundle_only=0
if [ "${1:-}" = --bundle-only ]; then bundle_only=1; shift; fi
dest=${1:-.gpu}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
build=${TEMPER_GPU_DIST:-dist}

die() { echo "prepare.sh: $*" >&2; exit 2; }
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "the GPU machine is x86-64 Linux: run this on one (this is $(uname -s)-$(uname -m))"
[ -f "$build/src/cli/main.js" ] || die "no $build/src/cli/main.js: run \`npm run build\` first (or \`npm run gpu:bundle\`)"
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || die "the optional 'webgpu' package is not installed: run \`npm ci\`"
[ -f node_modules/@tensorflow/tfjs-backend-webgpu/package.json ] || die "the optional '@tensorflow/tfjs-backend-webgpu' package is not installed: run \`npm ci\`"
npx --no-install esbuild --version >/dev/null 2>&1 || die "esbuild is not installed (a devDependency): run \`npm ci\`"
case "$dest" in /*) ;; *) dest="$root/$dest" ;; esac

app="$dest/app"
cli="$app/dist/src/cli"
rm -rf "$app" "$dest/run.sh" "$dest/MANIFEST"
mkdir -p "$cli" "$app/node_modules/webgpu/dist/linux-x64"

# esbuild flags, each for a reason:
#   --format=esm --splitting   the sources use top-level await and import.meta.url; the three entries share one tfjs
#   --banner require           bundled CommonJS dependencies call require('fs') etc., which ESM output lacks
#   --define __dirname/__filename   the same for Emscripten's loader in tfjs-backend-wasm (import.meta.dirname: Node >= 20.11)
#   --alias jsonc-parser       its UMD build calls require('./impl/format') at run time, which no bundle can satisfy
#   --alias tfjs-backend-wasm  with code splitting, esbuild gives a dynamically imported CommonJS module only a
#                              `default` export, so backend/index.ts would find no setThreadsCount: use its ESM build
#   --external webgpu          a native addon that loads dawn.node by path: shipped as a package instead
#   --external tfjs-node(-gpu) optional native packages; absent here and there, their import fails as "not installed"
npx --no-install esbuild \
  "main=$build/src/cli/main.js" "child=$build/src/bench/child.js" "adapter-probe=$build/src/backend/adapter-probe.js" \
  --bundle --splitting --format=esm --platform=node --target=node20 --outdir="$cli" \
  '--banner:js=import { createRequire as __temperCreateRequire } from "node:module"; const require = __temperCreateRequire(import.meta.url);' \
  --define:__dirname=import.meta.dirname --define:__filename=import.meta.filename \
  --alias:jsonc-parser=./node_modules/jsonc-parser/lib/esm/main.js \
  --alias:@tensorflow/tfjs-backend-wasm=./node_modules/@tensorflow/tfjs-backend-wasm/dist/index.js \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --log-level=warning
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$cli/"
cp package.json "$app/package.json"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$app/node_modules/webgpu/"
# Version records for the two backend packages whose code is in the bundle: `bench` reports a provider's version by
# require.resolve of its package, and `main` naming the manifest itself lets that resolve without any of its code.
for package in @tensorflow/tfjs-backend-webgpu @tensorflow/tfjs-backend-wasm; do
  mkdir -p "$app/node_modules/$package"
  node -e '
    const fs = require("fs");
    const [from, to] = process.argv.slice(1);
    const { name, version, license } = JSON.parse(fs.readFileSync(from, "utf8"));
    const description = "version record only: the code of this package is bundled into dist/src/cli (scripts/gpu/prepare.sh)";
    fs.writeFileSync(to, JSON.stringify({ name, version, license, description, main: "package.json" }, null, 2) + "\n");
  ' "node_modules/$package/package.json" "$app/node_modules/$package/package.json"
done

dawn=node_modules/webgpu/dist/linux-x64/dawn.node
if [ "$bundle_only" = 1 ]; then
  # A test bundle runs on this machine with this machine's node: link dawn.node rather than copy 21 MB.
  ln -s "$root/$dawn" "$app/node_modules/webgpu/dist/linux-x64/dawn.node"
  du -sh "$app"
  exit 0
fi

# Unchanged inputs are not compressed again (xz of a 95 MB binary takes a minute on two cores): each .xz has a
# stamp beside it naming the source file's checksum.
compress() { # SOURCE TARGET.xz
  local sum; sum=$(sha256sum "$1" | cut -d' ' -f1)
  if [ -f "$2" ] && [ "$(cat "$2.sha256" 2>/dev/null)" = "$sum" ]; then echo "prepare.sh: $2 is up to date"; return; fi
  echo "prepare.sh: compressing $1 ($(du -h "$1" | cut -f1))..."
  xz -T0 -6 -c "$1" > "$2.partial"
  mv "$2.partial" "$2"
  echo "$sum" > "$2.sha256"
}
node_binary=$(readlink -f "$(command -v node)")
compress "$node_binary" "$dest/node.xz"
# dawn.node.xz lives outside app/ (which is rebuilt each time) so its stamp survives; run.sh unpacks it into app/.
compress "$dawn" "$dest/dawn.node.xz"

# The Vulkan loader (libvulkan1) and the GL dispatch libraries that NVIDIA's Vulkan driver (libGLX_nvidia) links to,
# with their X11 dependencies: the list PERF.md's H100 check used. Debian bookworm packages, x86-64.
debs=(libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 libx11-6 libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0)
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
  echo "prepare.sh: apt-get update (no package lists yet)"
  apt-get update -qq
fi
rm -rf "$dest/debs.partial"; mkdir -p "$dest/debs.partial"
# `apt-get download` as root warns that it cannot drop privileges to the _apt user; that warning is harmless.
(cd "$dest/debs.partial" && apt-get download -qq -oAPT::Architecture=amd64 "${debs[@]}" 2>&1 | grep -v -i unsandboxed >&2) || true
for name in "${debs[@]}"; do
  ls "$dest/debs.partial/${name}_"*.deb >/dev/null 2>&1 || die "could not download the Debian package $name (apt-get download $name)"
done
rm -rf "$dest/debs"; mv "$dest/debs.partial" "$dest/debs"

cp "$root/scripts/gpu/run.sh" "$dest/run.sh"
chmod +x "$dest/run.sh"

{
  echo "# made by scripts/gpu/prepare.sh on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "node $(node --version) ($node_binary)"
  echo "esbuild $(npx --no-install esbuild --version)"
  echo "temper $(node -p 'require("./package.json").version'), $build/src/cli/main.js built $(date -u -r "$build/src/cli/main.js" +%Y-%m-%dT%H:%M:%SZ)"
  echo "webgpu $(node -p 'require("./node_modules/webgpu/package.json").version'), tfjs-backend-webgpu $(node -p 'require("./node_modules/@tensorflow/tfjs-backend-webgpu/package.json").version')"
  echo "node.xz unpacks to sha256 $(cat "$dest/node.xz.sha256")"
  echo "dawn.node.xz unpacks to sha256 $(cat "$dest/dawn.node.xz.sha256")"
  echo "# files (bytes, path)"
  (cd "$dest" && find . -type f ! -name MANIFEST -printf '%s %P\n' | sort -k2)
} > "$dest/MANIFEST"

bytes=$(du -sb --apparent-size "$dest" | cut -f1)
echo "prepare.sh: $dest holds $((bytes / 1024 / 1024)) MiB ($bytes bytes)"
[ "$bytes" -le $((60 * 1024 * 1024)) ] || die "$dest is over 60 MiB: the device tool carries at most 64 MiB with the working tree"

#!/usr/bin/env bash
# make release: versioned static binaries of the server for linux/amd64 and
# linux/arm64 (CGO off, -trimpath, version and commit stamped into
# `fechatter version`), a CycloneDX SBOM per binary, SHA256SUMS over all of
# them, and the multi-architecture container image when docker buildx is
# there.
#
#   deploy/release.sh DIST VERSION COMMIT
#
# Environment:
#   PLATFORMS     (linux/amd64 linux/arm64)
#   SBOM          cyclonedx (default; installs cyclonedx-gomod at a pinned
#                 version into bin/tools when absent) or buildinfo (an SPDX
#                 tag-value document from `go version -m`, no tool needed)
#   IMAGE         image name (fechatter); IMAGE_PUSH=1 pushes both
#                 architectures instead of writing an OCI archive to DIST
#   SKIP_IMAGE=1  binaries, SBOMs and checksums only
#   SKIP_BINARIES=1  the image only (make image)
set -euo pipefail

DIST=${1:?usage: release.sh DIST VERSION COMMIT}
VERSION=${2:?usage: release.sh DIST VERSION COMMIT}
COMMIT=${3:?usage: release.sh DIST VERSION COMMIT}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}
SBOM=${SBOM:-cyclonedx}
IMAGE=${IMAGE:-fechatter}
MODULE=github.com/fechatter/fechatter
CYCLONEDX_GOMOD=github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)

cyclonedx() {
	if command -v cyclonedx-gomod >/dev/null 2>&1; then
		command -v cyclonedx-gomod
		return
	fi
	local tools="$root/bin/tools"
	if [ ! -x "$tools/cyclonedx-gomod" ]; then
		echo "release: installing ${CYCLONEDX_GOMOD} into bin/tools" >&2
		GOBIN="$tools" GOFLAGS= "$GO" install "$CYCLONEDX_GOMOD" >&2
	fi
	echo "$tools/cyclonedx-gomod"
}

# buildinfo_spdx BINARY NAME: an SPDX 2.3 tag-value document listing the
# modules `go version -m` reads from the binary.
buildinfo_spdx() {
	local bin=$1 name=$2
	printf 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n'
	printf 'DocumentName: %s\nDocumentNamespace: https://github.com/fechatter/fechatter/spdx/%s\n' "$name" "$name"
	printf 'Creator: Tool: go-version-m\nCreated: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	"$GO" version -m "$bin" | awk '
		$1 == "mod" || $1 == "dep" {
			n++
			printf "\nPackageName: %s\nSPDXID: SPDXRef-Package-%d\nPackageVersion: %s\n", $2, n, $3
			printf "PackageDownloadLocation: NOASSERTION\nFilesAnalyzed: false\n"
			if ($4 != "") printf "PackageChecksum: SHA256: %s\n", $4
		}'
}

build_binaries() {
	sbom_tool=""
	if [ "$SBOM" = cyclonedx ]; then
		sbom_tool=$(cyclonedx)
	fi

	names=()
	for platform in $PLATFORMS; do
		os=${platform%/*}
		arch=${platform#*/}
		name="fechatter_${VERSION}_${os}_${arch}"
		echo "release: $name"
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS=-buildvcs=false "$GO" build -trimpath \
			-ldflags "-s -w -X $MODULE/bootstrap.version=$VERSION -X $MODULE/bootstrap.commit=$COMMIT" \
			-o "$DIST/$name" .
		names+=("$name")
		case "$SBOM" in
		cyclonedx)
			"$sbom_tool" bin -json -version "$VERSION" -output "$DIST/$name.cdx.json" "$DIST/$name"
			names+=("$name.cdx.json")
			;;
		buildinfo)
			buildinfo_spdx "$DIST/$name" "$name" >"$DIST/$name.spdx"
			names+=("$name.spdx")
			;;
		*)
			echo "release: SBOM must be cyclonedx or buildinfo, not $SBOM" >&2
			exit 2
			;;
		esac
	done

	(cd "$DIST" && sha256sum "${names[@]}" >SHA256SUMS)
	echo "release: $DIST/SHA256SUMS"
	(cd "$DIST" && sha256sum -c --quiet SHA256SUMS)
}

if [ "${SKIP_BINARIES:-}" != 1 ]; then
	build_binaries
fi

if [ "${SKIP_IMAGE:-}" = 1 ]; then
	echo "release: image skipped (SKIP_IMAGE=1)"
	exit 0
fi
platforms_csv=$(echo $PLATFORMS | tr ' ' ',')
image_cmd=(docker buildx build -f docker/Dockerfile --platform "$platforms_csv"
	--build-arg "VERSION=$VERSION" --build-arg "COMMIT=$COMMIT" -t "$IMAGE:$VERSION")
if [ "${IMAGE_PUSH:-}" = 1 ]; then
	image_cmd+=(--push .)
else
	image_cmd+=(--output "type=oci,dest=$DIST/fechatter_${VERSION}_image.oci.tar" .)
fi
if ! docker buildx version >/dev/null 2>&1; then
	echo "release: docker buildx not available: container image not built; on a machine with it run:"
	echo "  ${image_cmd[*]}"
	exit 0
fi
if ! docker info >/dev/null 2>&1; then
	echo "release: no Docker engine reachable: container image not built; with one run:"
	echo "  ${image_cmd[*]}"
	exit 0
fi
"${image_cmd[@]}"

# shellcheck shell=bash
# Sourced by the ovs_upgrade role tests: a local apt repository with newer builds of Debian's
# Open vSwitch, so that the test hosts have something to upgrade to (bookworm ships one version).
#
# ensure_ovs_repo builds it once into $OSOPS_TESTHOSTS/ovs-repo (outside git; rebuilt when missing
# or when OVS_REPO_REV changes) and exports OSOPS_OVS_REPO and OSOPS_OVS_VERSION_{BASE,NEW,NEXT}:
#   good/    openvswitch-common + openvswitch-switch as <base>+osops1 and <base>+osops2, repacked
#            from Debian's packages with only the version changed
#   broken/  <base>+osops2 again, but openvswitch-switch's postinst fails ("configure" exits 1):
#            what a host gets when a bad build reaches its mirror
# Each directory is a flat repository ("deb [trusted=yes] file:/srv/osops-ovs/good ./").
OVS_REPO_REV=1

_ovs_repack() {  # src.deb newversion outdir [broken]
  local src=$1 new=$2 out=$3 broken=${4:-} tmp base pkg
  tmp=$(mktemp -d /var/tmp/ovs-repack.XXXXXX)
  dpkg-deb -R "$src" "$tmp/root"
  base=$(sed -n 's/^Version: //p' "$tmp/root/DEBIAN/control")
  pkg=$(sed -n 's/^Package: //p' "$tmp/root/DEBIAN/control")
  sed -i -e "s/^Version: .*/Version: $new/" -e "s/(= $base)/(= $new)/g" "$tmp/root/DEBIAN/control"
  if [ -n "$broken" ]; then
    sed -i '0,/^set -e$/s//set -e\necho "osops test build: this postinst fails on purpose" >\&2\nexit 1/' \
      "$tmp/root/DEBIAN/postinst"
  fi
  dpkg-deb -Zgzip -z1 -b "$tmp/root" "$out/${pkg}_${new}_amd64.deb" >/dev/null
  rm -rf "$tmp"
}

ensure_ovs_repo() {
  local repo=$OSOPS_TESTHOSTS/ovs-repo base dl
  export OSOPS_OVS_REPO=$repo
  if [ -f "$repo/rev-$OVS_REPO_REV" ]; then
    # shellcheck disable=SC1091
    . "$repo/versions.sh"
    return 0
  fi
  echo "=== building the local Open vSwitch apt repository in $repo (once) [$(date +%T)]" >&2
  rm -rf "$repo" && mkdir -p "$repo/good" "$repo/broken" "$repo/dl"
  dl=$repo/dl
  base=$(apt-cache show openvswitch-switch | sed -n 's/^Version: //p' | sort -V | tail -1)
  (cd "$dl" && TMPDIR=/var/tmp apt-get download -q "openvswitch-switch=$base" "openvswitch-common=$base" >/dev/null 2>&1) \
    || { TMPDIR=/var/tmp apt-get update -q >/dev/null && (cd "$dl" && TMPDIR=/var/tmp apt-get download -q \
         "openvswitch-switch=$base" "openvswitch-common=$base" >/dev/null 2>&1); } || return 1
  local deb
  for deb in "$dl"/*.deb; do
    _ovs_repack "$deb" "$base+osops1" "$repo/good"
    _ovs_repack "$deb" "$base+osops2" "$repo/good"
    case $deb in
      *openvswitch-switch_*) _ovs_repack "$deb" "$base+osops2" "$repo/broken" broken ;;
      *) _ovs_repack "$deb" "$base+osops2" "$repo/broken" ;;
    esac
  done
  local d
  for d in good broken; do
    (cd "$repo/$d" && dpkg-scanpackages -m . /dev/null 2>/dev/null > Packages && gzip -kf Packages)
  done
  rm -rf "$dl"
  printf 'export OSOPS_OVS_VERSION_BASE=%q OSOPS_OVS_VERSION_NEW=%q OSOPS_OVS_VERSION_NEXT=%q\n' \
    "$base" "$base+osops1" "$base+osops2" > "$repo/versions.sh"
  touch "$repo/rev-$OVS_REPO_REV"
  # shellcheck disable=SC1091
  . "$repo/versions.sh"
}

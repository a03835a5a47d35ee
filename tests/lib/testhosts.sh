# shellcheck shell=bash
# Sourced by tests/run.sh (after tests/lib/toolchain.sh): real test hosts for the roles' molecule
# scenarios, as in shared/recipes/test-hosts: rootful podman with runc, ulimits within the host's hard
# limits, and Debian bookworm images with systemd as PID 1 built locally (no registry) with debootstrap.
#
# ensure_testhosts installs podman & co (apt) once, writes a podman configuration of its own (selected
# with CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, /etc/containers is left alone), and makes sure the
# images exist in podman's storage. The images are cached as tarballs in $OSOPS_TESTHOSTS
# (default $OSOPS_CACHE/testhosts), outside git, and re-imported when podman's storage lacks them:
#   localhost/osops-bookworm-systemd   debootstrap minbase + systemd, sshd, python3 (key in ssh/)
#   localhost/osops-bookworm-galera    the same + mariadb-server, galera-4, rsync, PyMySQL (not started)
#   localhost/osops-bookworm-hypervisor the base + libvirtd, Open vSwitch and what a compute node has
# A change to this file's image recipe (the IMAGE_REV below) rebuilds them.
# The molecule tools themselves (molecule, molecule-plugins[podman], pytest-testinfra) are pinned
# in tests/requirements-tools.txt and installed by ensure_tools.

export OSOPS_TESTHOSTS=${OSOPS_TESTHOSTS:-${OSOPS_CACHE:-/var/cache/osops}/testhosts}
export OSOPS_TESTHOSTS_BASE_IMAGE=localhost/osops-bookworm-systemd:latest
export OSOPS_TESTHOSTS_GALERA_IMAGE=localhost/osops-bookworm-galera:latest
export OSOPS_TESTHOSTS_HYPERVISOR_IMAGE=localhost/osops-bookworm-hypervisor:latest
export OSOPS_TESTHOSTS_SSH_KEY=$OSOPS_TESTHOSTS/ssh/id_ed25519
# bump when the recipe of an image changes: the cached tarballs are rebuilt
_TESTHOSTS_IMAGE_REV=1
_TESTHOSTS_APT="podman runc netavark aardvark-dns iptables debootstrap uidmap iproute2 openssh-client conmon curl"
_TESTHOSTS_GALERA_PKGS="mariadb-server galera-4 rsync python3-pymysql curl lsof socat"
_TESTHOSTS_HYPERVISOR_PKGS="libvirt-daemon-system libvirt-clients libvirt-daemon-driver-lxc openvswitch-switch auditd kmod curl"

_th_say() { printf '\n=== %s [%s]\n' "$*" "$(date +%T)"; }

_testhosts_packages() {
  local missing="" pkg
  for pkg in $_TESTHOSTS_APT; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
  done
  [ -z "$missing" ] && return 0
  _th_say "installing test-host packages:$missing"
  TMPDIR=/var/tmp apt-get update -q >/dev/null  # /tmp may be 0700: apt-key runs as _apt
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
}

_testhosts_podman_config() {
  local p=$OSOPS_TESTHOSTS/podman
  mkdir -p "$p/storage" "$p/run" "$p/tmp" "$p/networks"
  # crun refuses this machine's hybrid cgroup layout; root lacks CAP_SYS_RESOURCE, so ulimits must stay
  # within the hard limits (nofile from ulimit -Hn, podman itself lowers nproc to 32768)
  local nofile; nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  cat > "$p/containers.conf.new" <<CONF
[containers]
netns = "bridge"
cgroups = "enabled"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$p/run/events.log"
runtime = "runc"
tmp_dir = "$p/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$p/networks"
CONF
  cat > "$p/storage.conf.new" <<CONF
[storage]
driver = "overlay"
graphroot = "$p/storage"
runroot = "$p/run"
CONF
  local f
  for f in containers.conf storage.conf; do
    if cmp -s "$p/$f.new" "$p/$f"; then rm -f "$p/$f.new"; else mv "$p/$f.new" "$p/$f"; fi
  done
  export CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf
}

_testhosts_build_base_tar() {
  local tar=$1 r=$OSOPS_TESTHOSTS/rootfs-bookworm
  _th_say "building the bookworm systemd image with debootstrap (once; cached in $OSOPS_TESTHOSTS)"
  rm -rf "$r"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,procps,openssh-server,sudo,ca-certificates \
    bookworm "$r" http://deb.debian.org/debian >"$OSOPS_TESTHOSTS/debootstrap.log" 2>&1 \
    || { tail -20 "$OSOPS_TESTHOSTS/debootstrap.log" >&2; return 1; }
  echo testhost > "$r/etc/hostname"
  : > "$r/etc/machine-id"
  chroot "$r" bash -c 'echo root:root | chpasswd
    systemctl mask getty@tty1.service console-getty.service systemd-resolved.service
    systemctl disable apt-daily-upgrade.timer apt-daily.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer e2scrub_reap.service
    apt-get clean; rm -rf /var/lib/apt/lists/*' >/dev/null 2>&1 || true
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$r/etc/apt/apt.conf.d/99nodoc-norec"
  touch -d @0 "$r/var/lib/apt/lists"
  install -d -m 700 "$r/root/.ssh"
  install -m 600 "$OSOPS_TESTHOSTS_SSH_KEY.pub" "$r/root/.ssh/authorized_keys"
  # podman mounts /proc/sys read-only; re-expose only the netns-scoped /proc/sys/net read-write
  cat > "$r/etc/systemd/system/proc-sys-net-rw.service" <<'UNIT'
[Unit]
Description=Make /proc/sys/net writable (netns-scoped sysctls) inside test containers
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service
ConditionVirtualization=container
ConditionPathIsReadWrite=!/proc/sys/net

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net'

[Install]
WantedBy=sysinit.target
UNIT
  chroot "$r" systemctl enable proc-sys-net-rw.service >/dev/null 2>&1
  tar -C "$r" --numeric-owner -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$r"
}

# _testhosts_bake TAR IMAGE LABEL PACKAGES: the base image + Debian packages, nothing started or enabled
_testhosts_bake() {
  local tar=$1 image=$2 label=$3 packages=$4 name=osops-testhosts-build-$$ key=${1##*-}
  _th_say "baking $label into $image (once)"
  podman rm -f "$name" >/dev/null 2>&1 || true
  # policy-rc.d: nothing starts while installing; services are left disabled (the scenarios start them)
  podman run --name "$name" "$OSOPS_TESTHOSTS_BASE_IMAGE" bash -c "set -e
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages
    systemctl disable mariadb.service mariadb.socket libvirtd.service libvirtd.socket openvswitch-switch.service \
      auditd.service 2>/dev/null || true
    rm -f /usr/sbin/policy-rc.d; apt-get clean; rm -rf /var/lib/apt/lists/*; touch -d @0 /var/lib/apt/lists
    " >"$OSOPS_TESTHOSTS/bake-$label.log" 2>&1 \
    || { tail -20 "$OSOPS_TESTHOSTS/bake-$label.log" >&2; podman rm -f "$name" >/dev/null 2>&1; return 1; }
  podman commit -q --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
    --change 'STOPSIGNAL SIGRTMIN+3' --change "LABEL osops.key=${key%.tar}" "$name" "$image" >/dev/null
  podman rm -f "$name" >/dev/null
  podman save -q -o "$tar.tmp" "$image" && mv "$tar.tmp" "$tar"
}

# _testhosts_derived IMAGE LABEL PACKAGES: bake once, or load the cached tarball into podman; the tarball's
# name carries the package list's hash, so changing the list bakes a new image
_testhosts_derived() {
  local image=$1 label=$2 packages=$3 key tar
  key=$(printf '%s' "$packages" | sha256sum | cut -c1-8)
  tar=$OSOPS_TESTHOSTS/images/bookworm-$label-r$_TESTHOSTS_IMAGE_REV-$key.tar
  if [ ! -f "$tar" ]; then
    rm -f "$OSOPS_TESTHOSTS/images/bookworm-$label-"*.tar
    _testhosts_bake "$tar" "$image" "$label" "$packages"
  elif [ "$(podman image inspect -f '{{ index .Labels "osops.key" }}' "$image" 2>/dev/null)" != "$key" ]; then
    _th_say "loading $image"
    podman load -q -i "$tar" >/dev/null
  fi
}

ensure_testhosts() {
  _testhosts_packages
  mkdir -p "$OSOPS_TESTHOSTS/images" "$OSOPS_TESTHOSTS/ssh"
  _testhosts_podman_config
  local base=$OSOPS_TESTHOSTS/images/bookworm-systemd-r$_TESTHOSTS_IMAGE_REV.tar
  # the key is baked into the image: a new key means a new image
  if [ ! -f "$OSOPS_TESTHOSTS_SSH_KEY" ]; then
    rm -f "$OSOPS_TESTHOSTS"/images/*.tar
    ssh-keygen -q -t ed25519 -N "" -C osops-testhosts -f "$OSOPS_TESTHOSTS_SSH_KEY"
  fi
  if [ ! -f "$base" ]; then
    _testhosts_build_base_tar "$base"
    rm -f "$OSOPS_TESTHOSTS"/images/bookworm-{galera,hypervisor}-*.tar
    podman image rm -f "$OSOPS_TESTHOSTS_BASE_IMAGE" "$OSOPS_TESTHOSTS_GALERA_IMAGE" \
      "$OSOPS_TESTHOSTS_HYPERVISOR_IMAGE" >/dev/null 2>&1 || true
  fi
  if [ "$(podman image inspect -f '{{ index .Labels "osops.rev" }}' "$OSOPS_TESTHOSTS_BASE_IMAGE" 2>/dev/null)" != "$_TESTHOSTS_IMAGE_REV" ]; then
    _th_say "importing $OSOPS_TESTHOSTS_BASE_IMAGE"
    podman import -q --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
      --change 'STOPSIGNAL SIGRTMIN+3' --change "LABEL osops.rev=$_TESTHOSTS_IMAGE_REV" \
      "$base" "$OSOPS_TESTHOSTS_BASE_IMAGE" >/dev/null
  fi
  _testhosts_derived "$OSOPS_TESTHOSTS_GALERA_IMAGE" galera "$_TESTHOSTS_GALERA_PKGS"
  _testhosts_derived "$OSOPS_TESTHOSTS_HYPERVISOR_IMAGE" hypervisor "$_TESTHOSTS_HYPERVISOR_PKGS"
  podman image prune -f >/dev/null 2>&1 || true
}

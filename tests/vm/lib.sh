# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing script
# tests/vm/lib.sh: code shared by tests/vm/run (one VM) and tests/vm/run-two (two VMs).
# Sourced, not executed. The caller sets PROG (used as the prefix of every error message)
# and VM_MODE (one|two) before calling anything here.
#
# How a VM is built: the host's Debian kernel (/boot/vmlinuz-$KV) boots in QEMU with a tiny
# cached initramfs (busybox-static + the virtio/9p/overlay modules). The initramfs mounts the
# host root fs read-only over virtio-9p with a tmpfs overlay on top and switch_roots into it,
# so the guest runs the host's own userspace (rdma-core, perftest, our build tree) without
# any image to maintain. PID 1 is then stage2 (written per run by vm_make_ctl), which sets up
# the network and the RDMA devices and runs the command.

VM_INITRAMFS_REV=1       # bump when the initramfs /init below changes: renames the cache file

# Packages the guest needs from the host root fs (it runs the host's userspace).
VM_PKGS=(qemu-system-x86 busybox-static cpio kmod iproute2 zstd xz-utils
         rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest)

vm_die() { echo "$PROG: $*" >&2; exit 255; }
vm_log() { [ "$VM_VERBOSE" = 1 ] && echo "$PROG: $*" >&2; return 0; }

# vm_shq STRING: quote STRING for POSIX sh (stage2 runs under dash, so no bash $'...').
vm_shq() { local q="'\\''"; printf "'%s'" "${1//\'/$q}"; }

# vm_pkg_ok PKG[=VERSION]: is PKG installed (at exactly VERSION, if given)?
vm_pkg_ok() {
  local st
  st=$(dpkg-query -W -f '${db:Status-Abbrev} ${Version}' "${1%%=*}" 2>/dev/null) || return 1
  [[ $st == "ii "* ]] || return 1
  [[ $1 != *=* ]] || [ "${st#ii  }" = "${1#*=}" ]   # "ii " + " " + version
}

# vm_ensure_packages PKG[=VERSION]...: apt-get install whatever is missing. apt-get update
# only if the first attempt fails (fresh containers often have no package lists).
vm_ensure_packages() {
  local p missing=()
  for p in "$@"; do vm_pkg_ok "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || vm_die "missing packages (need root to install): ${missing[*]}"
  echo "$PROG: installing ${missing[*]}" >&2
  # Lock timeout: another apt-get may be running (e.g. a parallel test run installing too).
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)
  local log; log=$(mktemp)
  if ! "${apt[@]}" install "${missing[@]}" >"$log" 2>&1; then
    "${apt[@]}" update >>"$log" 2>&1
    if ! "${apt[@]}" install "${missing[@]}" >>"$log" 2>&1; then
      tail -n 5 "$log" >&2; rm -f "$log"
      vm_die "apt-get install ${missing[*]} failed"
    fi
  fi
  rm -f "$log"
}

# vm_setup: everything both scripts need before a boot: packages, kernel, qemu, cached
# initramfs, accelerator. Sets KV KERNEL VM_CACHE_DIR INITRD VM_ACC VM_SM TMO BOOT_TMO.
vm_setup() {
  VM_VERBOSE=${VM_VERBOSE:-0}
  TMO=${VM_TIMEOUT:-900}; BOOT_TMO=${VM_BOOT_TIMEOUT:-180}
  VM_CACHE_DIR=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netdirect-vm}
  mkdir -p "$VM_CACHE_DIR" || vm_die "cannot create cache dir $VM_CACHE_DIR"
  WORKDIR=$(realpath "${VM_WORKDIR:-$PWD}") || vm_die "bad VM_WORKDIR"
  vm_ensure_packages "${VM_PKGS[@]}"
  command -v qemu-system-x86_64 >/dev/null || vm_die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
  vm_pick_kernel
  if [ -z "$KV" ]; then vm_ensure_packages linux-image-amd64; vm_pick_kernel; fi
  [ -n "$KV" ] || vm_die "no Debian kernel image (/boot/vmlinuz-*-amd64 with /lib/modules/<ver>/modules.dep); apt-get install linux-image-amd64"
  INITRD=$VM_CACHE_DIR/initramfs-$KV-r$VM_INITRAMFS_REV.cpio.gz
  SIW_KO=$VM_CACHE_DIR/siw-$KV.ko
  # Builds are serialised across concurrent runs; each build writes a temp file and renames.
  exec 9>"$VM_CACHE_DIR/build.lock"
  flock -w 900 9 || vm_die "timed out waiting for $VM_CACHE_DIR/build.lock"
  vm_fresh "$INITRD" || vm_build_initramfs || vm_die "initramfs build failed"
  if [ "$VM_MODE" = one ] && [ "${VM_SIW:-1}" = 1 ] && ! modinfo -k "$KV" siw >/dev/null 2>&1; then
    vm_fresh "$SIW_KO" || vm_build_siw
  else
    SIW_KO=
  fi
  exec 9>&-

  VM_ACCEL=${VM_ACCEL:-}
  if [ -z "$VM_ACCEL" ]; then
    # kvm_pvm (the host's paravirtual KVM) cannot run a normal guest kernel: fall back to TCG.
    if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then VM_ACCEL=kvm; else VM_ACCEL=tcg; fi
  fi
  # shellcheck disable=SC2054  # the commas belong to QEMU option syntax
  case $VM_ACCEL in
    kvm) VM_ACC=(-accel kvm -cpu host);;
    tcg) VM_ACC=(-accel tcg,thread=multi -cpu max);;
    *) vm_die "VM_ACCEL must be kvm or tcg, not '$VM_ACCEL'";;
  esac
  # passthrough keeps file ownership on the shared work dir right, but only root may use it.
  if [ "$(id -u)" = 0 ]; then VM_SM=passthrough; else VM_SM=none; fi
}

# The newest Debian kernel that has both an image and modules (the host itself may run a
# non-Debian kernel; /lib/modules can also hold header-only dirs, hence the two checks).
vm_pick_kernel() {
  local k
  KV=${VM_KV:-}     # VM_KV: pick a kernel version explicitly
  [ -n "$KV" ] && [ -f "/boot/vmlinuz-$KV" ] || KV=
  if [ -z "$KV" ]; then
    for k in $(printf '%s\n' /boot/vmlinuz-*-amd64 | sort -V); do
      k=${k#/boot/vmlinuz-}
      [ -s "/lib/modules/$k/modules.dep" ] && [ -f "/boot/vmlinuz-$k" ] && KV=$k
    done
  fi
  KERNEL=/boot/vmlinuz-$KV
}

# A cache file is fresh if it exists and is newer than the kernel's modules.dep (rewritten
# by depmod whenever the kernel package is (re)installed).
vm_fresh() { [ -s "$1" ] && [ "$1" -nt "/lib/modules/$KV/modules.dep" ]; }

vm_build_initramfs() {
  local W MODDIR=/lib/modules/$KV order=() n p m b
  vm_log "building $INITRD"
  W=$(mktemp -d) || return 1
  mkdir -p "$W"/{bin,dev,proc,sys,newroot,lower,upper,lib/modules}
  cp /bin/busybox "$W/bin/busybox" || { rm -rf "$W"; return 1; }
  for n in sh mount umount mkdir insmod switch_root cat echo poweroff sleep; do ln -s busybox "$W/bin/$n"; done
  # add MOD: append MOD after its dependencies (depth first, from modules.dep)
  # shellcheck disable=SC2013  # modules.dep lists dependencies as words
  add() { local d; for d in $(grep "^$1:" "$MODDIR/modules.dep" | cut -d: -f2); do add "$d"; done
          [[ " ${order[*]-} " == *" $1 "* ]] || order+=("$1"); }
  for n in virtio_pci 9pnet_virtio 9p overlay; do
    p=$(grep -E "/$n\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep" | head -1 | cut -d: -f1)
    [ -n "$p" ] && add "$p"     # empty = built into the kernel
  done
  : > "$W/modlist"
  for m in "${order[@]}"; do
    b=$(basename "$m")
    case $m in  # busybox insmod cannot read compressed modules
      *.xz)  xz -dc "$MODDIR/$m" > "$W/lib/modules/${b%.xz}"; b=${b%.xz};;
      *.zst) zstd -qdc "$MODDIR/$m" > "$W/lib/modules/${b%.zst}"; b=${b%.zst};;
      *)     cp "$MODDIR/$m" "$W/lib/modules/$b";;
    esac
    echo "$b" >> "$W/modlist"
  done
  cat > "$W/init" <<'EOF'
#!/bin/sh
# initramfs PID 1: mount the host root (9p, read-only) under a tmpfs overlay, then hand over
# to stage2 from the per-run control share.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modlist); do insmod /lib/modules/$m || echo "insmod $m failed"; done
O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $O,ro,cache=loose rootfs /lower || { echo "9p root mount failed"; poweroff -f; }
mount -t tmpfs -o size=50% tmpfs /upper; mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot ||
  { echo "overlay mount failed"; poweroff -f; }
mount -t tmpfs -o mode=755 tmpfs /newroot/run; mkdir -p /newroot/run/vmctl
mount -t 9p -o $O vmctl /newroot/run/vmctl || { echo "vmctl mount failed"; poweroff -f; }
umount /proc /sys /dev
exec switch_root /newroot /run/vmctl/stage2.sh
EOF
  chmod +x "$W/init"
  (cd "$W" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp" && mv "$INITRD.tmp" "$INITRD"
  local rc=$?
  rm -rf "$W" "$INITRD.tmp"
  return $rc
}

# Debian's kernel has CONFIG_RDMA_SIW unset, so build siw.ko out of tree from the
# linux-source package against linux-headers-$KV. The source must be the very version of
# the image: siw uses internal kernel structures, a mismatch can oops rather than fail.
vm_build_siw() {
  local mm img_pkg img_ver="" src_pkg src_ver tarball W log=$VM_CACHE_DIR/siw-$KV.build.log
  mm=${KV%%-*}; mm=${mm%.*}                      # 6.1.0-56-amd64 -> 6.1
  src_pkg=linux-source-$mm; tarball=/usr/src/linux-source-$mm.tar.xz
  img_pkg=$(dpkg-query -S "$KERNEL" 2>/dev/null | head -1 | cut -d: -f1)
  [ -n "$img_pkg" ] && img_ver=$(dpkg-query -W -f '${Version}' "$img_pkg" 2>/dev/null)
  vm_ensure_packages build-essential bc "linux-headers-$KV" "$src_pkg${img_ver:+=$img_ver}"
  src_ver=$(dpkg-query -W -f '${Version}' "$src_pkg" 2>/dev/null)
  [ -z "$img_ver" ] || [ "$src_ver" = "$img_ver" ] ||
    vm_die "siw build: $src_pkg is $src_ver but $img_pkg is $img_ver (apt-get install $src_pkg=$img_ver, or VM_SIW=0)"
  [ -f "$tarball" ] || vm_die "siw build: $tarball not found (VM_SIW=0 to boot without siw0)"
  echo "$PROG: building siw.ko for $KV (once; cached in $VM_CACHE_DIR)" >&2
  W=$(mktemp -d) || vm_die "mktemp failed"
  if tar -xJf "$tarball" -C "$W" --strip-components=1 --wildcards '*/drivers/infiniband/sw/siw/*' >"$log" 2>&1 &&
     make -C "/lib/modules/$KV/build" M="$W/drivers/infiniband/sw/siw" CONFIG_RDMA_SIW=m modules >>"$log" 2>&1 &&
     strip --strip-debug -o "$SIW_KO.tmp" "$W/drivers/infiniband/sw/siw/siw.ko" && mv "$SIW_KO.tmp" "$SIW_KO"; then
    rm -rf "$W"
  else
    rm -rf "$W" "$SIW_KO.tmp"; tail -n 15 "$log" >&2
    vm_die "siw build failed (log: $log; VM_SIW=0 to boot without siw0)"
  fi
}

# stage2: PID 1 of the guest, running the host's userspace. POSIX sh (runs as /bin/sh).
# Lines starting with @@ are markers for the host-side filter; the command's output is
# everything between @@VM-BEGIN@@ and @@VM-END.
read -r -d '' VM_STAGE2 <<'EOF'
#!/bin/sh
export PATH=/run/vmctl/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
. /run/vmctl/env
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /var/tmp
[ "$VERBOSE" = 1 ] || dmesg -n 1           # keep kernel messages off the command's output
stty -F /dev/ttyS0 -opost 2>/dev/null      # no \n -> \r\n translation
warn() { echo "@@VM-WARN@@ $*"; }           # shown on the host's stderr
t() { timeout -k 5 60 "$@"; }               # no setup step may hang the boot
hostname "vm${VM_NAME:+-$VM_NAME}"
ulimit -l unlimited; ulimit -n 65536       # RDMA memory registration pins pages
ip link set lo up
t modprobe virtio_net || warn "modprobe virtio_net failed"
# eth0: QEMU user-mode networking (10.0.2.0/24, gateway 10.0.2.2)
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 ||
  warn "eth0 setup failed"
t modprobe -a ib_uverbs rdma_ucm rdma_rxe ib_umad || warn "modprobe rdma modules failed"
if [ "$MODE" = two ]; then
  # The A<->B link NIC, found by its MAC (robust against probe order); rxe0 goes on it.
  LINK_DEV=
  for a in /sys/class/net/*/address; do
    [ "$(cat "$a")" = "$LINK_MAC" ] && LINK_DEV=$(basename "$(dirname "$a")")
  done
  ip link set "$LINK_DEV" up && ip addr add "$LINK_IP/24" dev "$LINK_DEV" ||
    warn "link NIC ($LINK_MAC) setup failed"
  t rdma link add rxe0 type rxe netdev "$LINK_DEV" || warn "rxe0 setup failed"
  RXE_IP=$LINK_IP
  export VM_NAME LINK_DEV LINK_IP PEER_IP
else
  t rdma link add rxe0 type rxe netdev eth0 || warn "rxe0 setup failed"
  RXE_IP=10.0.2.15
  if [ -f /run/vmctl/siw.ko ]; then
    t modprobe -a libcrc32c || warn "modprobe libcrc32c failed"
    t insmod /run/vmctl/siw.ko || warn "insmod siw.ko failed"
  else
    t modprobe siw || warn "modprobe siw failed"
  fi
  # siw gets its own dummy netdev: on lo, rdma_resolve_route fails with ENODEV.
  t modprobe dummy numdummies=0 && ip link add siwnet0 type dummy &&
    ip addr add 10.0.9.1/24 dev siwnet0 && ip link set siwnet0 up || warn "siwnet0 setup failed"
  t rdma link add siw0 type siw netdev siwnet0 || warn "siw0 setup failed"
  SIW_IP=10.0.9.1
  export SIW_IP
fi
export RXE_IP ND_VM=1
[ "$VERBOSE" = 1 ] && rdma link show
mkdir -p "$WORKDIR" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap work "$WORKDIR" ||
  warn "mounting work dir $WORKDIR failed"
cd "$WORKDIR" || cd /
echo "@@VM-BOOTED@@"
if [ "$MODE" = two ]; then
  # Barrier: wait until the peer answers on the link, so both commands start with the
  # link up and ARP resolved.
  end=$(( $(cut -d. -f1 /proc/uptime) + LINK_WAIT ))
  until /bin/busybox ping -c 1 -W 1 "$PEER_IP" >/dev/null 2>&1; do
    [ "$(cut -d. -f1 /proc/uptime)" -ge $end ] && { warn "peer $PEER_IP not reachable after ${LINK_WAIT}s"; break; }
    sleep 0.5
  done
fi
# The command gets what is left of VM_TIMEOUT (guest uptime ~ time since QEMU started) minus
# a margin, so a hung command ends with timeout's 124 and a message, not a killed VM.
limit=$(( TMO - $(cut -d. -f1 /proc/uptime) - 20 ))
[ -n "$CMD_TMO" ] && [ "$CMD_TMO" -lt "$limit" ] && limit=$CMD_TMO
[ "$limit" -ge 1 ] || limit=1
echo "@@VM-BEGIN@@"
timeout --verbose -k 10 "$limit" bash -c "$(cat /run/vmctl/cmd)" vm-cmd </dev/null
rc=$?
echo "@@VM-END rc=$rc@@"
echo $rc > /run/vmctl/rc
[ "$VERBOSE" = 1 ] && dmesg > /run/vmctl/dmesg.txt
cd /; umount "$WORKDIR" 2>/dev/null; sync
/bin/busybox poweroff -f
EOF

# vm-retry SECS cmd...: re-run cmd every second until it succeeds or SECS have passed
# (a client waiting for a server in the other VM).
read -r -d '' VM_RETRY <<'EOF'
#!/bin/sh
[ $# -ge 2 ] || { echo "usage: vm-retry SECS cmd..." >&2; exit 2; }
end=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift; n=1
while :; do
  "$@" && exit 0
  rc=$?
  [ "$(cut -d. -f1 /proc/uptime)" -ge "$end" ] && { echo "vm-retry: '$1' still failing (rc=$rc) after $n tries" >&2; exit $rc; }
  n=$((n + 1)); sleep 1
done
EOF

# vm_make_ctl DIR CMD [NAME=VALUE...]: the per-VM control dir, shared into the guest as
# /run/vmctl: command, environment, stage2, helpers; the guest writes rc (and dmesg) back.
vm_make_ctl() {
  local C=$1 cmd=$2 v; shift 2
  mkdir -p "$C/bin" || vm_die "cannot create $C"
  printf '%s\n' "$cmd" > "$C/cmd"
  {
    # The caller's ND_* variables (test selection, log level, ...) reach the command.
    for v in $(compgen -e); do
      [[ $v =~ ^ND_[A-Za-z0-9_]+$ ]] && [ "$v" != ND_VM ] && printf 'export %s=%s\n' "$v" "$(vm_shq "${!v}")"
    done
    for v in MODE="$VM_MODE" WORKDIR="$WORKDIR" VERBOSE="$VM_VERBOSE" TMO="$TMO" \
             CMD_TMO="${VM_CMD_TIMEOUT:-}" "$@"; do
      printf '%s=%s\n' "${v%%=*}" "$(vm_shq "${v#*=}")"
    done
  } > "$C/env"
  printf '%s\n' "$VM_STAGE2" > "$C/stage2.sh"
  printf '%s\n' "$VM_RETRY" > "$C/bin/vm-retry"
  # siw.ko is copied in: the cache may sit under a path the guest hides (/tmp is a tmpfs there)
  [ -n "${SIW_KO:-}" ] && cp "$SIW_KO" "$C/siw.ko"
  chmod +x "$C/stage2.sh" "$C/bin/vm-retry"
}

vm_ms_since() { local now=${EPOCHREALTIME/[.,]/} t0=${1/[.,]/}; echo $(( (now - t0) / 1000 )); }

# vm_filter TAG T0: console -> the command's output (everything with VM_VERBOSE=1), each
# line prefixed "[TAG] " if TAG is set; guest setup warnings go to stderr.
vm_filter() {
  local tag=$1 t0=$2 on=0 line pre=""
  [ -n "$tag" ] && pre="[$tag] "
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case $line in
      @@VM-BOOTED@@*) vm_log "${pre}booted in $(vm_ms_since "$t0") ms";;
      @@VM-BEGIN@@*)  on=1; vm_log "${pre}command started at $(vm_ms_since "$t0") ms";;
      @@VM-END\ rc=*) on=0; line=${line#*rc=}; vm_log "${pre}command exited ${line%@@} at $(vm_ms_since "$t0") ms";;
      @@VM-WARN@@*)   echo "$PROG: ${pre}guest setup: ${line#@@VM-WARN@@ }" >&2;;
      *) if [ $on = 1 ] || [ "$VM_VERBOSE" = 1 ]; then printf '%s%s\n' "$pre" "$line"; fi;;
    esac
  done
}

# vm_start DIR TAG [extra qemu args...]: boot a VM in the background (QEMU | tee | filter);
# sets VM_FPID (the pipeline) and starts a boot watchdog. The QEMU exit code lands in
# DIR/qemu.rc, the raw console in DIR/console.log.
VM_WATCHDOGS=()
# no_timer_check: under TCG on a loaded host the guest kernel's IO-APIC timer
# check can fail and panic at boot ("IO-APIC + timer doesn't work!").
vm_start() {
  local C=$1 tag=$2 t0=$EPOCHREALTIME; shift 2
  {
    timeout -k 10 "$TMO" qemu-system-x86_64 "${VM_ACC[@]}" -m "$VM_MEM" -smp "$VM_CPUS" \
      -nodefaults -display none -no-reboot -serial stdio -pidfile "$C/qemu.pid" \
      -kernel "$KERNEL" -initrd "$INITRD" \
      -append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init mitigations=off 8250.nr_uarts=1 no_timer_check" \
      -fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap \
      -device virtio-9p-pci,fsdev=fsroot,mount_tag=rootfs \
      -fsdev local,id=fsctl,path="$C",security_model=none \
      -device virtio-9p-pci,fsdev=fsctl,mount_tag=vmctl \
      -fsdev local,id=fswork,path="$WORKDIR",security_model="$VM_SM",multidevs=remap \
      -device virtio-9p-pci,fsdev=fswork,mount_tag=work \
      -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
      "$@" </dev/null 2>"$C/qemu.err"
    echo $? > "$C/qemu.rc"
  } | tee "$C/console.log" | vm_filter "$tag" "$t0" &
  VM_FPID=$!
  # Boot watchdog: a guest that hangs while booting would otherwise sit out all of VM_TIMEOUT.
  (
    for ((i = 0; i < BOOT_TMO; i++)); do
      sleep 1
      grep -q '^@@VM-BOOTED@@' "$C/console.log" 2>/dev/null && exit 0
      [ -e "$C/qemu.rc" ] && exit 0
    done
    touch "$C/boot-timeout"; vm_kill_qemu "$C"
  ) &
  VM_WATCHDOGS+=($!)
}

# vm_kill_qemu DIR: stop that VM's QEMU if it still runs (checked by name: PIDs get reused).
vm_kill_qemu() {
  local p
  p=$(cat "$1/qemu.pid" 2>/dev/null) || return 0
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] && kill "$p" 2>/dev/null
  return 0
}

# vm_rc DIR: the command's exit status, or 255 after explaining (one line, last) why the VM
# gave none.
vm_rc() {
  local C=$1 name=${2:-VM} why qrc
  if [ -s "$C/rc" ]; then cat "$C/rc"; return; fi
  qrc=$(cat "$C/qemu.rc" 2>/dev/null)
  if [ -e "$C/boot-timeout" ]; then why="$name did not boot within VM_BOOT_TIMEOUT=${BOOT_TMO}s"
  elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then why="$name hit VM_TIMEOUT=${TMO}s and was killed"
  elif [ -e "$C/stopped" ]; then why="$name was stopped (peer failed)"
  else why="$name exited without a status (qemu exit ${qrc:-?})"; fi
  {
    if [ ! -e "$C/stopped" ]; then
      echo "----- $name: qemu stderr / console tail -----"
      cat "$C/qemu.err" 2>/dev/null; tail -n 30 "$C/console.log" 2>/dev/null
    fi
    echo "$PROG: $why (accel=$VM_ACCEL); no exit status"
  } >&2
  echo 255
}

vm_show_dmesg() {
  [ "$VM_VERBOSE" = 1 ] && [ -f "$1/dmesg.txt" ] && { echo "----- ${2:-guest} dmesg -----"; cat "$1/dmesg.txt"; } >&2
  return 0
}

# vm_cleanup RUNDIR: stop watchdogs and any QEMU still running, remove the run dir.
vm_cleanup() {
  local run=$1 c p
  for p in "${VM_WATCHDOGS[@]}"; do kill "$p" 2>/dev/null; done
  for c in "$run"/*/; do [ -d "$c" ] && vm_kill_qemu "$c"; done
  wait 2>/dev/null
  rm -rf "$run"
}

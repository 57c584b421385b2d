#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs an MPI program on NP ranks of this machine with Open MPI 4.1, quietly
# and without needing any network but loopback (meson suites 'examples' and
# 'rdma'; also handy by hand):
#
#   mpi-local.sh NP PROGRAM [ARGS...]
#
# MPI carries only the bootstrap here (netdirect carries the data), so Open
# MPI is kept to this host and to shared memory: no ssh (plm isolated), no
# network transports (pml ob1 with btl self,vader: nothing probes RDMA
# devices or NICs), no CMA single copy (needs ptrace rights that containers
# often lack), no core binding (the ranks busy-poll on a shared machine), and
# no help banners (-q: errors are the program's own lines). Any OMPI_MCA_*
# already set wins. Root is allowed when we are root.
#
# "@ADDR" in ARGS stands for $ND_TEST_ADDR (skip, exit 77, if unset). The
# run is killed after MPI_LOCAL_TIMEOUT seconds (default 120).
set -u

if [ $# -lt 2 ]; then
	echo "usage: mpi-local.sh NP PROGRAM [ARGS...]" >&2
	exit 2
fi
np=$1
shift

mpirun=${MPIRUN:-mpirun}
if ! command -v "$mpirun" >/dev/null 2>&1; then
	echo "mpi-local.sh: $mpirun not found (apt-get install openmpi-bin): skipped" >&2
	exit 77
fi

for a in "$@"; do
	shift
	case $a in
	*@ADDR*)
		if [ -z "${ND_TEST_ADDR:-}" ]; then
			echo "mpi-local.sh: ND_TEST_ADDR is not set: skipped" >&2
			exit 77
		fi
		a=$(printf '%s\n' "$a" | sed "s|@ADDR|$ND_TEST_ADDR|")
		;;
	esac
	set -- "$@" "$a"
done

export OMPI_MCA_plm="${OMPI_MCA_plm:-isolated}"
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
export OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader}"
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"
export OMPI_MCA_hwloc_base_binding_policy="${OMPI_MCA_hwloc_base_binding_policy:-none}"

root=
[ "$(id -u)" -eq 0 ] && root=--allow-run-as-root

limit=${MPI_LOCAL_TIMEOUT:-120}
timeout -k 5 "$limit" "$mpirun" -q $root --oversubscribe -np "$np" "$@"
rc=$?
[ $rc -eq 124 ] && echo "mpi-local.sh: timed out after ${limit}s" >&2
exit $rc

# SPDX-License-Identifier: GPL-2.0
# The daemon's core on the BPF LSM backends: run through the daemon and
# alone, status/stop, update under a connect loop, SIGKILL and adoption
# with its gap (the host tests, run in the guest; the protocol's own
# tests are host only).
source "$(dirname "$0")/../host/daemon.sh"

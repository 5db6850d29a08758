# SPDX-License-Identifier: GPL-2.0
# The network fence under the BPF LSM backends (6.1: no unix hooks, 6.12:
# all of them): the host tests, run in the guest.
source "$(dirname "$0")/../host/net.sh"

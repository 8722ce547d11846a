#!/bin/bash
# sync_kill9 over [sync] transport = tcp (the suite's other sync tests run over udp, the
# default): kill -9 of either side never loses or duplicates a case on the TCP path either.
SYNC_TRANSPORT=tcp exec bash "$(dirname "$0")/sync_kill9.sh"

#!/bin/bash
# sync_outage_resume over [sync] transport = tcp (the suite's other sync tests run over udp,
# the default): the TCP path keeps its resume-after-outage guarantee.
SYNC_TRANSPORT=tcp exec bash "$(dirname "$0")/sync_outage_resume.sh"

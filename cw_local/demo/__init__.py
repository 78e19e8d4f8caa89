"""The demo: the whole system on the local AWS emulator, through the production Lambda handler."""

from cw_local.demo.run import *  # noqa: F403

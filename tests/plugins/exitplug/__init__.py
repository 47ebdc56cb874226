"""A tiny broken plug-in: it calls ``sys.exit(0)`` when imported. Discovery must name it
and skip it, never end the command with status 0 having done nothing."""
import sys

sys.exit(0)

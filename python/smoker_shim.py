"""smokerd's Python shim entry point; the work is in smokerd_shim (compiled once at
extraction, so a run does not recompile it)."""
from smokerd_shim import main

main()
